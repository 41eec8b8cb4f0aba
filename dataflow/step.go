package dataflow

import "github.com/hvcicheck/hvcicheck/ir"

// step applies insns[k], one lifted instruction of a block, to st.
func (a *analysis) step(st *State, insns []ir.Insn, k int) {
	in := &insns[k]
	st.env = a.env
	if x := st.exact; x != nil {
		inexact := x.before(st, a, in)
		a.apply(st, insns, k)
		x.after(st, a, in, inexact)
		return
	}
	a.apply(st, insns, k)
}

// apply applies insns[k] to st.
func (a *analysis) apply(st *State, insns []ir.Insn, k int) {
	in := &insns[k]
	switch in.Kind {
	case ir.Assign:
		if in.Dst == a.arch.SP {
			a.trackPushes(st, insns, k)
			return
		}
		a.assign(st, in)
	case ir.Store:
		v := Unknown
		if in.A.Kind != ir.KNone {
			v = st.Eval(in.A, in.Width)
		}
		addr := st.Addr(in.Mem)
		if off, ok := addr.Stack(); ok {
			st.StoreStack(off, in.Width, v)
		} else if c, ok := addr.Const(); ok {
			st.storeMem(c, in.Width, v)
		}
	case ir.Call:
		ret, pop := a.env.CallEffect(in, st)
		if pop < 0 {
			pop = a.inferPop(st, insns, k)
		}
		st.pushed = 0
		st.mem, st.memShared = nil, false // the callee may write any global
		for _, r := range a.arch.CallerSaved {
			st.SetReg(r, Unknown)
		}
		st.SetReg(a.arch.Ret, ret)
		if pop != 0 {
			st.SetReg(a.arch.SP, Binary(ir.OpAdd, st.Reg(a.arch.SP), Const(uint64(pop))))
		}
	case ir.Clobber:
		for _, r := range in.Regs {
			st.SetReg(r, Unknown)
		}
	}
}

// trackPushes applies a write of the stack pointer and counts the bytes
// pushed since the last call (the arguments of the next one): a push is a
// decrement followed by a store at the new top of the stack; any other
// write of the stack pointer (frame setup, alignment) starts the count
// again.
func (a *analysis) trackPushes(st *State, insns []ir.Insn, k int) {
	in := &insns[k]
	a.assign(st, in)
	isPush := in.Op == ir.OpSub && in.B.Kind == ir.KImm && k+1 < len(insns) &&
		insns[k+1].Kind == ir.Store && insns[k+1].Mem.Base == a.arch.SP && insns[k+1].Mem.Index == ir.RegNone && insns[k+1].Mem.Disp == 0
	switch {
	case isPush && st.pushed >= 0:
		st.pushed += in.B.Imm
	case in.Op == ir.OpAdd && in.B.Kind == ir.KImm && st.pushed >= in.B.Imm:
		st.pushed -= in.B.Imm // a pop
	default:
		st.pushed = 0
	}
}

// inferPop guesses how many argument bytes a callee the client does not
// know pops (32-bit stdcall): a compiler that stores arguments with mov
// re-reserves them right after the call (sub esp, n: the callee popped n);
// a cdecl call is followed by add esp, n (the callee popped nothing);
// otherwise the callee pops what was pushed since the last call.
func (a *analysis) inferPop(st *State, insns []ir.Insn, k int) int64 {
	if k+1 < len(insns) {
		next := &insns[k+1]
		if next.Kind == ir.Assign && next.Dst == a.arch.SP && next.A.Kind == ir.KReg && next.A.Reg == a.arch.SP && next.B.Kind == ir.KImm {
			switch next.Op {
			case ir.OpSub:
				return next.B.Imm
			case ir.OpAdd:
				return 0
			}
		}
	}
	return max(st.pushed, 0)
}

