package arm64

import (
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/hvcicheck/hvcicheck/ir"
)

// The instruction words below were assembled with
// `llvm-mc --triple=aarch64 -mattr=+v8.5a,+lse,+rcpc,+rcpc-immo,+pauth,+crc --show-encoding`;
// the unpredictable ones llvm-mc refuses were encoded by hand.

const (
	testRVA  = 0x1000
	testBase = 0x140000000
	testSize = 0x100000
)

var none2 = ir.Operand{}

// Builders of expected instructions; Addr and Len are filled in by the test.
func asg(dst ir.Reg, w uint8, op ir.Op, a, b ir.Operand) ir.Insn {
	return ir.Insn{Kind: ir.Assign, Op: op, Dst: dst, A: a, B: b, Width: w, Mode: ir.ZeroExtend}
}

func mov(dst ir.Reg, w uint8, a ir.Operand) ir.Insn { return asg(dst, w, ir.OpMov, a, none2) }
func unk(dst ir.Reg, w uint8) ir.Insn               { return asg(dst, w, ir.OpUnknown, none2, none2) }

func ld(dst ir.Reg, w uint8, m ir.Mem, size uint8) ir.Insn {
	in := mov(dst, w, ir.M(m))
	in.SrcWidth = size
	return in
}

func lds(dst ir.Reg, w uint8, m ir.Mem, size uint8) ir.Insn {
	in := asg(dst, w, ir.OpSext, ir.M(m), none2)
	in.SrcWidth = size
	return in
}

func sx(dst ir.Reg, w uint8, a ir.Operand, size uint8) ir.Insn {
	in := asg(dst, w, ir.OpSext, a, none2)
	in.SrcWidth = size
	return in
}

func st(m ir.Mem, a ir.Operand, w uint8) ir.Insn {
	return ir.Insn{Kind: ir.Store, Mem: m, A: a, Width: w}
}

func clob(rs ...ir.Reg) ir.Insn   { return ir.Insn{Kind: ir.Clobber, Regs: rs} }
func kind(k ir.Kind) ir.Insn      { return ir.Insn{Kind: k} }
func call(t ir.Operand) ir.Insn   { return ir.Insn{Kind: ir.Call, Target: t} }
func jump(t ir.Operand) ir.Insn   { return ir.Insn{Kind: ir.Jump, Target: t} }
func branch(t ir.Operand) ir.Insn { return ir.Insn{Kind: ir.Branch, Target: t} }

func rm(base ir.Reg, disp int64) ir.Mem { return ir.Mem{Base: base, Index: ir.RegNone, Disp: disp} }
func idx(base, index ir.Reg, scale uint8) ir.Mem {
	return ir.Mem{Base: base, Index: index, Scale: scale}
}
func glob(rva int64) ir.Mem {
	return ir.Mem{Base: ir.RegNone, Index: ir.RegNone, Disp: rva, Global: true}
}

var (
	R, I, A = ir.R, ir.I, ir.A
	nop     = kind(ir.Nop)
	halt    = kind(ir.Halt)
	ret     = kind(ir.Ret)
	x0to17  = []ir.Reg{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}
)

type liftCase struct {
	asm  string
	word uint32
	want []ir.Insn
}

func ins(in ...ir.Insn) []ir.Insn { return in }

var moveCases = []liftCase{
	{"mov x0, #0x200", 0xd2804000, ins(mov(0, 8, I(0x200)))},
	{"mov w1, #0x12340000", 0x52a24681, ins(mov(1, 4, I(0x12340000)))},
	{"movn x2, #0", 0x92800002, ins(mov(2, 8, I(-1)))},
	{"movn w3, #0", 0x12800003, ins(mov(3, 4, I(0xffffffff)))},
	{"movk x4, #0xbeef, lsl #16", 0xf2b7dde4, ins(asg(4, 8, ir.OpAnd, R(4), I(^0xffff0000)), asg(4, 8, ir.OpOr, R(4), I(0xbeef0000)))},
	{"movk w5, #1", 0x72800025, ins(asg(5, 4, ir.OpAnd, R(5), I(0xffff0000)), asg(5, 4, ir.OpOr, R(5), I(1)))},
	{"mov x6, x7", 0xaa0703e6, ins(mov(6, 8, R(7)))},
	{"mov w6, w7", 0x2a0703e6, ins(mov(6, 4, R(7)))},
	{"mov x8, xzr", 0xaa1f03e8, ins(mov(8, 8, I(0)))},
	{"mov w8, #512", 0x52804008, ins(mov(8, 4, I(512)))},
	{"mov x29, sp", 0x910003fd, ins(mov(29, 8, R(SP)))},
	{"mov wzr, #1 (movz to the zero register)", 0x5280003f, ins(nop)},
}

