package dataflow

import "github.com/hvcicheck/hvcicheck/ir"

// State is the abstract machine state at one program point: every register
// and every stack slot (keyed by its offset from the entry stack pointer).
type State struct {
	arch  *ir.Arch
	env   Env
	regs  []Value
	stack cells
	// mem holds what the function stored at constant addresses (globals)
	// since its last call: flow-sensitive, before the client's view.
	mem cells
	// pushed counts the bytes pushed since the last call (-1: unknown).
	pushed int64
	// stackShared and memShared say that stack or mem is shared with
	// another state (copy on write: most edges change neither).
	stackShared, memShared bool
	// freeStack and freeMem are storage of this state's own that no state
	// refers to any more, for its next copy on write.
	freeStack, freeMem cells
	// exact follows, in a tracked run, which values are the full
	// analysis's (nil otherwise).
	exact *exactness
}

func newEntryState(arch *ir.Arch) *State {
	n := arch.NumRegs
	if n <= 0 || n > ir.MaxRegs {
		n = ir.MaxRegs
	}
	st := &State{arch: arch, regs: make([]Value, n)}
	for i, r := range arch.ArgRegs {
		st.SetReg(r, Symbol(Input(i)))
	}
	for _, r := range arch.RegInputs {
		st.SetReg(r, Symbol(InputReg(int(r))))
	}
	st.SetReg(arch.SP, StackAddr(0))
	return st
}

func (s *State) clone() *State { return s.cloneInto(nil) }

// Detach makes s refer to no environment, for a caller that keeps it to
// run again (RunIn) after the environment it ran in is gone.
func (s *State) Detach() { s.env, s.exact = nil, nil }

// cloneInto makes dst (a new state when nil) a copy of s, reusing dst and
// its register storage, and returns it. The slots are shared, copied on
// write.
func (s *State) cloneInto(dst *State) *State {
	s.stackShared, s.memShared = true, true
	if dst == nil {
		dst = &State{}
	}
	regs := dst.regs[:0]
	if cap(regs) < len(s.regs) {
		regs = make([]Value, 0, len(s.regs))
	}
	freeStack, freeMem := dst.freeStack, dst.freeMem
	if !dst.stackShared && cap(dst.stack) > cap(freeStack) {
		freeStack = dst.stack // its own (a shared one is flagged so)
	}
	if !dst.memShared && cap(dst.mem) > cap(freeMem) {
		freeMem = dst.mem
	}
	*dst = State{arch: s.arch, env: s.env, regs: append(regs, s.regs...), pushed: s.pushed,
		stack: s.stack, mem: s.mem, stackShared: true, memShared: true,
		freeStack: freeStack[:0], freeMem: freeMem[:0]}
	return dst
}

// ownStack and ownMem make s the only owner of its slots before a write.
func (s *State) ownStack() {
	if s.stackShared {
		s.stack, s.stackShared = s.stack.cloneInto(s.freeStack), false
		s.freeStack = nil
	}
}

func (s *State) ownMem() {
	if s.memShared {
		s.mem, s.memShared = s.mem.cloneInto(s.freeMem), false
		s.freeMem = nil
	}
}

// Reg returns a register's value.
func (s *State) Reg(r ir.Reg) Value {
	if int(r) >= len(s.regs) {
		return Unknown
	}
	return s.regs[r]
}

// Regs returns a copy of every register's value, indexed by register.
func (s *State) Regs() []Value { return append([]Value(nil), s.regs...) }

// NumRegs is how many registers Regs returns.
func (s *State) NumRegs() int { return len(s.regs) }

