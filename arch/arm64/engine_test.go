package arm64

import (
	"encoding/binary"
	"testing"

	"github.com/hvcicheck/hvcicheck/dataflow"
	"github.com/hvcicheck/hvcicheck/ir"
)

// wordEnv is a dataflow.Env over a function given as instruction words at
// RVA 0x1000 of an image that has nothing else.
type wordEnv []byte

func newWordEnv(words []uint32) wordEnv {
	b := make([]byte, 4*len(words))
	for i, w := range words {
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
	return b
}

func (e wordEnv) Code(rva uint32) []byte {
	if rva < testRVA || rva-testRVA >= uint32(len(e)) {
		return nil
	}
	return e[rva-testRVA:]
}
func (e wordEnv) ImageBase() uint64                                      { return testBase }
func (e wordEnv) SizeOfImage() uint32                                    { return testSize }
func (e wordEnv) LoadGlobal(uint32, uint8) dataflow.Value                { return dataflow.Unknown }
func (e wordEnv) LoadIndirect(dataflow.Sym, int64, uint8) dataflow.Value { return dataflow.Unknown }
func (e wordEnv) IsFunctionStart(uint32) bool                            { return false }
func (e wordEnv) CallEffect(*ir.Insn, *dataflow.State) (dataflow.Value, int64) {
	return dataflow.Unknown, 0
}

// TestEngineConvention runs the engine over a small ARM64 function and
// checks the arguments of its call: a register select, a movz/movk
// constant, clang's branch-free `(~(x << 8)) & 0x200`, a stack argument
// stored at [sp] and the caller's stack argument read back.
func TestEngineConvention(t *testing.T) {
	words := []uint32{
		0xd100c3ff, // sub sp, sp, #48
		0xa9027bfd, // stp x29, x30, [sp, #32]
		0x52800808, // mov w8, #64
		0xb90003e8, // str w8, [sp]
		0x7100001f, // cmp w0, #0
		0x52804009, // mov w9, #512
		0x1a8903e1, // csel w1, wzr, w9, eq
		0x5289c9e2, // mov w2, #0x4e4f
		0x72aa8b02, // movk w2, #0x5458, lsl #16
		0xb94033e3, // ldr w3, [sp, #48]: the caller's stack argument 8
		0x53185c04, // lsl w4, w0, #8
		0x2a2403e4, // mvn w4, w4
		0x12170084, // and w4, w4, #0x200
		0x94000040, // bl #0x100
		0xa9427bfd, // ldp x29, x30, [sp, #32]
		0x9100c3ff, // add sp, sp, #48
		0xd65f03c0, // ret
	}
	env := newWordEnv(words)
	var args []dataflow.Value
	var spAfter dataflow.Value
	fn := dataflow.Func{Start: testRVA, End: testRVA + uint32(4*len(words))}
	_, err := dataflow.Analyze(fn, New(testBase, testSize), env, dataflow.Limits{}, func(in *ir.Insn, st *dataflow.State) {
		switch in.Kind {
		case ir.Call:
			for i := 0; i < 9; i++ {
				args = append(args, st.Arg(i))
			}
		case ir.Ret:
			spAfter = st.Reg(SP)
		}
	})
	if err != nil || len(args) == 0 {
		t.Fatalf("err %v, %d args", err, len(args))
	}
	if cs, ok := args[1].Consts(); !ok || len(cs) != 2 || cs[0] != 0 || cs[1] != 0x200 {
		t.Errorf("csel argument = %v, want {0, 0x200}", args[1])
	}
	if c, ok := args[2].Const(); !ok || c != 0x54584e4f {
		t.Errorf("movz/movk argument = %v, want 0x54584e4f", args[2])
	}
	if s, and, or, ok := args[3].Symbol(); !ok || s != dataflow.Input(8) || and != 0xffffffff || or != 0 {
		t.Errorf("ldr [sp, #48] = %v, want the caller's stack argument 8", args[3])
	}
	if known, bits := args[4].KnownBits(); known != ^uint64(0x200) || bits != 0 {
		t.Errorf("(~(x << 8)) & 0x200 = %v, want bit 9 unknown, the rest 0", args[4])
	}
	if c, ok := args[8].Const(); !ok || c != 0x40 {
		t.Errorf("stack argument 8 = %v, want 0x40", args[8])
	}
	if off, ok := spAfter.Stack(); !ok || off != 0 {
		t.Errorf("sp at ret = %v, want the entry sp", spAfter)
	}
}