var logicalCases = []liftCase{
	{"orr x9, x10, #0xff00", 0xb2781d49, ins(asg(9, 8, ir.OpOr, R(10), I(0xff00)))},
	{"and w11, w12, #1", 0x1200018b, ins(asg(11, 4, ir.OpAnd, R(12), I(1)))},
	{"eor x13, x14, #1<<63", 0xd24101cd, ins(asg(13, 8, ir.OpXor, R(14), I(math.MinInt64)))},
	{"ands x15, x16, #3", 0xf240060f, ins(asg(15, 8, ir.OpAnd, R(16), I(3)))},
	{"tst w1, #4", 0x721e003f, ins(nop)},
	{"and sp, x8, #-16", 0x927ced1f, ins(asg(SP, 8, ir.OpAnd, R(8), I(-16)))},
	{"orr x0, x1, x2", 0xaa020020, ins(asg(0, 8, ir.OpOr, R(1), R(2)))},
	{"orr w0, wzr, w1, lsl #8", 0x2a0123e0, ins(asg(0, 4, ir.OpShl, R(1), I(8)))},
	{"orr x3, x4, x5, lsl #4", 0xaa051083, ins(asg(3, 8, ir.OpShl, R(5), I(4)), asg(3, 8, ir.OpOr, R(4), R(3)))},
	{"orr x3, x3, x5, lsl #4 (Rd == Rn)", 0xaa051063, ins(clob(3))},
	{"orr x3, x4, x5, ror #4", 0xaac51083, ins(clob(3))},
	{"bic w6, w7, w8", 0x0a2800e6, ins(asg(6, 4, ir.OpNot, R(8), none2), asg(6, 4, ir.OpAnd, R(7), R(6)))},
	{"orn x0, x1, x2", 0xaa220020, ins(asg(0, 8, ir.OpNot, R(2), none2), asg(0, 8, ir.OpOr, R(1), R(0)))},
	{"mvn w1, w2", 0x2a2203e1, ins(asg(1, 4, ir.OpNot, R(2), none2))},
	{"eon x3, x4, x5", 0xca250083, ins(asg(3, 8, ir.OpXor, R(4), R(5)), asg(3, 8, ir.OpNot, R(3), none2))},
	{"and x0, x1, xzr", 0x8a1f0020, ins(asg(0, 8, ir.OpAnd, R(1), I(0)))},
	{"eor x0, x1, x2, asr #3", 0xca820c20, ins(asg(0, 8, ir.OpSar, R(2), I(3)), asg(0, 8, ir.OpXor, R(1), R(0)))},
	{"eor w0, w1, w2, asr #3", 0x4a820c20, ins(sx(0, 8, R(2), 4), asg(0, 8, ir.OpSar, R(0), I(3)), mov(0, 4, R(0)), asg(0, 4, ir.OpXor, R(1), R(0)))},
}

var addSubCases = []liftCase{
	{"add x0, x1, #16", 0x91004020, ins(asg(0, 8, ir.OpAdd, R(1), I(16)))},
	{"add w0, w1, #1, lsl #12", 0x11400420, ins(asg(0, 4, ir.OpAdd, R(1), I(0x1000)))},
	{"sub sp, sp, #64", 0xd10103ff, ins(asg(SP, 8, ir.OpSub, R(SP), I(64)))},
	{"cmp x0, #5", 0xf100141f, ins(nop)},
	{"subs x1, x2, #5", 0xf1001441, ins(asg(1, 8, ir.OpSub, R(2), I(5)))},
	{"add x0, x1, x2", 0x8b020020, ins(asg(0, 8, ir.OpAdd, R(1), R(2)))},
	{"add x0, x1, x2, lsl #3", 0x8b020c20, ins(asg(0, 8, ir.OpShl, R(2), I(3)), asg(0, 8, ir.OpAdd, R(1), R(0)))},
	{"add x0, x0, x2, lsl #3 (Rd == Rn: an address computation)", 0x8b020c00, ins(mov(0, 8, A(idx(0, 2, 8))))},
	{"sub x0, x0, x2, lsl #3 (Rd == Rn)", 0xcb020c00, ins(clob(0))},
	{"sub x0, x1, x2, lsr #3", 0xcb420c20, ins(asg(0, 8, ir.OpShr, R(2), I(3)), asg(0, 8, ir.OpSub, R(1), R(0)))},
	{"neg x0, x1", 0xcb0103e0, ins(asg(0, 8, ir.OpNeg, R(1), none2))},
	{"neg w0, w1, lsl #2", 0x4b010be0, ins(asg(0, 4, ir.OpShl, R(1), I(2)), asg(0, 4, ir.OpNeg, R(0), none2))},
	{"cmp w0, w1", 0x6b01001f, ins(nop)},
	{"add x0, x1, w2, uxtw", 0x8b224020, ins(asg(0, 8, ir.OpAnd, R(2), I(0xffffffff)), asg(0, 8, ir.OpAdd, R(1), R(0)))},
	{"add x0, x1, w2, sxtw #2", 0x8b22c820, ins(sx(0, 8, R(2), 4), asg(0, 8, ir.OpShl, R(0), I(2)), asg(0, 8, ir.OpAdd, R(1), R(0)))},
	{"add x0, x0, w2, sxtw #2 (Rd == Rn)", 0x8b22c800, ins(clob(0))},
	{"add x0, sp, x2", 0x8b2263e0, ins(asg(0, 8, ir.OpAdd, R(SP), R(2)))},
	{"add x0, x0, x2, uxtx #2", 0x8b226800, ins(mov(0, 8, A(idx(0, 2, 4))))},
	{"sub sp, sp, x15, uxtx #4", 0xcb2f73ff, ins(clob(SP))},
	{"adc x0, x1, x2", 0x9a020020, ins(clob(0))},
	{"ccmp x0, #3, #0, ne", 0xfa431800, ins(nop)},
}

