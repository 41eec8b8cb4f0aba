package dataflow

import "github.com/hvcicheck/hvcicheck/ir"

// step applies one lifted instruction to st.
func (a *analysis) step(st *State, in *ir.Insn) {
	st.env = a.env
	switch in.Kind {
	case ir.Assign:
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
		clear(st.mem) // the callee may write any global
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
	if sl, ok := s.mem[addr]; ok {
		if sl.w >= w {
			return Truncate(sl.v, w)
		}
		return Unknown
	}
	for k, sl := range s.mem {
		if k < addr+uint64(w) && addr < k+uint64(sl.w) {
			return Unknown
		}
	}
	return s.globalView(addr, w)
}

// storeMem remembers a store of w bytes at the constant address addr.
func (s *State) storeMem(addr uint64, w uint8, v Value) {
	for k, sl := range s.mem {
		if k != addr && k < addr+uint64(w) && addr < k+uint64(sl.w) {
			delete(s.mem, k)
		}
	}
	s.mem[addr] = slot{v: Truncate(v, w), w: w}
}
