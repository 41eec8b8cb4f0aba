package callsite

import (
	"github.com/hvcicheck/hvcicheck/dataflow"
	"github.com/hvcicheck/hvcicheck/ir"
)

// maxArgs is how many argument slots a call event records.
const maxArgs = 12

// callEvent is one call (or tail jump) with the values at the call.
type callEvent struct {
	site   uint32
	tail   bool
	target dataflow.Value
	args   [maxArgs]dataflow.Value
	// exact has bit i set where args[i] is the full analysis's value (a
	// quick pass's run that tracks it; dataflow.Entry), bit maxArgs where
	// target is.
	exact uint16
	// regs holds every register for indirect calls, so a call through a
	// dispatch stub (`jmp rax`) can take its real target from them, and for
	// every call where registers carry arguments of internal functions
	// (ir.Arch.RegInputs).
	regs []dataflow.Value
}

// storeEvent is one store to image memory.
type storeEvent struct {
	rva   uint32
	width uint8
	value dataflow.Value
}

// funcInfo is the memo of one analysed function.
type funcInfo struct {
	fn     dataflow.Func
	calls  []callEvent
	stores []storeEvent
	res    dataflow.Result
	err    error
	busy   bool // being analysed (a global resolution reached it again)
}

// analyze runs the data flow over the function starting at start, once.
func (im *image) analyze(start uint32) *funcInfo {
	if fi, ok := im.funcMemo[start]; ok {
		return fi
	}
	fn, ok := im.funcAt(start)
	if !ok || fn.Start != start {
		fn = dataflow.Func{Start: start}
	}
	fi := &funcInfo{fn: fn}
	im.funcMemo[start] = fi
	if im.budget <= 0 {
		im.stats.Truncated = true
		return fi
	}
	im.budget--
	fi.busy = true
	defer func() { fi.busy = false }()
	fi.calls = im.ws.takeEvents()
	fi.res, fi.err = dataflow.Analyze(fn, im.dec, im, im.opts.Engine, func(in *ir.Insn, st *dataflow.State) {
		im.visit(fi, in, st)
	})
	fi.calls = im.ws.keepEvents(fi.calls)
	im.stats.Functions++
	im.stats.Instructions += fi.res.Insns
	if fi.res.Truncated {
		im.stats.Truncated = true
	}
	return fi
}

// visit records the calls, tail calls and image stores of a function.
func (im *image) visit(fi *funcInfo, in *ir.Insn, st *dataflow.State) {
	switch in.Kind {
	case ir.Call:
		im.recordCall(fi, in, st, false)
	case ir.Jump:
		if im.isTailJump(fi.fn, in) {
			im.recordCall(fi, in, st, true)
		}
	case ir.Store:
		addr := st.Addr(in.Mem)
		c, ok := addr.Const()
		if !ok || c < im.base || c-im.base >= uint64(im.size) {
			return
		}
		v := dataflow.Unknown
		if in.A.Kind != ir.KNone {
			v = st.Eval(in.A, in.Width)
		}
		fi.stores = append(fi.stores, storeEvent{rva: uint32(c - im.base), width: in.Width, value: v})
	}
}

// isTailJump reports whether a jump leaves the function: to a known
// function start, outside the function's extent, or through a pointer.
func (im *image) isTailJump(fn dataflow.Func, in *ir.Insn) bool {
	if in.Target.Kind != ir.KImm {
		return true
	}
	t := uint32(in.Target.Imm)
	if t == fn.Start {
		return false
	}
	if fn.End != 0 {
		return t < fn.Start || t >= fn.End
	}
	return im.starts[t] || t < fn.Start
}

func (im *image) recordCall(fi *funcInfo, in *ir.Insn, st *dataflow.State, tail bool) {
	ev := callEvent{site: in.Addr, tail: tail}
	switch in.Target.Kind {
	case ir.KImm:
		ev.target = dataflow.Const(im.base + uint64(uint32(in.Target.Imm)))
	case ir.KReg:
		ev.target = st.Reg(in.Target.Reg)
	case ir.KMem:
		ev.target = st.Load(in.Target.Mem, uint8(im.arch.PtrSize))
	}
	if st.ExactOperand(in.Target, uint8(im.arch.PtrSize)) {
		ev.exact |= 1 << maxArgs
	}
	for i := range ev.args {
		var exact bool
		ev.args[i], exact = im.argAt(st, i, tail)
		if exact {
			ev.exact |= 1 << i
		}
	}
	if len(im.arch.RegInputs) > 0 || (in.Target.Kind != ir.KImm && !im.namesImport(ev.target)) {
		ev.regs = im.ws.values.alloc(st.NumRegs())
		st.CopyRegs(ev.regs)
	}
	fi.calls = append(fi.calls, ev)
}

// namesImport reports whether v is an import's address (or another symbol
// but a global's value): its callee does not depend on the registers.
func (im *image) namesImport(v dataflow.Value) bool {
	s, off, ok := v.Pointer()
	if !ok || off != 0 {
		return false
	}
	info, ok := im.symInfo(s)
	return ok && info.kind != symGlobal
}

// argAt returns argument slot i at a call, and whether it is the full
// analysis's value (a tracked run); at a tail jump the return address is
// not pushed, so stack arguments sit one slot lower.
func (im *image) argAt(st *dataflow.State, i int, tail bool) (dataflow.Value, bool) {
	r, off, inReg := im.arch.ArgSlot(i)
	if inReg {
		return st.Reg(r), st.Exact(r)
	}
	sp, ok := st.Reg(im.arch.SP).Stack()
	if !ok {
		return dataflow.Unknown, false
	}
	if tail {
		off += im.arch.EntryStackArgOffset - im.arch.StackArgOffset
	}
	return st.ArgAt(sp + off), st.ExactArgAt(sp + off)
}