var bitfieldCases = []liftCase{
	{"lsl x0, x1, #4", 0xd37cec20, ins(asg(0, 8, ir.OpShl, R(1), I(4)))},
	{"lsr w0, w1, #4", 0x53047c20, ins(asg(0, 4, ir.OpShr, R(1), I(4)))},
	{"asr x0, x1, #63", 0x937ffc20, ins(asg(0, 8, ir.OpSar, R(1), I(63)))},
	{"asr w0, w1, #31", 0x131f7c20, ins(asg(0, 8, ir.OpShl, R(1), I(32)), asg(0, 8, ir.OpSar, R(0), I(63)), mov(0, 4, R(0)))},
	{"ubfx x0, x1, #4, #8", 0xd3442c20, ins(asg(0, 8, ir.OpShr, R(1), I(4)), asg(0, 8, ir.OpAnd, R(0), I(0xff)))},
	{"ubfiz w0, w1, #9, #1", 0x53170020, ins(asg(0, 4, ir.OpAnd, R(1), I(1)), asg(0, 4, ir.OpShl, R(0), I(9)))},
	{"uxtb w0, w1", 0x53001c20, ins(asg(0, 4, ir.OpAnd, R(1), I(0xff)))},
	{"uxth w0, w1", 0x53003c20, ins(asg(0, 4, ir.OpAnd, R(1), I(0xffff)))},
	{"sxtb x0, w1", 0x93401c20, ins(sx(0, 8, R(1), 1))},
	{"sxth w0, w1", 0x13003c20, ins(sx(0, 4, R(1), 2))},
	{"sxtw x0, w1", 0x93407c20, ins(sx(0, 8, R(1), 4))},
	{"sbfx x0, x1, #4, #8", 0x93442c20, ins(asg(0, 8, ir.OpShl, R(1), I(52)), asg(0, 8, ir.OpSar, R(0), I(56)))},
	{"sbfiz w0, w1, #2, #3", 0x131e0820, ins(asg(0, 8, ir.OpShl, R(1), I(61)), asg(0, 8, ir.OpSar, R(0), I(61)), asg(0, 4, ir.OpShl, R(0), I(2)))},
	{"bfi w0, w1, #9, #1", 0x33170020, ins(asg(0, 4, ir.OpAnd, R(0), I(0xfffffdff)), asg(0, 4, ir.OpSelect, R(0), A(rm(0, 0x200))))},
	{"bfxil x0, x1, #0, #2", 0xb3400420, ins(asg(0, 8, ir.OpAnd, R(0), I(^3)), asg(0, 8, ir.OpSelect, R(0), A(rm(0, 1))), asg(0, 8, ir.OpSelect, R(0), A(rm(0, 2))))},
	{"bfc w0, #8, #4", 0x33180fe0, ins(asg(0, 4, ir.OpAnd, R(0), I(0xfffff0ff)))},
	{"bfi x0, x1, #8, #16 (a wide field)", 0xb3783c20, ins(clob(0))},
	{"extr x0, x1, x2, #8", 0x93c22020, ins(clob(0))},
	{"extr w0, w1, w2, #0", 0x13820020, ins(mov(0, 4, R(2)))},
	{"ror x0, x1, #3", 0x93c10c20, ins(clob(0))},
}

