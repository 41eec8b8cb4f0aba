package dataflow

import (
	"sort"

	"github.com/hvcicheck/hvcicheck/ir"
)

// slot is a stack slot's value and the width it was written with.
type slot struct {
	v Value
	w uint8
}

// State is the abstract machine state at one program point: every register
// and every stack slot (keyed by its offset from the entry stack pointer).
type State struct {
	arch  *ir.Arch
	env   Env
	regs  [ir.MaxRegs]Value
	stack map[int64]slot
	// mem holds what the function stored at constant addresses (globals)
	// since its last call: flow-sensitive, before the client's view.
	mem map[uint64]slot
	// pushed counts the bytes pushed since the last call (-1: unknown).
	pushed int64
}

func newEntryState(arch *ir.Arch) *State {
	st := &State{arch: arch, stack: map[int64]slot{}, mem: map[uint64]slot{}}
	for i, r := range arch.ArgRegs {
		st.regs[r] = Symbol(Input(i))
	}
	for _, r := range arch.RegInputs {
		st.regs[r] = Symbol(InputReg(int(r)))
	}
	st.regs[arch.SP] = StackAddr(0)
	return st
}

func (s *State) clone() *State {
	c := &State{arch: s.arch, env: s.env, regs: s.regs, pushed: s.pushed, stack: make(map[int64]slot, len(s.stack)), mem: make(map[uint64]slot, len(s.mem))}
	for k, v := range s.stack {
		c.stack[k] = v
	}
	for k, v := range s.mem {
		c.mem[k] = v
	}
	return c
}

// Reg returns a register's value.
func (s *State) Reg(r ir.Reg) Value {
	if int(r) >= len(s.regs) {
		return Unknown
	}
	return s.regs[r]
}

// SetReg sets a register's value.
func (s *State) SetReg(r ir.Reg, v Value) {
	if int(r) < len(s.regs) {
		s.regs[r] = v
	}
}

// LoadStack returns the value of w bytes at entry-SP + off. A slot never
// written in the function that lies in the caller's argument area reads as
// that argument's Input symbol.
func (s *State) LoadStack(off int64, w uint8) Value {
	if sl, ok := s.stack[off]; ok {
		if sl.w >= w {
			return Truncate(sl.v, w)
		}
		return Unknown
	}
	if s.overlapped(off, w) {
		return Unknown
	}
	a := s.arch
	ea := a.EntryStackArgOffset
	if off >= ea && (off-ea)%int64(a.PtrSize) == 0 && off-ea < 64*int64(a.PtrSize) {
		v := Symbol(Input(len(a.ArgRegs) + int((off-ea)/int64(a.PtrSize))))
		return Truncate(v, w)
	}
	return Unknown
}

// overlapped reports whether some slot other than the one at off overlaps
// [off, off+w).
func (s *State) overlapped(off int64, w uint8) bool {
	for k, sl := range s.stack {
		if k != off && k < off+int64(w) && off < k+int64(sl.w) {
			return true
		}
	}
	return false
}

// StoreStack writes w bytes at entry-SP + off; slots it overlaps are lost.
func (s *State) StoreStack(off int64, w uint8, v Value) {
	for k, sl := range s.stack {
		if k != off && k < off+int64(w) && off < k+int64(sl.w) {
			delete(s.stack, k)
		}
	}
	if old, ok := s.stack[off]; ok && old.w > w {
		// A narrow write into a wider slot: the slot's other bytes survive but
		// this engine keeps one value per slot, so the whole slot is lost.
		delete(s.stack, off)
		return
	}
	s.stack[off] = slot{v: Truncate(v, w), w: w}
}

// ForgetStackBelow drops every slot below entry-SP + off (memory a callee
// may have overwritten as its own frame).
func (s *State) ForgetStackBelow(off int64) {
	for k := range s.stack {
		if k < off {
			delete(s.stack, k)
		}
	}
}

// Arg returns the value of argument slot i at a call instruction.
func (s *State) Arg(i int) Value {
	r, off, inReg := s.arch.ArgSlot(i)
	if inReg {
		return s.Reg(r)
	}
	sp, ok := s.Reg(s.arch.SP).Stack()
	if !ok {
		return Unknown
	}
	return s.ArgAt(sp + off)
}

// ArgAt reads the stack argument slot at entry-SP + off. A slot written narrower than a
// pointer (mov dword ptr [rsp+0x28], 0x40 for a ULONG argument) reads as
// what was written: the callee reads no more of it.
func (s *State) ArgAt(off int64) Value {
	if sl, ok := s.stack[off]; ok && sl.w < uint8(s.arch.PtrSize) {
		return sl.v
	}
	return s.LoadStack(off, uint8(s.arch.PtrSize))
}

// join merges o into s, returning whether s changed. widen forces every slot
// that changes to Unknown, so loops terminate.
func (s *State) join(o *State, widen bool) bool {
	changed := false
	for i := range s.regs {
		j := Join(s.regs[i], o.regs[i])
		if !Equal(j, s.regs[i]) {
			if widen {
				j = Unknown
			}
			s.regs[i], changed = j, true
		}
	}
	for k, sl := range s.stack {
		ol, ok := o.stack[k]
		if !ok || ol.w != sl.w {
			// Unwritten on the other path: the slot holds what it held at
			// entry there, which this engine does not know here.
			if !sl.v.IsUnknown() {
				s.stack[k] = slot{v: Unknown, w: sl.w}
				changed = true
			}
			continue
		}
		j := Join(sl.v, ol.v)
		if !Equal(j, sl.v) {
			if widen {
				j = Unknown
			}
			s.stack[k] = slot{v: j, w: sl.w}
			changed = true
		}
	}
	for k, ol := range o.stack {
		if _, ok := s.stack[k]; !ok {
			s.stack[k] = slot{v: Unknown, w: ol.w}
			changed = true
		}
	}
	if s.pushed != o.pushed && s.pushed != -1 {
		s.pushed, changed = -1, true
	}
	return s.joinMem(o, widen) || changed
}

// joinMem merges the remembered global stores; where one side has none, it
// holds what the client says the global holds.
func (s *State) joinMem(o *State, widen bool) bool {
	changed := false
	for k, sl := range o.mem {
		if _, ok := s.mem[k]; !ok {
			s.mem[k] = slot{v: s.globalView(k, sl.w), w: sl.w}
			changed = true
		}
	}
	for k, sl := range s.mem {
		ol, ok := o.mem[k]
		if !ok || ol.w != sl.w {
			ol = slot{v: s.globalView(k, sl.w), w: sl.w}
		}
		j := Join(sl.v, ol.v)
		if !Equal(j, sl.v) {
			if widen {
				j = Unknown
			}
			s.mem[k] = slot{v: j, w: sl.w}
			changed = true
		}
	}
	return changed
}

// globalView is the client's value of a global not stored on this path.
func (s *State) globalView(addr uint64, w uint8) Value {
	if s.env == nil {
		return Unknown
	}
	base := s.env.ImageBase()
	if addr < base || addr-base >= uint64(s.env.SizeOfImage()) {
		return Unknown
	}
	return s.env.LoadGlobal(uint32(addr-base), w)
}

// StackOffsets returns the offsets of the known stack slots, sorted.
func (s *State) StackOffsets() []int64 {
	out := make([]int64, 0, len(s.stack))
	for k := range s.stack {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