// CopyRegs copies the registers' values into dst (as many as fit) and
// returns how many it copied: Regs into the caller's storage.
func (s *State) CopyRegs(dst []Value) int { return copy(dst, s.regs) }

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
	if sl, ok := s.stack.get(off); ok {
		if sl.w >= w {
			return Truncate(sl.v, w)
		}
		return Unknown
	}
	if s.stack.overlaps(off, w) {
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

// StoreStack writes w bytes at entry-SP + off; the other slots it overlaps
// become unknown (kept, not dropped: a dropped slot in the caller's argument
// area would read as the argument again).
func (s *State) StoreStack(off int64, w uint8, v Value) {
	s.ownStack()
	s.stack.forgetOverlaps(off, w)
	if old, ok := s.stack.get(off); ok && old.w > w {
		// A narrow write into a wider slot: the slot's other bytes survive.
		m := lowMask(w)
		v, w = Binary(ir.OpOr, Binary(ir.OpAnd, old.v, Const(^m)), Truncate(v, w)), old.w
	}
	s.stack.set(off, slot{v: Truncate(v, w), w: w, inexact: s.exact != nil && s.exact.pending})
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
	if sl, ok := s.stack.get(off); ok && sl.w < uint8(s.arch.PtrSize) {
		return sl.v
	}
	return s.LoadStack(off, uint8(s.arch.PtrSize))
}

// join merges o into s, returning whether s changed. widen forces every slot
// that changes to Unknown, so loops terminate.
func (s *State) join(o *State, widen bool) bool {
	changed := false
	for i := range s.regs {
		if Equal(s.regs[i], o.regs[i]) {
			continue
		}
		j := Join(s.regs[i], o.regs[i])
		if !Equal(j, s.regs[i]) {
			if widen {
				j = Unknown
			}
			s.regs[i], changed = j, true
		}
	}
	unknown := func(int64, uint8) Value { return Unknown }
	if cellsChange(s.stack, o.stack, widen, unknown) {
		s.ownStack()
		joinCells(&s.stack, o.stack, widen, unknown)
		changed = true
	}
	if s.pushed != o.pushed && s.pushed != -1 {
		s.pushed, changed = -1, true
	}
	return s.joinMem(o, widen) || changed
}

// joinMem merges the remembered global stores. A global stored on one
// path only is forgotten: a load then reads the client's view of the global,
// which covers every value the image stores there (this store included), so
// `if (version >= 6.2) g = NonPagedPoolNx; … use g` reads as g's values, not
// as the join of 0x200 with an unresolved symbol.
func (s *State) joinMem(o *State, widen bool) bool {
	changed := false
	for _, x := range s.mem {
		if ol, ok := o.mem.get(x.at); !ok || ol.w != x.w {
			changed = true
		}
	}
	keep := func(at int64, w uint8) bool {
		ol, ok := o.mem.get(at)
		return ok && ol.w == w
	}
	if changed {
		s.ownMem()
		out := s.mem[:0]
		for _, x := range s.mem {
			if keep(x.at, x.w) {
				out = append(out, x)
			}
		}
		s.mem = out
	}
	view := func(at int64, w uint8) Value { return s.globalView(uint64(at), w) }
	common := func(c cells) cells { // o's cells that s has too
		var out cells
		for _, x := range c {
			if _, ok := s.mem.get(x.at); ok {
				out = append(out, x)
			}
		}
		return out
	}
	oc := common(o.mem)
	if !cellsChange(s.mem, oc, widen, view) {
		return changed
	}
	s.ownMem()
	return joinCells(&s.mem, oc, widen, view) || changed
}

// cellsChange reports whether joinCells(&c, o, …) would change c.
func cellsChange(c, o cells, widen bool, absent func(int64, uint8) Value) bool {
	for _, x := range o {
		if _, ok := c.get(x.at); !ok {
			return true
		}
	}
	for _, x := range c {
		ol, ok := o.get(x.at)
		if !ok || ol.w != x.w {
			ol = slot{v: absent(x.at, x.w), w: x.w}
		}
		if !Equal(Join(x.v, ol.v), x.v) {
			return true
		}
	}
	return false
}

// joinCells merges o into *c; a cell present on one side only joins with
// what absent returns for it (its value where it was not written).
func joinCells(c *cells, o cells, widen bool, absent func(int64, uint8) Value) bool {
	changed := false
	for _, x := range o {
		if _, ok := c.get(x.at); !ok {
			c.set(x.at, slot{v: absent(x.at, x.w), w: x.w})
			changed = true
		}
	}
	for i := range *c {
		x := &(*c)[i]
		ol, ok := o.get(x.at)
		if !ok || ol.w != x.w {
			ol = slot{v: absent(x.at, x.w), w: x.w}
		}
		j := Join(x.v, ol.v)
		if !Equal(j, x.v) {
			if widen {
				j = Unknown
			}
			x.v, changed = j, true
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
	out := make([]int64, len(s.stack))
	for i, x := range s.stack {
		out[i] = x.at
	}
	return out
}