var selectMulCases = []liftCase{
	{"csel x0, x1, x2, eq", 0x9a820020, ins(asg(0, 8, ir.OpSelect, R(1), R(2)))},
	{"csel w0, w1, wzr, ne", 0x1a9f1020, ins(asg(0, 4, ir.OpSelect, R(1), I(0)))},
	{"csinc x0, x1, x2, lt", 0x9a82b420, ins(asg(0, 8, ir.OpSelect, R(1), A(rm(2, 1))))},
	{"cset w0, eq", 0x1a9f17e0, ins(asg(0, 4, ir.OpSelect, I(0), I(1)))},
	{"csetm x0, ne", 0xda9f03e0, ins(asg(0, 8, ir.OpSelect, I(0), I(-1)))},
	{"cinc w0, w1, ge", 0x1a81b420, ins(asg(0, 4, ir.OpSelect, R(1), A(rm(1, 1))))},
	{"csinv x0, x1, x2, eq", 0xda820020, ins(asg(0, 8, ir.OpNot, R(2), none2), asg(0, 8, ir.OpSelect, R(1), R(0)))},
	{"csneg w0, w1, w2, mi", 0x5a824420, ins(asg(0, 4, ir.OpNeg, R(2), none2), asg(0, 4, ir.OpSelect, R(1), R(0)))},
	{"cneg x0, x0, mi (Rd == Rn)", 0xda805400, ins(clob(0))},
	{"mul x0, x1, x2", 0x9b027c20, ins(asg(0, 8, ir.OpMul, R(1), R(2)))},
	{"madd w0, w1, w2, w3", 0x1b020c20, ins(asg(0, 4, ir.OpMul, R(1), R(2)), asg(0, 4, ir.OpAdd, R(3), R(0)))},
	{"msub x0, x1, x2, x3", 0x9b028c20, ins(asg(0, 8, ir.OpMul, R(1), R(2)), asg(0, 8, ir.OpSub, R(3), R(0)))},
	{"mneg x0, x1, x2", 0x9b02fc20, ins(asg(0, 8, ir.OpMul, R(1), R(2)), asg(0, 8, ir.OpSub, I(0), R(0)))},
	{"madd x0, x1, x2, x0 (Ra == Rd)", 0x9b020020, ins(clob(0))},
	{"umull x0, w1, w2", 0x9ba27c20, ins(clob(0))},
	{"smulh x0, x1, x2", 0x9b427c20, ins(clob(0))},
	{"udiv w0, w1, w2", 0x1ac20820, ins(unk(0, 4))},
	{"lsl x0, x1, x2", 0x9ac22020, ins(asg(0, 8, ir.OpShl, R(1), R(2)))},
	{"lsr w0, w1, w2", 0x1ac22420, ins(asg(0, 8, ir.OpAnd, R(2), I(31)), asg(0, 4, ir.OpShr, R(1), R(0)))},
	{"lsl w0, w0, w2 (Rd == Rn)", 0x1ac22000, ins(asg(0, 4, ir.OpShl, R(0), R(2)))},
	{"asr x0, x1, x2", 0x9ac22820, ins(asg(0, 8, ir.OpSar, R(1), R(2)))},
	{"asr w0, w1, w2", 0x1ac22820, ins(unk(0, 4))},
	{"ror x0, x1, x2", 0x9ac22c20, ins(clob(0))},
	{"rev x0, x1", 0xdac00c20, ins(clob(0))},
	{"clz w0, w1", 0x5ac01020, ins(unk(0, 4))},
}

var pcRelCases = []liftCase{
	{"adr x0, #0x40", 0x10000200, ins(mov(0, 8, A(glob(0x1040))))},
	{"adrp x1, #0x3000", 0xf0000001, ins(mov(1, 8, A(glob(0x4000))))},
	{"adrp x1, #-0x1000", 0xf0ffffe1, ins(mov(1, 8, A(glob(0))))},
	{"ldr x0, #0x100", 0x58000800, ins(ld(0, 8, glob(0x1100), 8))},
	{"ldr w0, #-4", 0x18ffffe0, ins(ld(0, 4, glob(0xffc), 4))},
	{"ldrsw x0, #8", 0x98000040, ins(lds(0, 8, glob(0x1008), 4))},
	{"prfm pldl1keep, #8", 0xd8000040, ins(nop)},
}

