package dataflow

import "github.com/hvcicheck/hvcicheck/ir"

// Exactness. A block run alone (Run) starts from less than the full
// analysis knows at the block's start: registers no seed covers are
// unknown, the stack pointer is in a frame of the run's own, no stack slot
// or global written earlier in the function is known. A value the run
// computes is nevertheless the full analysis's own where it depends on none
// of that: constants, the seeds the caller vouches for, globals the
// function does not store to, a call's result that depends on its target
// only (an unknown callee's), a load through an address that is itself
// such a value (unknown in both analyses alike). A run started with
// Entry.Track follows which values are exact that way, so that a caller can
// take an unknown value as the full analysis's unknown too, instead of
// running the full analysis to find that out.

// Entry is where a tracked run starts (RunTracked).
type Entry struct {
	// Regs are the registers' values (indexed by register; nil, shorter
	// or Unknown: nothing known).
	Regs []Value
	// Exact has bit r set where Regs[r] is the value the full analysis has
	// at the run's start (an Unknown too: the full analysis knows no more
	// either). The stack pointer's bit says that the run's frame is the
	// function's (its first block, entered from the function's entry).
	Exact uint64
	// Unchanged reports whether no store of the function may reach the
	// global of w bytes at address addr before the run: a load there reads
	// the client's view in both analyses. nil: every global may have been
	// stored to.
	Unchanged func(addr uint64, w uint8) bool
}

// ExactCalls is implemented by an Env whose CallEffect depends, for some
// calls, on nothing but the call's target (an unknown callee's effect is
// nothing whatever the arguments): a tracked run then takes the result of
// such a call as exact where the target is. Without it, every call's
// effect is taken to depend on the arguments and memory too.
type ExactCalls interface {
	TargetOnly(in *ir.Insn, st *State) bool
}

// exactness is what a tracked run knows of its values' exactness.
type exactness struct {
	regs uint64 // registers whose value may differ from the full analysis's
	// mem is set once a store through an address that may differ has run:
	// it may have written any slot or global a later load reads.
	mem bool
	// pending is the inexactness of what a call's effect stores.
	pending   bool
	unchanged func(addr uint64, w uint8) bool
}

// RunTracked is RunIn from entry, tracking which values are exact (see
// State.Exact, State.ExactArgAt, State.ExactOperand).
func RunTracked(st *State, insns []ir.Insn, arch *ir.Arch, env Env, entry Entry, visit Visitor) *State {
	x := &exactness{regs: ^entry.Exact, unchanged: entry.Unchanged}
	return runIn(st, insns, arch, env, entry.Regs, x, visit)
}

// regInexact reports whether register r's value may differ.
func (x *exactness) regInexact(r ir.Reg) bool {
	return r != ir.RegNone && (r >= 64 || x.regs&(1<<r) != 0)
}

func (x *exactness) setReg(r ir.Reg, inexact bool) {
	if r == ir.RegNone || r >= 64 {
		return
	}
	if inexact {
		x.regs |= 1 << r
	} else {
		x.regs &^= 1 << r
	}
}

// addrInexact reports whether the address m computes may differ (a stack
// address is relative to the run's frame: its slots are the same relative
// to each other, but the address itself is not the full analysis's unless
// the frame is the function's).
func (x *exactness) addrInexact(m ir.Mem) bool {
	return !m.Global && (x.regInexact(m.Base) || x.regInexact(m.Index))
}

// operand reports whether op's value in s (with loads of w bytes) may
// differ from the full analysis's.
func (x *exactness) operand(s *State, op ir.Operand, w uint8) bool {
	switch op.Kind {
	case ir.KReg:
		return x.regInexact(op.Reg)
	case ir.KAddr:
		return x.addrInexact(op.Mem)
	case ir.KMem:
		return x.load(s, op.Mem, w)
	}
	return false
}

// load reports whether the value of w bytes at m may differ.
func (x *exactness) load(s *State, m ir.Mem, w uint8) bool {
	if x.mem {
		return true
	}
	if !m.Global && m.Base != ir.RegNone && m.Index == ir.RegNone {
		if _, _, ok := s.Reg(m.Base).Pointer(); ok {
			return x.regInexact(m.Base) // the client's view through a symbol
		}
	}
	addr := s.Addr(m)
	if off, ok := addr.Stack(); ok {
		// A slot this run wrote is the same slot in the full analysis;
		// any other holds what earlier blocks wrote.
		if sl, ok := s.stack.get(off); ok && sl.w >= w {
			return sl.inexact
		}
		return true
	}
	if x.addrInexact(m) {
		return true
	}
	if c, ok := addr.Const(); ok {
		if sl, ok := s.mem.get(int64(c)); ok && sl.w >= w {
			return sl.inexact
		}
		return s.mem.overlaps(int64(c), w) || x.unchanged == nil || !x.unchanged(c, w)
	}
	return false // an unknown address, unknown in both
}

