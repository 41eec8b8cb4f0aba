package dataflow

import (
	"testing"

	"github.com/hvcicheck/hvcicheck/ir"
)

// Registers of the toy architecture the tests lift to.
const (
	r0 ir.Reg = iota
	r1
	r2
	r3
	sp
)

var toyArch = &ir.Arch{
	Name: "toy", PtrSize: 8, SP: sp, Ret: r0,
	ArgRegs: []ir.Reg{r1, r2}, CallerSaved: []ir.Reg{r0, r1, r2},
	StackArgOffset: 0x10, EntryStackArgOffset: 0x18,
	RegName: func(ir.Reg) string { return "r" },
}

// toy is a decoder over a program given as one ir.Insn per address (each
// instruction is one byte long).
type toy map[uint32]ir.Insn

func (t toy) Arch() *ir.Arch { return toyArch }

func (t toy) Lift(code []byte, rva uint32, out []ir.Insn) ([]ir.Insn, int, error) {
	in, ok := t[rva]
	if !ok {
		return out, 0, errToy
	}
	in.Addr = rva
	return append(out, in), 1, nil
}

type toyErr struct{}

func (toyErr) Error() string { return "no instruction" }

var errToy = toyErr{}

// toyEnv gives every address code and answers loads with fixed globals.
type toyEnv struct {
	globals map[uint32]Value
	pop     int64 // what CallEffect says the callee pops
}

func (e toyEnv) Code(rva uint32) []byte      { return []byte{0} }
func (e toyEnv) ImageBase() uint64           { return 0x10000 }
func (e toyEnv) SizeOfImage() uint32         { return 0x10000 }
func (e toyEnv) IsFunctionStart(uint32) bool { return false }
func (e toyEnv) LoadGlobal(rva uint32, w uint8) Value {
	if v, ok := e.globals[rva]; ok {
		return v
	}
	return Unknown
}
func (e toyEnv) LoadIndirect(Sym, int64, uint8) Value       { return Unknown }
func (e toyEnv) CallEffect(*ir.Insn, *State) (Value, int64) { return Unknown, e.pop }

func mov(dst ir.Reg, a ir.Operand) ir.Insn {
	return ir.Insn{Kind: ir.Assign, Op: ir.OpMov, Dst: dst, A: a, Width: 8}
}
func op(o ir.Op, dst ir.Reg, a, b ir.Operand, w uint8) ir.Insn {
	return ir.Insn{Kind: ir.Assign, Op: o, Dst: dst, A: a, B: b, Width: w}
}
func call(target int64) ir.Insn { return ir.Insn{Kind: ir.Call, Target: ir.I(target)} }
func jmp(t int64) ir.Insn       { return ir.Insn{Kind: ir.Jump, Target: ir.I(t)} }
func br(t int64) ir.Insn        { return ir.Insn{Kind: ir.Branch, Target: ir.I(t)} }
func ret() ir.Insn              { return ir.Insn{Kind: ir.Ret} }