var loadCases = []liftCase{
	{"ldr x0, [x1]", 0xf9400020, ins(ld(0, 8, rm(1, 0), 8))},
	{"ldr w0, [x1, #8]", 0xb9400820, ins(ld(0, 4, rm(1, 8), 4))},
	{"ldrb w0, [x1, #3]", 0x39400c20, ins(ld(0, 4, rm(1, 3), 1))},
	{"ldrh w0, [sp, #2]", 0x794007e0, ins(ld(0, 4, rm(SP, 2), 2))},
	{"ldrsb x0, [x1]", 0x39800020, ins(lds(0, 8, rm(1, 0), 1))},
	{"ldrsb w0, [x1]", 0x39c00020, ins(lds(0, 4, rm(1, 0), 1))},
	{"ldrsh x0, [x1, #4]", 0x79800820, ins(lds(0, 8, rm(1, 4), 2))},
	{"ldrsw x0, [x1, #4]", 0xb9800420, ins(lds(0, 8, rm(1, 4), 4))},
	{"ldur x0, [x1, #-8]", 0xf85f8020, ins(ld(0, 8, rm(1, -8), 8))},
	{"ldr x0, [x1, #16]!", 0xf8410c20, ins(ld(0, 8, rm(1, 16), 8), asg(1, 8, ir.OpAdd, R(1), I(16)))},
	{"ldr x0, [x1], #16", 0xf8410420, ins(ld(0, 8, rm(1, 0), 8), asg(1, 8, ir.OpAdd, R(1), I(16)))},
	{"ldr x1, [x1, #8]! (unpredictable)", 0xf8408c21, ins(clob(1))},
	{"ldr x0, [x1, x2]", 0xf8626820, ins(ld(0, 8, idx(1, 2, 1), 8))},
	{"ldr x0, [x1, x2, lsl #3]", 0xf8627820, ins(ld(0, 8, idx(1, 2, 8), 8))},
	{"ldr w0, [x1, w2, uxtw #2]", 0xb8625820, ins(ld(0, 4, idx(1, 2, 4), 4))},
	{"ldrb w0, [x1, w2, sxtw]", 0x3862c820, ins(ld(0, 4, idx(1, 2, 1), 1))},
	{"prfm pldl1keep, [x0]", 0xf9800000, ins(nop)},
	{"ldp x29, x30, [sp], #16", 0xa8c17bfd, ins(ld(29, 8, rm(SP, 0), 8), ld(30, 8, rm(SP, 8), 8), asg(SP, 8, ir.OpAdd, R(SP), I(16)))},
	{"ldp x0, x1, [x0] (the base loaded last)", 0xa9400400, ins(ld(1, 8, rm(0, 8), 8), ld(0, 8, rm(0, 0), 8))},
	{"ldp x1, x0, [x0, #16]", 0xa9410001, ins(ld(1, 8, rm(0, 16), 8), ld(0, 8, rm(0, 24), 8))},
	{"ldpsw x0, x1, [x2]", 0x69400440, ins(lds(0, 8, rm(2, 0), 4), lds(1, 8, rm(2, 4), 4))},
	{"ldp x0, x0, [x1] (unpredictable)", 0xa9400020, ins(clob(0))},
	{"ldp x0, x1, [x0], #16 (unpredictable)", 0xa8c10400, ins(clob(0), clob(1), clob(0))},
	{"ldnp x0, x1, [x2]", 0xa8400440, ins(ld(0, 8, rm(2, 0), 8), ld(1, 8, rm(2, 8), 8))},
	{"ldp d8, d9, [sp], #16", 0x6cc127e8, ins(asg(SP, 8, ir.OpAdd, R(SP), I(16)))},
	{"ldr q0, [x0], #16", 0x3cc10400, ins(asg(0, 8, ir.OpAdd, R(0), I(16)))},
	{"ld1 {v0.16b}, [x0], #16", 0x4cdf7000, ins(asg(0, 8, ir.OpAdd, R(0), I(16)))},
	{"ld1r {v0.4s}, [x0], #4", 0x4ddfc800, ins(asg(0, 8, ir.OpAdd, R(0), I(4)))},
	{"ldapur x0, [x1, #-8]", 0xd95f8020, ins(ld(0, 8, rm(1, -8), 8))},
	{"ldraa x0, [x1, #8]", 0xf8201420, ins(ld(0, 8, rm(1, 8), 8))},
	{"ldrab x0, [x1, #-16]!", 0xf8ffec20, ins(ld(0, 8, rm(1, -16), 8), asg(1, 8, ir.OpAdd, R(1), I(-16)))},
}

