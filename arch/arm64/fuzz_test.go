package arm64

import (
	"encoding/binary"
	"testing"

	"github.com/hvcicheck/hvcicheck/ir"
)

// FuzzLift checks, on any bytes, that Lift does not panic, that a success
// is one well-formed 4-byte instruction (every Insn at the RVA, Len on the
// last only, a control transfer only last, registers below NumRegs, widths
// the engine knows), and that the lift agrees with arm64asm (see compare).
func FuzzLift(f *testing.F) {
	for _, cases := range allCases {
		for _, c := range cases {
			f.Add(wordBytes(c.word), uint32(testRVA))
		}
	}
	if text := loadText(f); len(text) > 0 {
		for i := 0; i+4 <= len(text) && i < 1<<18; i += 4 * 97 {
			f.Add(text[i:i+4], uint32(0x1000+i))
		}
	}
	d := New(testBase, testSize)
	f.Fuzz(func(t *testing.T, code []byte, rva uint32) {
		out, n, err := d.Lift(code, rva, nil)
		if err != nil {
			if n != 0 || len(out) != 0 {
				t.Fatalf("% x: error %v with n=%d, %d insns", code, err, n, len(out))
			}
			return
		}
		if n != 4 || len(out) == 0 {
			t.Fatalf("% x: n=%d, %d insns", code, n, len(out))
		}
		checkWellFormed(t, code, rva, out)
		if msg := compare(d, binary.LittleEndian.Uint32(code)); msg != "" {
			t.Fatal(msg)
		}
	})
}

func checkWellFormed(t *testing.T, code []byte, rva uint32, out []ir.Insn) {
	t.Helper()
	okReg := func(r ir.Reg) bool { return r < NumRegs }
	okMem := func(m ir.Mem) bool {
		return (m.Base == ir.RegNone || okReg(m.Base)) && (m.Index == ir.RegNone || okReg(m.Index))
	}
	okOp := func(o ir.Operand) bool {
		switch o.Kind {
		case ir.KReg:
			return okReg(o.Reg)
		case ir.KMem, ir.KAddr:
			return okMem(o.Mem)
		}
		return true
	}
	for i, in := range out {
		last := i == len(out)-1
		bad := in.Addr != rva || (in.Len == 4) != last || !okOp(in.A) || !okOp(in.B) || !okOp(in.Target)
		switch in.Kind {
		case ir.Call, ir.Jump, ir.Branch, ir.Ret, ir.Halt:
			bad = bad || !last
		case ir.Assign:
			bad = bad || !okReg(in.Dst) || (in.Width != 4 && in.Width != 8)
		case ir.Store:
			bad = bad || !okMem(in.Mem) || in.Width == 0 || in.Width > 64
		case ir.Clobber:
			for _, r := range in.Regs {
				bad = bad || !okReg(r)
			}
			bad = bad || len(in.Regs) == 0 || cap(in.Regs) != len(in.Regs)
		}
		if bad {
			t.Fatalf("% x at %#x: malformed %s", code, rva, dump(out))
		}
	}
}
