package dataflow

import (
	"testing"

	"github.com/hvcicheck/hvcicheck/ir"
)

// targetOnlyEnv is toyEnv whose calls' effects depend on their target only.
type targetOnlyEnv struct{ toyEnv }

func (targetOnlyEnv) TargetOnly(*ir.Insn, *State) bool { return true }

// stateAtEnd runs block (tracked) from entry and returns the state before
// its last instruction (a Nop).
func stateAtEnd(t *testing.T, block []ir.Insn, env Env, entry Entry) *State {
	t.Helper()
	block = append(block, ir.Insn{Kind: ir.Nop})
	var atEnd *State
	RunTracked(nil, block, toyArch, env, entry, func(in *ir.Insn, st *State) {
		if in.Kind == ir.Nop {
			atEnd = st
		}
	})
	if atEnd == nil {
		t.Fatal("the visitor did not see the last instruction")
	}
	return atEnd
}

func spMem(disp int64) ir.Mem { return ir.Mem{Base: sp, Index: ir.RegNone, Disp: disp} }

// TestRunTrackedExactness: what a run computes from its own constants, from
// the seeds vouched for, from an unknown callee's result or from globals
// nothing stored to is the full analysis's value; what comes from a
// register no seed covers, a stack slot the run did not write, or memory a
// store through an unknown address may have reached is not.
func TestRunTrackedExactness(t *testing.T) {
	const g = 0x10000 + 0x2000 // a global's address
	block := []ir.Insn{
		mov(r0, ir.I(0x200)), // r0: a constant
		{Kind: ir.Store, Mem: spMem(0x28), A: ir.R(r0), Width: 4},
		op(ir.OpAdd, r2, ir.R(r3), ir.I(1), 8), // r2 from r3
		{Kind: ir.Assign, Op: ir.OpMov, Dst: r1, A: ir.M(spMem(0x28)), Width: 4},
	}
	st := stateAtEnd(t, block, toyEnv{}, Entry{})
	if !st.Exact(r0) || !st.Exact(r1) {
		t.Errorf("a constant and the slot the run wrote it to: exact %v %v, want both", st.Exact(r0), st.Exact(r1))
	}
	if st.Exact(r2) {
		t.Error("r2 = r3+1 with r3 unseeded: exact, want not")
	}
	if st.Exact(sp) {
		t.Error("the stack pointer of a block's own frame: exact, want not")
	}
	st = stateAtEnd(t, block, toyEnv{}, Entry{Exact: 1 << r3})
	if !st.Exact(r2) {
		t.Error("r2 = r3+1 with r3's unknown vouched for: not exact, want exact")
	}

	// A slot the run did not write holds what earlier blocks wrote.
	st = stateAtEnd(t, []ir.Insn{{Kind: ir.Assign, Op: ir.OpMov, Dst: r1, A: ir.M(spMem(0x40)), Width: 8}}, toyEnv{}, Entry{})
	if st.Exact(r1) {
		t.Error("a load of a slot no instruction of the run wrote: exact, want not")
	}

	// xor r1, r1 is zero, but the lattice computes it from r1 (front ends
	// lift it as a move of 0): with r1 unseeded it is not the full
	// analysis's value, which may know r1's bits.
	st = stateAtEnd(t, []ir.Insn{op(ir.OpXor, r1, ir.R(r1), ir.R(r1), 8)}, toyEnv{}, Entry{})
	if st.Exact(r1) {
		t.Error("xor r1, r1 with r1 unseeded: exact, want not")
	}
	// A write of the low byte keeps the others: a merge into an unseeded
	// register is not exact, even of a constant.
	st = stateAtEnd(t, []ir.Insn{{Kind: ir.Assign, Op: ir.OpMov, Dst: r1, A: ir.I(1), Width: 1, Mode: ir.Merge}}, toyEnv{}, Entry{})
	if st.Exact(r1) {
		t.Error("mov r1b, 1 into an unseeded r1: exact, want not")
	}

	// A call's result: exact where its effect depends on the target only.
	callBlock := []ir.Insn{call(0x50)}
	if st := stateAtEnd(t, callBlock, toyEnv{}, Entry{}); st.Exact(r0) {
		t.Error("the result of a call whose effect may read its unknown arguments: exact, want not")
	}
	if st := stateAtEnd(t, callBlock, targetOnlyEnv{}, Entry{}); !st.Exact(r0) || !st.Exact(r1) {
		t.Error("an unknown callee's result and the registers it clobbers: not exact, want exact")
	}

	// A store through an address that may differ may have reached any slot.
	clobbered := []ir.Insn{
		{Kind: ir.Store, Mem: spMem(0x28), A: ir.I(4), Width: 8},
		{Kind: ir.Store, Mem: ir.Mem{Base: r3, Index: ir.RegNone}, A: ir.I(0), Width: 8},
		{Kind: ir.Assign, Op: ir.OpMov, Dst: r1, A: ir.M(spMem(0x28)), Width: 8},
	}
	if st := stateAtEnd(t, clobbered, toyEnv{}, Entry{}); st.Exact(r1) {
		t.Error("a slot read after a store through an unseeded register: exact, want not")
	}

	// A global: exact where the function stores nothing there.
	load := []ir.Insn{{Kind: ir.Assign, Op: ir.OpMov, Dst: r1, A: ir.M(ir.Mem{Global: true, Disp: 0x2000, Base: ir.RegNone, Index: ir.RegNone}), Width: 8}}
	unchanged := func(addr uint64, w uint8) bool { return addr == g }
	if st := stateAtEnd(t, load, toyEnv{}, Entry{Unchanged: unchanged}); !st.Exact(r1) {
		t.Error("a global the function never stores to: not exact, want exact")
	}
	if st := stateAtEnd(t, load, toyEnv{}, Entry{}); st.Exact(r1) {
		t.Error("a global the function may store to: exact, want not")
	}

	// The function's own frame at its entry: an argument slot reads as the
	// argument.
	entryRegs := newEntryState(toyArch).regs
	st = stateAtEnd(t, nil, toyEnv{}, Entry{Regs: entryRegs, Exact: ^uint64(0)})
	if !st.ExactArgAt(toyArch.EntryStackArgOffset) {
		t.Error("an argument slot at the function's entry: not exact, want exact")
	}
	st = stateAtEnd(t, nil, toyEnv{}, Entry{})
	if st.ExactArgAt(0x30) {
		t.Error("an unwritten slot of a block's own frame: exact, want not")
	}
}