var storeCases = []liftCase{
	{"str x0, [sp, #8]", 0xf90007e0, ins(st(rm(SP, 8), R(0), 8))},
	{"str wzr, [x1]", 0xb900003f, ins(st(rm(1, 0), I(0), 4))},
	{"strb w0, [x1, #1]", 0x39000420, ins(st(rm(1, 1), R(0), 1))},
	{"strh w0, [x1, #2]!", 0x78002c20, ins(st(rm(1, 2), R(0), 2), asg(1, 8, ir.OpAdd, R(1), I(2)))},
	{"stur x0, [x29, #-16]", 0xf81f03a0, ins(st(rm(29, -16), R(0), 8))},
	{"str x0, [x1], #-8", 0xf81f8420, ins(st(rm(1, 0), R(0), 8), asg(1, 8, ir.OpAdd, R(1), I(-8)))},
	{"str x0, [x1, x2, lsl #3]", 0xf8227820, ins(st(idx(1, 2, 8), R(0), 8))},
	{"stp x29, x30, [sp, #-16]!", 0xa9bf7bfd, ins(st(rm(SP, -16), R(29), 8), st(rm(SP, -8), R(30), 8), asg(SP, 8, ir.OpAdd, R(SP), I(-16)))},
	{"stp w0, w1, [x2, #8]", 0x29010440, ins(st(rm(2, 8), R(0), 4), st(rm(2, 12), R(1), 4))},
	{"stp xzr, xzr, [sp, #16]", 0xa9017fff, ins(st(rm(SP, 16), I(0), 8), st(rm(SP, 24), I(0), 8))},
	{"stp q0, q1, [sp, #-32]!", 0xadbf07e0, ins(st(rm(SP, -32), none2, 32), asg(SP, 8, ir.OpAdd, R(SP), I(-32)))},
	{"str q0, [x0, #16]", 0x3d800400, ins(st(rm(0, 16), none2, 16))},
	{"str d0, [sp, #8]", 0xfd0007e0, ins(st(rm(SP, 8), none2, 8))},
	{"st1 {v0.4s, v1.4s}, [x1]", 0x4c00a820, ins(st(rm(1, 0), none2, 32))},
	{"st1 {v0.s}[1], [x2], x3", 0x0d839040, ins(st(rm(2, 0), none2, 4), asg(2, 8, ir.OpAdd, R(2), R(3)))},
	{"stlur w0, [x1, #4]", 0x99004020, ins(st(rm(1, 4), R(0), 4))},
}

var atomicCases = []liftCase{
	{"ldxr x0, [x1]", 0xc85f7c20, ins(ld(0, 8, rm(1, 0), 8))},
	{"ldaxr w0, [x1]", 0x885ffc20, ins(ld(0, 4, rm(1, 0), 4))},
	{"stxr w2, x0, [x1]", 0xc8027c20, ins(st(rm(1, 0), none2, 8), asg(2, 4, ir.OpSelect, I(0), I(1)))},
	{"stlxr w2, w0, [x1]", 0x8802fc20, ins(st(rm(1, 0), none2, 4), asg(2, 4, ir.OpSelect, I(0), I(1)))},
	{"ldxp x0, x1, [x2]", 0xc87f0440, ins(ld(0, 8, rm(2, 0), 8), ld(1, 8, rm(2, 8), 8))},
	{"stxp w3, x0, x1, [x2]", 0xc8230440, ins(st(rm(2, 0), none2, 16), asg(3, 4, ir.OpSelect, I(0), I(1)))},
	{"ldar x0, [x1]", 0xc8dffc20, ins(ld(0, 8, rm(1, 0), 8))},
	{"stlr w0, [x1]", 0x889ffc20, ins(st(rm(1, 0), R(0), 4))},
	{"ldadd x0, x1, [x2]", 0xf8200041, ins(st(rm(2, 0), none2, 8), clob(1))},
	{"ldaddal w0, w1, [sp]", 0xb8e003e1, ins(st(rm(SP, 0), none2, 4), unk(1, 4))},
	{"stadd w0, [x2]", 0xb820005f, ins(st(rm(2, 0), none2, 4))},
	{"ldclr w0, w1, [x2]", 0xb8201041, ins(st(rm(2, 0), none2, 4), unk(1, 4))},
	{"ldset x0, x1, [x2]", 0xf8203041, ins(st(rm(2, 0), none2, 8), clob(1))},
	{"swp x0, x1, [x2]", 0xf8208041, ins(st(rm(2, 0), R(0), 8), clob(1))},
	{"swpal w0, wzr, [x2]", 0xb8e0805f, ins(st(rm(2, 0), R(0), 4))},
	{"cas x0, x1, [x2]", 0xc8a07c41, ins(st(rm(2, 0), none2, 8), clob(0))},
	{"casal w0, w1, [x2]", 0x88e0fc41, ins(st(rm(2, 0), none2, 4), unk(0, 4))},
	{"casp x0, x1, x2, x3, [x4]", 0x48207c82, ins(st(rm(4, 0), none2, 16), clob(0), clob(1))},
	{"ldapr x0, [x1]", 0xf8bfc020, ins(ld(0, 8, rm(1, 0), 8))},
	{"ldaprb w0, [x1]", 0x38bfc020, ins(ld(0, 4, rm(1, 0), 1))},
}