// argsAtCalls runs prog from 0 and returns argument slot i at each call.
func argsAtCalls(t *testing.T, prog toy, env toyEnv, i int) []Value {
	t.Helper()
	var out []Value
	_, err := Analyze(Func{Start: 0, End: 0x100}, prog, env, Limits{}, func(in *ir.Insn, st *State) {
		if in.Kind == ir.Call {
			out = append(out, st.Arg(i))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestBranchesJoinIntoASet(t *testing.T) {
	prog := toy{
		0: br(3),
		1: mov(r1, ir.I(0)),
		2: jmp(4),
		3: mov(r1, ir.I(0x200)),
		4: call(0x50),
		5: ret(),
	}
	got := argsAtCalls(t, prog, toyEnv{}, 0)
	if len(got) != 1 {
		t.Fatalf("calls = %d", len(got))
	}
	cs, ok := got[0].Consts()
	if !ok || len(cs) != 2 || cs[0] != 0 || cs[1] != 0x200 {
		t.Fatalf("arg = %v, want {0,0x200}", got[0])
	}
}

func TestBranchFreeSelectLeavesOneBitUnknown(t *testing.T) {
	// r1 = (~(x << 8)) & 0x200 with x unknown (clang's select).
	prog := toy{
		0: mov(r1, ir.M(ir.Mem{Base: r3, Index: ir.RegNone})),
		1: op(ir.OpShl, r1, ir.R(r1), ir.I(8), 4),
		2: {Kind: ir.Assign, Op: ir.OpNot, Dst: r1, A: ir.R(r1), Width: 4},
		3: op(ir.OpAnd, r1, ir.R(r1), ir.I(0x200), 4),
		4: call(0x50),
		5: ret(),
	}
	got := argsAtCalls(t, prog, toyEnv{}, 0)[0]
	known, b := got.KnownBits()
	if known != ^uint64(0x200) || b != 0 {
		t.Fatalf("known=%#x bits=%#x, want all but 0x200 known and zero", known, b)
	}
}

func TestStackSlotsCarryArguments(t *testing.T) {
	// Store 0x40 to the third argument's stack slot, reload it through r0.
	prog := toy{
		0: op(ir.OpSub, sp, ir.R(sp), ir.I(0x40), 8),
		1: {Kind: ir.Store, Mem: ir.Mem{Base: sp, Index: ir.RegNone, Disp: 0x10}, A: ir.I(0x40), Width: 4},
		2: call(0x50),
		3: op(ir.OpAdd, sp, ir.R(sp), ir.I(0x40), 8),
		4: ret(),
	}
	got := argsAtCalls(t, prog, toyEnv{}, 2)[0]
	if c, ok := got.Const(); !ok || c != 0x40 {
		t.Fatalf("stack arg = %v, want 0x40", got)
	}
}

func TestInputsAreSymbolsWithTransforms(t *testing.T) {
	// The function forwards (param0 | 0x400) as the callee's argument 0.
	prog := toy{
		0: op(ir.OpOr, r1, ir.R(r1), ir.I(0x400), 4),
		1: call(0x50),
		2: ret(),
	}
	got := argsAtCalls(t, prog, toyEnv{}, 0)[0]
	s, and, or, ok := got.Symbol()
	if k, isIn := s.InputIndex(); !ok || !isIn || k != 0 || or != 0x400 || and != 0xffffffff&^0x400 {
		t.Fatalf("arg = %v, want (input0 & 0xfffffbff) | 0x400", got)
	}
	if c, _ := got.Apply(Const(0)).Const(); c != 0x400 {
		t.Fatalf("applied to 0 = %v, want 0x400", got.Apply(Const(0)))
	}
}

func TestCallsClobberCallerSavedRegisters(t *testing.T) {
	prog := toy{
		0: mov(r1, ir.I(7)),
		1: mov(r3, ir.I(9)),
		2: call(0x50),
		3: call(0x60),
		4: ret(),
	}
	var r1s, r3s []Value
	Analyze(Func{Start: 0, End: 0x100}, prog, toyEnv{}, Limits{}, func(in *ir.Insn, st *State) {
		if in.Kind == ir.Call {
			r1s, r3s = append(r1s, st.Reg(r1)), append(r3s, st.Reg(r3))
		}
	})
	if c, _ := r1s[0].Const(); c != 7 || !r1s[1].IsUnknown() {
		t.Fatalf("r1 = %v, %v; want 7 then unknown", r1s[0], r1s[1])
	}
	if c, _ := r3s[1].Const(); c != 9 {
		t.Fatalf("callee-saved r3 = %v, want 9", r3s[1])
	}
}

func TestLoopsTerminate(t *testing.T) {
	// r1 counts up forever in a loop; the analysis must still end.
	prog := toy{
		0: mov(r1, ir.I(0)),
		1: op(ir.OpAdd, r1, ir.R(r1), ir.I(1), 8),
		2: br(1),
		3: call(0x50),
		4: ret(),
	}
	got := argsAtCalls(t, prog, toyEnv{}, 0)
	if len(got) != 1 || !got[0].IsUnknown() {
		t.Fatalf("loop counter = %v, want unknown", got)
	}
}

func TestGlobalStoresAreSeenBeforeTheNextCall(t *testing.T) {
	g := ir.Mem{Global: true, Base: ir.RegNone, Index: ir.RegNone, Disp: 0x3000}
	prog := toy{
		0: {Kind: ir.Store, Mem: g, A: ir.I(0x200), Width: 4},
		1: {Kind: ir.Assign, Op: ir.OpMov, Dst: r1, A: ir.M(g), SrcWidth: 4, Width: 4},
		2: call(0x50),
		3: {Kind: ir.Assign, Op: ir.OpMov, Dst: r1, A: ir.M(g), SrcWidth: 4, Width: 4},
		4: call(0x50),
		5: ret(),
	}
	got := argsAtCalls(t, prog, toyEnv{globals: map[uint32]Value{0x3000: Const(0)}}, 0)
	if c, _ := got[0].Const(); c != 0x200 {
		t.Fatalf("after the store: %v, want 0x200", got[0])
	}
	if c, ok := got[1].Const(); !ok || c != 0 {
		t.Fatalf("after a call: %v, want the client's view 0", got[1])
	}
}

func TestUndecodableBytesEndThePath(t *testing.T) {
	prog := toy{0: mov(r1, ir.I(1)), 1: br(5), 2: call(0x50), 3: ret()}
	res, err := Analyze(Func{Start: 0, End: 0x100}, prog, toyEnv{}, Limits{}, nil)
	if err != nil || res.Undecodable != 1 {
		t.Fatalf("res = %+v, err = %v; want one undecodable path", res, err)
	}
}

func TestSwitchCasesAreReachedFromTheDispatch(t *testing.T) {
	// 0: r1 = 0x200; 1: jmp r2 (a jump table); 2: ret; case blocks at 3
	// and 5 are reached by no direct branch, and see the dispatch's state.
	prog := toy{
		0: mov(r1, ir.I(0x200)),
		1: {Kind: ir.Jump, Target: ir.R(r2)},
		2: {Kind: ir.Halt},
		3: call(0x50),
		4: ret(),
		5: mov(r1, ir.I(0)),
		6: call(0x50),
		7: ret(),
	}
	var got []Value
	_, err := Analyze(Func{Start: 0, End: 8}, prog, toyEnv{}, Limits{}, func(in *ir.Insn, st *State) {
		if in.Kind == ir.Call {
			got = append(got, st.Arg(0))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("calls seen = %d, want both cases", len(got))
	}
	if c, _ := got[0].Const(); c != 0x200 {
		t.Errorf("case 3 arg = %v, want the dispatch's 0x200", got[0])
	}
	if c, ok := got[1].Const(); !ok || c != 0 {
		t.Errorf("case 5 arg = %v, want 0", got[1])
	}
}

func TestUnknownCalleesPopWhatWasPushed(t *testing.T) {
	push := func(v int64) []ir.Insn {
		return []ir.Insn{
			op(ir.OpSub, sp, ir.R(sp), ir.I(8), 8),
			{Kind: ir.Store, Mem: ir.Mem{Base: sp, Index: ir.RegNone}, A: ir.I(v), Width: 8},
		}
	}
	local := ir.Mem{Base: sp, Index: ir.RegNone, Disp: 8}
	// One machine instruction per address; a push lifts to two Insns.
	prog := multi{
		0: {op(ir.OpSub, sp, ir.R(sp), ir.I(0x20), 8)},
		1: {{Kind: ir.Store, Mem: local, A: ir.I(0x40), Width: 8}},
		2: push(1),
		3: push(2),
		4: {call(0x50)},
		5: {{Kind: ir.Assign, Op: ir.OpMov, Dst: r1, A: ir.M(local), SrcWidth: 8, Width: 8}},
		6: {call(0x60)},
		7: {ret()},
	}
	var got []Value
	_, err := Analyze(Func{Start: 0, End: 8}, prog, toyEnv{pop: -1}, Limits{}, func(in *ir.Insn, st *State) {
		if in.Kind == ir.Call {
			got = append(got, st.Reg(r1))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := got[1].Const(); !ok || c != 0x40 {
		t.Fatalf("local after the call = %v, want 0x40 (the callee popped both pushes)", got[1])
	}
}

// multi is a toy decoder whose instructions lift to several Insns.
type multi map[uint32][]ir.Insn

func (m multi) Arch() *ir.Arch { return toyArch }

func (m multi) Lift(code []byte, rva uint32, out []ir.Insn) ([]ir.Insn, int, error) {
	ins, ok := m[rva]
	if !ok {
		return out, 0, errToy
	}
	for _, in := range ins {
		in.Addr = rva
		out = append(out, in)
	}
	return out, 1, nil
}

func TestArithmeticShiftAtWidth4KeepsTheSign(t *testing.T) {
	prog := toy{
		0: {Kind: ir.Assign, Op: ir.OpMov, Dst: r1, A: ir.I(0x80000000), Width: 4},
		1: op(ir.OpSar, r1, ir.R(r1), ir.I(4), 4),
		2: call(0x50),
		3: ret(),
	}
	got := argsAtCalls(t, prog, toyEnv{}, 0)[0]
	if c, ok := got.Const(); !ok || c != 0xf8000000 {
		t.Fatalf("sar eax, 4 of 0x80000000 = %v, want 0xf8000000", got)
	}
}

// TestFirstInstructionSeesGlobals: the visitor of a function's very first
// instruction (a thunk's `jmp [slot]`) reads globals as every later one
// does, though no step has run yet.
func TestFirstInstructionSeesGlobals(t *testing.T) {
	slot := ir.Mem{Global: true, Disp: 0x2000, Base: ir.RegNone, Index: ir.RegNone}
	prog := toy{0: {Kind: ir.Jump, Target: ir.M(slot)}}
	env := toyEnv{globals: map[uint32]Value{0x2000: Const(0x12345)}}
	var got []Value
	_, err := Analyze(Func{Start: 0, End: 1}, prog, env, Limits{}, func(in *ir.Insn, st *State) {
		got = append(got, st.Load(in.Target.Mem, 8))
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("visited %d instructions, want 1", len(got))
	}
	if c, ok := got[0].Const(); !ok || c != 0x12345 {
		t.Errorf("the slot at the first instruction = %v, want 0x12345", got[0])
	}
}
