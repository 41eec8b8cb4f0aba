package dataflow

import "github.com/hvcicheck/hvcicheck/ir"

// runFrame is the stack offset a Run starts at: far below any frame a
// function sets up, so that no slot a run reads lies in the argument area
// and reads as an Input.
const runFrame = -1 << 40

// Run applies the transfer functions to insns, a straight run of lifted
// instructions that control enters only at the first (a basic block). It
// starts from a state that knows nothing of what ran before (every
// register unknown, the stack pointer in a frame of the run's own, no stack
// slot and no global written) but for the registers' values in entry
// (indexed by register; nil, shorter or Unknown: nothing known), which the
// caller knows hold on every path to the run. A stack address in entry for
// the stack pointer makes the run's frame the function's (EntryRegs, for
// the function's first block). A value Run computes is therefore one the
// instructions and entry determine whatever the path to them: where it is a
// constant, the one the full analysis finds. visit, when not nil, is called
// before each instruction with the state just before it; it must not retain
// st. Run returns the state after the last instruction.
func Run(insns []ir.Insn, arch *ir.Arch, env Env, entry []Value, visit Visitor) *State {
	return RunIn(nil, insns, arch, env, entry, visit)
}

// RunIn is Run computed in st, a state an earlier Run returned whose
// caller no longer uses it: its storage is reused (nil: a new state).
func RunIn(st *State, insns []ir.Insn, arch *ir.Arch, env Env, entry []Value, visit Visitor) *State {
	return runIn(st, insns, arch, env, entry, nil, visit)
}

func runIn(st *State, insns []ir.Insn, arch *ir.Arch, env Env, entry []Value, x *exactness, visit Visitor) *State {
	a := analysis{arch: arch, env: env}
	n := arch.NumRegs
	if n <= 0 || n > ir.MaxRegs {
		n = ir.MaxRegs
	}
	if st == nil || cap(st.regs) < n {
		st = &State{regs: make([]Value, n)}
	}
	stack, mem := st.stack[:0], st.mem[:0]
	if st.stackShared {
		stack = st.freeStack[:0]
	}
	if st.memShared {
		mem = st.freeMem[:0]
	}
	*st = State{arch: arch, env: env, regs: st.regs[:n], stack: stack, mem: mem, exact: x}
	clear(st.regs[copy(st.regs, entry):])
	if _, ok := st.Reg(arch.SP).Stack(); !ok {
		st.SetReg(arch.SP, StackAddr(runFrame))
	}
	for k := range insns {
		if visit != nil {
			visit(&insns[k], st)
		}
		a.step(st, insns, k)
	}
	return st
}

// EntryRegs returns the registers' values at a function's entry, where the
// full analysis starts: the argument registers and ir.Arch.RegInputs as
// their Input symbols, the stack pointer at offset 0 (so that the caller's
// argument slots read as Inputs), the others unknown.
func EntryRegs(arch *ir.Arch) []Value { return newEntryState(arch).regs }