var branchCases = []liftCase{
	{"b #0x100", 0x14000040, ins(jump(I(0x1100)))},
	{"b #-8", 0x17fffffe, ins(jump(I(0xff8)))},
	{"bl #0x2000", 0x94000800, ins(call(I(0x3000)))},
	{"b.ne #0x10", 0x54000081, ins(branch(I(0x1010)))},
	{"cbz w0, #-0x20", 0x34ffff00, ins(branch(I(0xfe0)))},
	{"cbnz x1, #8", 0xb5000041, ins(branch(I(0x1008)))},
	{"tbz w0, #3, #0x10", 0x36180080, ins(branch(I(0x1010)))},
	{"tbnz x0, #63, #-4", 0xb7ffffe0, ins(branch(I(0xffc)))},
	{"br x16", 0xd61f0200, ins(jump(R(16)))},
	{"blr x8", 0xd63f0100, ins(call(R(8)))},
	{"ret", 0xd65f03c0, ins(ret)},
	{"ret x1", 0xd65f0020, ins(ret)},
	{"retaa", 0xd65f0bff, ins(ret)},
	{"braaz x16", 0xd61f0a1f, ins(jump(R(16)))},
	{"blraa x8, x9", 0xd73f0909, ins(call(R(8)))},
	{"blraaz x8", 0xd63f091f, ins(call(R(8)))},
	{"braa x1, sp", 0xd71f083f, ins(jump(R(1)))},
	{"br xzr", 0xd61f03e0, ins(jump(none2))},
	{"eret", 0xd69f03e0, ins(halt)},
}

var systemCases = []liftCase{
	{"brk #1", 0xd4200020, ins(halt)},
	{"brk #0xf000 (__debugbreak)", 0xd43e0000, ins(halt)},
	{"brk #0xf001 (assertion)", 0xd43e0020, ins(nop)},
	{"brk #0xf002 (debug service)", 0xd43e0040, ins(clob(x0to17...))},
	{"brk #0xf003 (__fastfail)", 0xd43e0060, ins(halt)},
	{"udf #0", 0x00000000, ins(halt)},
	{"hlt #0", 0xd4400000, ins(halt)},
	{"svc #0", 0xd4000001, ins(clob(x0to17...))},
	{"hvc #0", 0xd4000002, ins(clob(x0to17...))},
	{"smc #1", 0xd4000023, ins(clob(x0to17...))},
	{"nop", 0xd503201f, ins(nop)},
	{"yield", 0xd503203f, ins(nop)},
	{"bti c", 0xd503245f, ins(nop)},
	{"paciasp", 0xd503233f, ins(clob(X30))},
	{"autiasp", 0xd50323bf, ins(clob(X30))},
	{"pacia1716", 0xd503211f, ins(clob(X17))},
	{"xpaclri", 0xd50320ff, ins(clob(X30))},
	{"dmb ish", 0xd5033bbf, ins(nop)},
	{"isb", 0xd5033fdf, ins(nop)},
	{"mrs x0, midr_el1", 0xd5380000, ins(clob(0))},
	{"mrs xzr, midr_el1", 0xd538001f, ins(nop)},
	{"msr sctlr_el1, x0", 0xd5181000, ins(nop)},
	{"msr daifset, #2", 0xd50342df, ins(nop)},
	{"ic iallu", 0xd5087500, ins(nop)},
	{"sysl x0, #0, c7, c5, #0", 0xd5287500, ins(clob(0))},
	{"ic ialluis", 0xd508711f, ins(nop)},
	{"at s1e1r, x0", 0xd5087800, ins(nop)},
	{"dc civac, x0", 0xd50b7e20, ins(nop)},
	{"tlbi vmalle1is", 0xd508831f, ins(nop)},
}

var simdCases = []liftCase{
	{"fmov x0, d0", 0x9e660000, ins(clob(0))},
	{"fmov w0, s0", 0x1e260000, ins(unk(0, 4))},
	{"fmov d0, x0", 0x9e670000, ins(nop)},
	{"fcvtzs w0, d1", 0x1e780020, ins(unk(0, 4))},
	{"fcvtzs x0, s1, #4", 0x9e18f020, ins(clob(0))},
	{"scvtf d0, x1", 0x9e620020, ins(nop)},
	{"umov w0, v0.s[1]", 0x0e0c3c00, ins(clob(0))},
	{"smov x0, v0.h[2]", 0x4e0a2c00, ins(clob(0))},
	{"mov v0.16b, v1.16b", 0x4ea11c20, ins(nop)},
	{"fadd d0, d1, d2", 0x1e622820, ins(nop)},
	{"add v0.4s, v1.4s, v2.4s", 0x4ea28420, ins(nop)},
}

var allCases = [][]liftCase{moveCases, logicalCases, addSubCases, bitfieldCases, selectMulCases,
	pcRelCases, loadCases, storeCases, atomicCases, branchCases, systemCases, simdCases}

func wordBytes(w uint32) []byte {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], w)
	return b[:]
}

func TestLift(t *testing.T) {
	d := New(testBase, testSize)
	for _, cases := range allCases {
		for _, c := range cases {
			got, n, err := d.Lift(wordBytes(c.word), testRVA, nil)
			if err != nil || n != 4 {
				t.Errorf("%s (%08x): n=%d err=%v", c.asm, c.word, n, err)
				continue
			}
			want := append([]ir.Insn(nil), c.want...)
			for i := range want {
				want[i].Addr = testRVA
			}
			want[len(want)-1].Len = 4
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s (%08x):\ngot  %s\nwant %s", c.asm, c.word, dump(got), dump(want))
			}
		}
	}
}