func (a *analysis) assign(st *State, in *ir.Insn) {
	w := in.Width
	if w == 0 {
		w = uint8(a.arch.PtrSize)
	}
	var v Value
	switch in.Op {
	case ir.OpUnknown:
		v = Unknown
	case ir.OpMov:
		v = st.Eval(in.A, memWidth(in, in.A, w))
	case ir.OpSext:
		sw := in.SrcWidth
		if sw == 0 {
			sw = w
		}
		v = SignExtend(st.Eval(in.A, sw), sw)
	case ir.OpSelect:
		v = Join(Truncate(st.Eval(in.A, memWidth(in, in.A, w)), w), Truncate(st.Eval(in.B, memWidth(in, in.B, w)), w))
	case ir.OpNot, ir.OpNeg:
		v = Unary(in.Op, Truncate(st.Eval(in.A, w), w))
	case ir.OpSar:
		// An arithmetic shift at Width shifts in the sign of bit 8*Width-1.
		a := SignExtend(Truncate(st.Eval(in.A, memWidth(in, in.A, w)), w), w)
		v = Binary(in.Op, a, Truncate(st.Eval(in.B, memWidth(in, in.B, w)), w))
	default:
		v = Binary(in.Op, Truncate(st.Eval(in.A, memWidth(in, in.A, w)), w), Truncate(st.Eval(in.B, memWidth(in, in.B, w)), w))
	}
	if in.Mode == ir.Merge && w < 8 {
		m := lowMask(w)
		old := Binary(ir.OpAnd, st.Reg(in.Dst), Const(^m))
		st.SetReg(in.Dst, Binary(ir.OpOr, old, Truncate(v, w)))
		return
	}
	st.SetReg(in.Dst, Truncate(v, w))
}

// memWidth is the width of a load in operand op: the instruction's
// SrcWidth (an instruction has at most one memory operand), else w.
func memWidth(in *ir.Insn, op ir.Operand, w uint8) uint8 {
	if op.Kind == ir.KMem && in.SrcWidth != 0 {
		return in.SrcWidth
	}
	return w
}

// Eval returns the value of an operand; w is the width of a memory load.
func (s *State) Eval(op ir.Operand, w uint8) Value {
	switch op.Kind {
	case ir.KReg:
		return s.Reg(op.Reg)
	case ir.KImm:
		return Const(uint64(op.Imm))
	case ir.KAddr:
		return s.Addr(op.Mem)
	case ir.KMem:
		return s.Load(op.Mem, w)
	}
	return Unknown
}

// Addr returns the address a memory operand computes: a stack address, a
// constant virtual address (image base + RVA for globals), or unknown.
func (s *State) Addr(m ir.Mem) Value {
	if m.Global {
		if s.env == nil {
			return Unknown
		}
		return Const(s.env.ImageBase() + uint64(m.Disp))
	}
	v := Const(0)
	if m.Base != ir.RegNone {
		v = s.Reg(m.Base)
	}
	if m.Index != ir.RegNone {
		idx := s.Reg(m.Index)
		if m.Scale > 1 {
			idx = Binary(ir.OpMul, idx, Const(uint64(m.Scale)))
		}
		v = Binary(ir.OpAdd, v, idx)
	}
	if m.Disp != 0 {
		v = Binary(ir.OpAdd, v, Const(uint64(m.Disp)))
	}
	return v
}

// Load returns the value of w bytes at the address m computes.
func (s *State) Load(m ir.Mem, w uint8) Value {
	if s.env == nil {
		return Unknown
	}
	if m.Global {
		return s.loadMem(s.env.ImageBase()+uint64(m.Disp), w)
	}
	if m.Base != ir.RegNone && m.Index == ir.RegNone {
		if sym, off, ok := s.Reg(m.Base).Pointer(); ok {
			return s.env.LoadIndirect(sym, off+m.Disp, w)
		}
	}
	addr := s.Addr(m)
	if off, ok := addr.Stack(); ok {
		return s.LoadStack(off, w)
	}
	if c, ok := addr.Const(); ok {
		return s.loadMem(c, w)
	}
	return Unknown
}

// loadMem reads w bytes at the constant address addr: what this path stored
// there, else the client's view of the global.
func (s *State) loadMem(addr uint64, w uint8) Value {
	if sl, ok := s.mem.get(int64(addr)); ok {
		if sl.w >= w {
			return Truncate(sl.v, w)
		}
		return Unknown
	}
	if s.mem.overlaps(int64(addr), w) {
		return Unknown
	}
	return s.globalView(addr, w)
}

// storeMem remembers a store of w bytes at the constant address addr.
func (s *State) storeMem(addr uint64, w uint8, v Value) {
	s.ownMem()
	s.mem.dropOverlaps(int64(addr), w)
	s.mem.set(int64(addr), slot{v: Truncate(v, w), w: w})
}