// before computes, before in runs, the exactness of what it writes, and
// returns whether the value it stores (or the register it writes) may
// differ.
func (x *exactness) before(s *State, a *analysis, in *ir.Insn) bool {
	switch in.Kind {
	case ir.Assign:
		w := in.Width
		if w == 0 {
			w = uint8(a.arch.PtrSize)
		}
		// The values transfer functions compute from the operands (the
		// lattice's, not arithmetic's: xor of an unknown with itself is
		// unknown to it; front ends lift xor eax, eax as a move of 0).
		inexact := in.Op != ir.OpUnknown && (x.operand(s, in.A, memWidth(in, in.A, w)) || x.operand(s, in.B, memWidth(in, in.B, w)))
		// A write of the low bytes only (mov al, 1) keeps the others.
		return inexact || (in.Mode == ir.Merge && w < 8 && x.regInexact(in.Dst))
	case ir.Store:
		inexact := x.operand(s, in.A, in.Width)
		if off, ok := s.Addr(in.Mem).Stack(); ok {
			if old, ok := s.stack.get(off); ok && old.w > in.Width {
				inexact = inexact || old.inexact // StoreStack keeps its other bytes
			}
		}
		return inexact
	case ir.Call:
		inexact := x.operand(s, in.Target, uint8(a.arch.PtrSize))
		if ec, ok := a.env.(ExactCalls); !ok || !ec.TargetOnly(in, s) {
			inexact = inexact || x.mem || x.anySlotInexact(s)
			for _, r := range a.arch.ArgRegs {
				inexact = inexact || x.regInexact(r)
			}
		}
		x.pending = inexact
		return inexact
	}
	return false
}

// anySlotInexact reports whether a stack slot the run holds may differ.
func (x *exactness) anySlotInexact(s *State) bool {
	for _, c := range s.stack {
		if c.inexact {
			return true
		}
	}
	return false
}

// after records, once in has run, the exactness of what it wrote.
func (x *exactness) after(s *State, a *analysis, in *ir.Insn, inexact bool) {
	switch in.Kind {
	case ir.Assign:
		x.setReg(in.Dst, inexact)
	case ir.Store:
		addrInexact := x.addrInexact(in.Mem)
		addr := s.Addr(in.Mem)
		if off, ok := addr.Stack(); ok {
			s.stack.markInexact(off, inexact)
			return
		}
		if c, ok := addr.Const(); ok {
			s.mem.markInexact(int64(c), inexact || addrInexact)
		}
		if addrInexact {
			x.mem = true // it may have written anything a later load reads
		}
	case ir.Call:
		for _, r := range a.arch.CallerSaved {
			x.setReg(r, false) // unknown in both
		}
		x.setReg(a.arch.Ret, inexact)
		x.pending = false
	case ir.Clobber:
		for _, r := range in.Regs {
			x.setReg(r, false)
		}
	}
}

// markInexact records the exactness of the cell at `at`.
func (c cells) markInexact(at int64, inexact bool) {
	if i, ok := c.find(at); ok {
		c[i].inexact = inexact
	}
}

// Exact reports whether register r's value is the full analysis's (a
// tracked run; false otherwise).
func (s *State) Exact(r ir.Reg) bool {
	return s.exact != nil && !s.exact.regInexact(r)
}

// ExactArgAt reports whether the stack argument slot ArgAt(off) reads is
// the full analysis's (a tracked run; false otherwise).
func (s *State) ExactArgAt(off int64) bool {
	if s.exact == nil || s.exact.mem {
		return false
	}
	if sl, ok := s.stack.get(off); ok {
		return !sl.inexact
	}
	// A slot the run did not write: the function's argument, where the
	// run's frame is the function's and nothing ran before it.
	return s.Exact(s.arch.SP) && !s.stack.overlaps(off, uint8(s.arch.PtrSize))
}

// ExactOperand reports whether op's value (loads of w bytes) is the full
// analysis's (a tracked run; false otherwise).
func (s *State) ExactOperand(op ir.Operand, w uint8) bool {
	return s.exact != nil && !s.exact.operand(s, op, w)
}