func TestLiftErrors(t *testing.T) {
	d := New(testBase, testSize)
	for _, c := range []struct {
		name string
		code []byte
	}{
		{"truncated", []byte{0x1f, 0x20, 0x03}},
		{"empty", nil},
		{"reserved group 0000 beyond udf", wordBytes(0x00010000)},
		{"SVE add z0.s, z0.s, z0.s", wordBytes(0x04a00000)},
		{"memory tagging stg", wordBytes(0xd9200800)},
		{"memory copy cpyfp", wordBytes(0x19000400)},
		{"stgp", wordBytes(0x69000400)},
		{"logical immediate of all ones", wordBytes(0x1200ddff)},
		{"32-bit logical immediate with N set", wordBytes(0x12400000)},
		{"movz with opc 01", wordBytes(0x32800000)},
		{"add extended with shift 5", wordBytes(0x8b203420)},
	} {
		out := []ir.Insn{{Kind: ir.Nop}}
		got, n, err := d.Lift(c.code, testRVA, out)
		if err == nil || n != 0 || len(got) != 1 {
			t.Errorf("%s: n=%d err=%v out=%s", c.name, n, err, dump(got))
		}
		var de *DecodeError
		if len(c.code) >= 4 && !errors.As(err, &de) {
			t.Errorf("%s: err = %v, want a *DecodeError", c.name, err)
		}
		if len(c.code) < 4 && !errors.Is(err, ErrTruncated) {
			t.Errorf("%s: err = %v, want ErrTruncated", c.name, err)
		}
	}
}

func TestLiftAppends(t *testing.T) {
	d := New(testBase, testSize)
	out := []ir.Insn{{Kind: ir.Nop, Addr: 0x10}}
	out, n, err := d.Lift(wordBytes(0xa9bf7bfd), testRVA, out) // stp x29, x30, [sp, #-16]!
	if err != nil || n != 4 || len(out) != 4 || out[0].Addr != 0x10 || out[3].Len != 4 || out[1].Len != 0 {
		t.Fatalf("n=%d err=%v out=%s", n, err, dump(out))
	}
}

func TestAddressOutsideTheImage(t *testing.T) {
	d := New(testBase, 0x2000) // the adrp target 0x4000 lies outside
	got, _, err := d.Lift(wordBytes(0xf0000001), testRVA, nil)
	want := ir.Mem{Base: ir.RegNone, Index: ir.RegNone, Disp: testBase + 0x4000}
	if err != nil || got[0].A.Kind != ir.KAddr || got[0].A.Mem != want {
		t.Fatalf("adrp outside the image: %s, err %v", dump(got), err)
	}
}

func TestDecodeBitMask(t *testing.T) {
	for _, c := range []struct {
		n, imms, immr uint32
		w             uint8
		want          uint64
		ok            bool
	}{
		{0, 0x00, 0, 4, 0x1, true},                // one bit in 32
		{0, 0x07, 0, 4, 0xff, true},               // eight ones in 32 bits
		{1, 0x00, 1, 8, 0x8000000000000000, true}, // one bit rotated right by 1
		{0, 0x3c, 0, 8, 0x5555555555555555, true}, // 2-bit elements
		{1, 0x3f, 0, 8, 0, false},                 // all ones: reserved
		{0, 0x3d, 0, 8, 0, false},                 // 2-bit element of all ones
		{0, 0x3e, 0, 8, 0, false},                 // imms 111110: len 0
		{1, 0x1f, 0x20, 8, 0xffffffff00000000, true},
	} {
		got, ok := decodeBitMask(c.n, c.imms, c.immr, c.w)
		if got != c.want || ok != c.ok {
			t.Errorf("decodeBitMask(%d, %#x, %d, %d) = %#x, %v; want %#x, %v", c.n, c.imms, c.immr, c.w, got, ok, c.want, c.ok)
		}
	}
}

func TestArch(t *testing.T) {
	a := New(testBase, testSize).Arch()
	if a.PtrSize != 8 || a.SP != SP || a.Ret != X0 || len(a.ArgRegs) != 8 || a.StackArgOffset != 0 || a.EntryStackArgOffset != 0 {
		t.Fatalf("arch = %+v", a)
	}
	if r, off, inReg := a.ArgSlot(8); inReg || r != ir.RegNone || off != 0 {
		t.Errorf("ArgSlot(8) = %v, %d, %v; want the stack at SP+0", r, off, inReg)
	}
	for r, want := range map[ir.Reg]string{0: "x0", 30: "x30", SP: "sp", ir.RegNone: "none", 40: "reg40"} {
		if got := RegName(r); got != want {
			t.Errorf("RegName(%d) = %q, want %q", r, got, want)
		}
	}
}
