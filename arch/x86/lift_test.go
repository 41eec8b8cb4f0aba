package x86

import (
	"debug/pe"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/hvcicheck/hvcicheck/ir"
)

const testRVA = 0x1000

// Builders of expected instructions. Addr and Len are filled in by the test.
func asg(dst ir.Reg, w uint8, op ir.Op, a, b ir.Operand) ir.Insn {
	return ir.Insn{Kind: ir.Assign, Op: op, Dst: dst, A: a, B: b, Width: w, Mode: modeFor(w)}
}

func ld(dst ir.Reg, w uint8, op ir.Op, a ir.Operand, srcW uint8) ir.Insn {
	in := asg(dst, w, op, a, none)
	in.SrcWidth = srcW
	return in
}

func ld2(dst ir.Reg, w uint8, op ir.Op, a, b ir.Operand, srcW uint8) ir.Insn {
	in := asg(dst, w, op, a, b)
	in.SrcWidth = srcW
	return in
}

func unk(dst ir.Reg, w uint8) ir.Insn { return asg(dst, w, ir.OpUnknown, none, none) }

func st(m ir.Mem, a ir.Operand, w uint8) ir.Insn {
	in := ir.Insn{Kind: ir.Store, Mem: m, A: a, Width: w}
	if a.Kind == ir.KMem {
		in.SrcWidth = w
	}
	return in
}

func clob(rs ...ir.Reg) ir.Insn { return ir.Insn{Kind: ir.Clobber, Regs: rs} }
func kind(k ir.Kind) ir.Insn    { return ir.Insn{Kind: k} }
func call(t ir.Operand) ir.Insn { return ir.Insn{Kind: ir.Call, Target: t} }
func jump(t ir.Operand) ir.Insn { return ir.Insn{Kind: ir.Jump, Target: t} }
func br(t ir.Operand) ir.Insn   { return ir.Insn{Kind: ir.Branch, Target: t} }

func rm(base ir.Reg, disp int64) ir.Mem { return regMem(base, disp) }
func glob(rva int64) ir.Mem {
	return ir.Mem{Base: ir.RegNone, Index: ir.RegNone, Global: true, Disp: rva}
}
func abs(addr int64) ir.Mem { return ir.Mem{Base: ir.RegNone, Index: ir.RegNone, Disp: addr} }
func sib(base, index ir.Reg, scale uint8, disp int64) ir.Mem {
	return ir.Mem{Base: base, Index: index, Scale: scale, Disp: disp}
}

var (
	R, I, M, A = ir.R, ir.I, ir.M, ir.A
)

func sp(op ir.Op, n int64, w uint8) ir.Insn { return asg(RSP, w, op, R(RSP), I(n)) }

type liftCase struct {
	name string
	hex  string
	want []ir.Insn
}

// rip computes the RVA a rip-relative operand of an instruction of n bytes
// at testRVA addresses.
func rip(n int, disp int64) int64 { return testRVA + int64(n) + disp }

var x64Cases = []liftCase{
	{"mov ecx, 0x200", "b900020000", []ir.Insn{asg(RCX, 4, ir.OpMov, I(0x200), none)}},
	{"xor ecx, ecx", "31c9", []ir.Insn{asg(RCX, 4, ir.OpMov, I(0), none)}},
	{"or ecx, 0x400", "81c900040000", []ir.Insn{asg(RCX, 4, ir.OpOr, R(RCX), I(0x400))}},
	{"lea rcx, [rip+0x1234]", "488d0d34120000", []ir.Insn{asg(RCX, 8, ir.OpMov, A(glob(rip(7, 0x1234))), none)}},
	{"mov rax, [rip+0x100]", "488b0500010000", []ir.Insn{ld(RAX, 8, ir.OpMov, M(glob(rip(7, 0x100))), 8)}},
	{"call rax", "ffd0", []ir.Insn{call(R(RAX))}},
	{"call [rip+0x200]", "ff1500020000", []ir.Insn{call(M(glob(rip(6, 0x200))))}},
	{"jmp [rip+0x300]", "ff2500030000", []ir.Insn{jump(M(glob(rip(6, 0x300))))}},
	{"jmp [rip-0x10]", "ff25f0ffffff", []ir.Insn{jump(M(glob(rip(6, -0x10))))}},
	{"mov dword [rsp+0x28], 0x40", "c744242840000000", []ir.Insn{st(rm(RSP, 0x28), I(0x40), 4)}},
	{"ret 0xc", "c20c00", []ir.Insn{{Kind: ir.Ret, PopBytes: 0xc}}},
	{"ret", "c3", []ir.Insn{kind(ir.Ret)}},
	{"endbr64", "f30f1efa", []ir.Insn{kind(ir.Nop)}},
	{"vmxon [rax]", "f30fc730", []ir.Insn{kind(ir.Nop)}},
	{"vmread rax, rcx", "0f78c8", []ir.Insn{clob(RAX)}},
	{"vmread [rsp+8], rcx", "0f784c2408", []ir.Insn{st(rm(RSP, 8), none, 8)}},
	{"vmread r9, rcx (REX.B)", "410f78c9", []ir.Insn{clob(R9)}},

	// Sub-registers.
	{"mov al, 5", "b005", []ir.Insn{asg(RAX, 1, ir.OpMov, I(5), none)}},
	{"mov ah, 5", "b405", []ir.Insn{clob(RAX)}},
	{"or ch, 4 (gcc's | 0x400)", "80cd04", []ir.Insn{asg(RCX, 8, ir.OpOr, R(RCX), I(0x400))}},
	{"and ah, 0xfe", "80e4fe", []ir.Insn{asg(RAX, 8, ir.OpAnd, R(RAX), I(-0x101))}},
	{"add ah, 1", "80c401", []ir.Insn{clob(RAX)}},
	{"mov ax, 5", "66b80500", []ir.Insn{asg(RAX, 2, ir.OpMov, I(5), none)}},
	{"mov r8d, 1", "41b801000000", []ir.Insn{asg(R8, 4, ir.OpMov, I(1), none)}},
	{"mov r8b, cl", "4188c8", []ir.Insn{asg(R8, 1, ir.OpMov, R(RCX), none)}},
	{"mov spl, al", "4088c4", []ir.Insn{asg(RSP, 1, ir.OpMov, R(RAX), none)}},
	{"mov al, ah", "88e0", []ir.Insn{asg(RAX, 1, ir.OpShr, R(RAX), I(8))}},
	{"movzx ecx, ah", "0fb6cc", []ir.Insn{asg(RCX, 4, ir.OpShr, R(RAX), I(8)), asg(RCX, 4, ir.OpAnd, R(RCX), I(0xff))}},
	{"movsx ecx, ah", "0fbecc", []ir.Insn{asg(RCX, 4, ir.OpShr, R(RAX), I(8)), ld(RCX, 4, ir.OpSext, R(RCX), 1)}},
	{"add al, ah", "00e0", []ir.Insn{unk(RAX, 1)}},
	{"mov eax, -1", "b8ffffffff", []ir.Insn{asg(RAX, 4, ir.OpMov, I(0xffffffff), none)}},
	{"mov rax, -1", "48c7c0ffffffff", []ir.Insn{asg(RAX, 8, ir.OpMov, I(-1), none)}},
	{"mov rax, imm64", "48b88967452301000000", []ir.Insn{asg(RAX, 8, ir.OpMov, I(0x123456789), none)}},

	// Extensions.
	{"movzx eax, cl", "0fb6c1", []ir.Insn{asg(RAX, 4, ir.OpAnd, R(RCX), I(0xff))}},
	{"movzx eax, byte [rcx+8]", "0fb64108", []ir.Insn{ld(RAX, 4, ir.OpMov, M(rm(RCX, 8)), 1)}},
	{"movsx rax, word [rcx]", "480fbf01", []ir.Insn{ld(RAX, 8, ir.OpSext, M(rm(RCX, 0)), 2)}},
	{"movsxd rax, [rcx+rdx*4+0x10]", "4863449110", []ir.Insn{ld(RAX, 8, ir.OpSext, M(sib(RCX, RDX, 4, 0x10)), 4)}},
	{"movsxd rax, ecx", "4863c1", []ir.Insn{ld(RAX, 8, ir.OpSext, R(RCX), 4)}},
	{"movsxd eax, ecx (a mov)", "63c1", []ir.Insn{asg(RAX, 4, ir.OpMov, R(RCX), none)}},
	{"cdq", "99", []ir.Insn{asg(RDX, 4, ir.OpSar, R(RAX), I(31))}},
	{"cqo", "4899", []ir.Insn{asg(RDX, 8, ir.OpSar, R(RAX), I(63))}},
	{"cwde", "98", []ir.Insn{ld(RAX, 4, ir.OpSext, R(RAX), 2)}},
	{"cdqe", "4898", []ir.Insn{ld(RAX, 8, ir.OpSext, R(RAX), 4)}},

	// Arithmetic.
	{"sub rsp, 0x28", "4883ec28", []ir.Insn{sp(ir.OpSub, 0x28, 8)}},
	{"add rsp, 0x28", "4883c428", []ir.Insn{sp(ir.OpAdd, 0x28, 8)}},
	{"and ecx, -8", "83e1f8", []ir.Insn{asg(RCX, 4, ir.OpAnd, R(RCX), I(0xfffffff8))}},
	{"shl eax, 9", "c1e009", []ir.Insn{asg(RAX, 4, ir.OpShl, R(RAX), I(9))}},
	{"shr rax, cl", "48d3e8", []ir.Insn{asg(RAX, 8, ir.OpShr, R(RAX), R(RCX))}},
	{"shl eax, cl", "d3e0", []ir.Insn{asg(RAX, 4, ir.OpShl, R(RAX), R(RCX))}},
	{"sar edx, 31", "c1fa1f", []ir.Insn{asg(RDX, 4, ir.OpSar, R(RDX), I(31))}},
	{"not ecx", "f7d1", []ir.Insn{asg(RCX, 4, ir.OpNot, R(RCX), none)}},
	{"neg rax", "48f7d8", []ir.Insn{asg(RAX, 8, ir.OpNeg, R(RAX), none)}},
	{"imul eax, ecx", "0fafc1", []ir.Insn{asg(RAX, 4, ir.OpMul, R(RAX), R(RCX))}},
	{"imul eax, ecx, 12", "6bc10c", []ir.Insn{asg(RAX, 4, ir.OpMul, R(RCX), I(12))}},
	{"imul rax, [rbx], -3", "486b03fd", []ir.Insn{func() ir.Insn {
		in := asg(RAX, 8, ir.OpMul, M(rm(RBX, 0)), I(-3))
		in.SrcWidth = 8
		return in
	}()}},
	{"inc ecx", "ffc1", []ir.Insn{asg(RCX, 4, ir.OpAdd, R(RCX), I(1))}},
	{"dec r9", "49ffc9", []ir.Insn{asg(R9, 8, ir.OpSub, R(R9), I(1))}},
	{"xor eax, ecx", "31c8", []ir.Insn{asg(RAX, 4, ir.OpXor, R(RAX), R(RCX))}},
	{"sub eax, eax", "29c0", []ir.Insn{asg(RAX, 4, ir.OpMov, I(0), none)}},
	{"add eax, [rcx+8]", "034108", []ir.Insn{func() ir.Insn {
		in := asg(RAX, 4, ir.OpAdd, R(RAX), M(rm(RCX, 8)))
		in.SrcWidth = 4
		return in
	}()}},
	{"bts eax, 9", "0fbae809", []ir.Insn{asg(RAX, 4, ir.OpOr, R(RAX), I(0x200))}},
	{"btr rcx, 3", "480fbaf103", []ir.Insn{asg(RCX, 8, ir.OpAnd, R(RCX), I(^int64(8)))}},
	{"mul rcx", "48f7e1", []ir.Insn{asg(RAX, 8, ir.OpMul, R(RAX), R(RCX)), clob(RDX)}},
	{"div ecx", "f7f1", []ir.Insn{clob(RAX), clob(RDX)}},
	{"mul cl", "f6e1", []ir.Insn{unk(RAX, 2)}},
	{"shlx eax, ecx, edx", "c4e269f7c1", []ir.Insn{asg(RAX, 4, ir.OpShl, R(RCX), R(RDX))}},
	{"mulx rax, rcx, rdx", "c4e2f3f6c2", []ir.Insn{clob(RCX), clob(RAX)}},
	{"adc eax, ecx", "11c8", []ir.Insn{clob(RAX)}},
	{"rol eax, 3", "c1c003", []ir.Insn{clob(RAX)}},
	{"rcl eax, 1", "d1d0", []ir.Insn{clob(RAX)}},
	{"popcnt eax, ecx", "f30fb8c1", []ir.Insn{clob(RAX)}},
	{"bswap eax", "0fc8", []ir.Insn{clob(RAX)}},
	{"rdrand eax", "0fc7f0", []ir.Insn{clob(RAX)}},

	// lea.
	{"lea eax, [rcx+rdx]", "8d0411", []ir.Insn{asg(RAX, 4, ir.OpMov, A(sib(RCX, RDX, 1, 0)), none)}},
	{"lea rax, [ecx+edx]", "67488d0411", []ir.Insn{asg(RAX, 4, ir.OpMov, A(sib(RCX, RDX, 1, 0)), none)}},
	{"lea ax, [rcx+8]", "668d4108", []ir.Insn{asg(RAX, 2, ir.OpMov, A(rm(RCX, 8)), none)}},

	// Stack.
	{"push rbx", "53", []ir.Insn{sp(ir.OpSub, 8, 8), st(rm(RSP, 0), R(RBX), 8)}},
	{"pop rbx", "5b", []ir.Insn{ld(RBX, 8, ir.OpMov, M(rm(RSP, 0)), 8), sp(ir.OpAdd, 8, 8)}},
	{"push 0x200", "6800020000", []ir.Insn{sp(ir.OpSub, 8, 8), st(rm(RSP, 0), I(0x200), 8)}},
	{"push -128", "6a80", []ir.Insn{sp(ir.OpSub, 8, 8), st(rm(RSP, 0), I(-128), 8)}},
	{"push [rip+0x10]", "ff3510000000", []ir.Insn{sp(ir.OpSub, 8, 8), st(rm(RSP, 0), M(glob(rip(6, 0x10))), 8)}},
	{"push rsp", "54", []ir.Insn{sp(ir.OpSub, 8, 8), st(rm(RSP, 0), A(rm(RSP, 8)), 8)}},
	{"push [rsp+8]", "ff742408", []ir.Insn{sp(ir.OpSub, 8, 8), st(rm(RSP, 0), M(rm(RSP, 16)), 8)}},
	{"pop [rsp+8]", "8f442408", []ir.Insn{st(rm(RSP, 16), M(rm(RSP, 0)), 8), sp(ir.OpAdd, 8, 8)}},
	{"pop rsp", "5c", []ir.Insn{ld(RSP, 8, ir.OpMov, M(rm(RSP, 0)), 8)}},
	{"push r12", "4154", []ir.Insn{sp(ir.OpSub, 8, 8), st(rm(RSP, 0), R(R12), 8)}},
	{"push ax", "6650", []ir.Insn{sp(ir.OpSub, 2, 8), st(rm(RSP, 0), R(RAX), 2)}},
	{"pushfq", "9c", []ir.Insn{sp(ir.OpSub, 8, 8), st(rm(RSP, 0), none, 8)}},
	{"popfq", "9d", []ir.Insn{sp(ir.OpAdd, 8, 8)}},
	{"leave", "c9", []ir.Insn{asg(RSP, 8, ir.OpMov, R(RBP), none), ld(RBP, 8, ir.OpMov, M(rm(RSP, 0)), 8), sp(ir.OpAdd, 8, 8)}},
	{"enter 0x10, 0", "c8100000", []ir.Insn{sp(ir.OpSub, 8, 8), st(rm(RSP, 0), R(RBP), 8), asg(RBP, 8, ir.OpMov, R(RSP), none), sp(ir.OpSub, 0x10, 8)}},
	{"enter 0x10, 2", "c8100002", []ir.Insn{
		sp(ir.OpSub, 8, 8), st(rm(RSP, 0), R(RBP), 8),
		sp(ir.OpSub, 8, 8), st(rm(RSP, 0), none, 8),
		sp(ir.OpSub, 8, 8), st(rm(RSP, 0), A(rm(RSP, 16)), 8),
		asg(RBP, 8, ir.OpMov, A(rm(RSP, 16)), none),
		sp(ir.OpSub, 0x10, 8)}},

	// Stores.
	{"or dword [rip+0x40], 0x400", "810d4000000000040000", []ir.Insn{st(glob(rip(10, 0x40)), none, 4)}},
	{"and qword [rsp+0x20], 0", "488364242000", []ir.Insn{st(rm(RSP, 0x20), I(0), 8)}},
	{"or dword [rsp+0x20], -1", "834c2420ff", []ir.Insn{st(rm(RSP, 0x20), I(0xffffffff), 4)}},
	{"add dword [rcx], 1", "830101", []ir.Insn{st(rm(RCX, 0), none, 4)}},
	{"mov [rcx], rax", "488901", []ir.Insn{st(rm(RCX, 0), R(RAX), 8)}},
	{"mov byte [rax], 0xff", "c600ff", []ir.Insn{st(rm(RAX, 0), I(0xff), 1)}},
	{"mov word [rax], -1", "66c700ffff", []ir.Insn{st(rm(RAX, 0), I(0xffff), 2)}},
	{"mov [rbp-8], rax (disp32)", "48898500ffffff", []ir.Insn{st(rm(RBP, -0x100), R(RAX), 8)}},
	{"movnti [rcx], eax", "0fc301", []ir.Insn{st(rm(RCX, 0), R(RAX), 4)}},
	{"mov [rax], es", "8c00", []ir.Insn{st(rm(RAX, 0), none, 2)}},
	{"mov es, ax", "668ec0", []ir.Insn{kind(ir.Nop)}},
	{"movups [rsp+0x20], xmm0", "0f11442420", []ir.Insn{st(rm(RSP, 0x20), none, 16)}},
	{"fxsave [rsp+0x20]", "0fae442420", []ir.Insn{st(rm(RSP, 0x20), none, WidthUnknown)}},
	{"sgdt [rsp+0x20]", "0f01442420", []ir.Insn{st(rm(RSP, 0x20), none, 10)}},
	{"setne byte [rsp+8]", "0f95442408", []ir.Insn{st(rm(RSP, 8), none, 1)}},

	// setcc, cmov, exchange.
	{"sete al", "0f94c0", []ir.Insn{unk(RAX, 1), asg(RAX, 1, ir.OpAnd, R(RAX), I(1))}},
	{"sete ah", "0f94c4", []ir.Insn{clob(RAX)}},
	{"cmovne eax, ecx", "0f45c1", []ir.Insn{asg(RAX, 4, ir.OpSelect, R(RAX), R(RCX))}},
	{"cmove ax, cx", "660f44c1", []ir.Insn{asg(RAX, 2, ir.OpSelect, R(RAX), R(RCX))}},
	{"cmovb rax, [rcx]", "480f4201", []ir.Insn{ld2(RAX, 8, ir.OpSelect, R(RAX), ir.M(ir.Mem{Base: RCX, Index: ir.RegNone}), 8)}},
	{"xchg rax, rcx", "4891", []ir.Insn{
		asg(RCX, 8, ir.OpXor, R(RCX), R(RAX)), asg(RAX, 8, ir.OpXor, R(RAX), R(RCX)), asg(RCX, 8, ir.OpXor, R(RCX), R(RAX))}},
	{"xchg eax, eax", "87c0", []ir.Insn{asg(RAX, 4, ir.OpMov, R(RAX), none)}},
	{"xchg [rcx], eax", "8701", []ir.Insn{st(rm(RCX, 0), R(RAX), 4), clob(RAX)}},
	{"lock xadd [rcx], eax", "f00fc101", []ir.Insn{st(rm(RCX, 0), none, 4), clob(RAX)}},
	{"lock cmpxchg [rcx], edx", "f00fb111", []ir.Insn{st(rm(RCX, 0), none, 4), clob(RAX)}},
	{"lock cmpxchg16b [rax]", "f0480fc708", []ir.Insn{st(rm(RAX, 0), none, 16), clob(RAX, RDX)}},

	// Strings.
	{"rep movsb", "f3a4", []ir.Insn{st(rm(RDI, 0), none, WidthUnknown),
		asg(RDI, 8, ir.OpMov, A(sib(RDI, RCX, 1, 0)), none), asg(RSI, 8, ir.OpMov, A(sib(RSI, RCX, 1, 0)), none),
		asg(RCX, 8, ir.OpMov, I(0), none)}},
	{"rep stosq", "f348ab", []ir.Insn{st(rm(RDI, 0), none, WidthUnknown),
		asg(RDI, 8, ir.OpMov, A(sib(RDI, RCX, 8, 0)), none), asg(RCX, 8, ir.OpMov, I(0), none)}},
	{"stosd", "ab", []ir.Insn{st(rm(RDI, 0), R(RAX), 4), asg(RDI, 8, ir.OpAdd, R(RDI), I(4))}},
	{"movsq", "48a5", []ir.Insn{st(rm(RDI, 0), M(rm(RSI, 0)), 8), asg(RDI, 8, ir.OpAdd, R(RDI), I(8)), asg(RSI, 8, ir.OpAdd, R(RSI), I(8))}},
	{"lodsb", "ac", []ir.Insn{ld(RAX, 1, ir.OpMov, M(rm(RSI, 0)), 1), asg(RSI, 8, ir.OpAdd, R(RSI), I(1))}},
	{"rep cmpsb", "f3a6", []ir.Insn{clob(RSI, RDI, RCX)}},
	{"repne scasb", "f2ae", []ir.Insn{clob(RDI, RCX)}},
	{"xlatb", "d7", []ir.Insn{unk(RAX, 1)}},
	{"lahf", "9f", []ir.Insn{clob(RAX)}},

	// Control flow.
	{"call rel32", "e800010000", []ir.Insn{call(I(testRVA + 5 + 0x100))}},
	{"call $+5", "e800000000", []ir.Insn{sp(ir.OpSub, 8, 8), st(rm(RSP, 0), A(glob(testRVA+5)), 8)}},
	{"call [rax+8]", "ff5008", []ir.Insn{call(M(rm(RAX, 8)))}},
	{"call gs:[rax]", "65ff10", []ir.Insn{call(none)}},
	{"jmp $", "ebfe", []ir.Insn{jump(I(testRVA))}},
	{"jmp rax", "ffe0", []ir.Insn{jump(R(RAX))}},
	{"jne rel32", "0f8500010000", []ir.Insn{br(I(testRVA + 6 + 0x100))}},
	{"je rel8 backwards", "74f0", []ir.Insn{br(I(testRVA + 2 - 0x10))}},
	{"jrcxz", "e300", []ir.Insn{br(I(testRVA + 2))}},
	{"loop", "e2fe", []ir.Insn{asg(RCX, 8, ir.OpSub, R(RCX), I(1)), br(I(testRVA))}},
	{"xbegin", "c7f800000000", []ir.Insn{clob(RAX), br(I(testRVA + 6))}},
	{"int3", "cc", []ir.Insn{kind(ir.Halt)}},
	{"ud2", "0f0b", []ir.Insn{kind(ir.Halt)}},
	{"hlt", "f4", []ir.Insn{kind(ir.Halt)}},
	{"int 0x29", "cd29", []ir.Insn{kind(ir.Halt)}},
	{"int 0x2c", "cd2c", []ir.Insn{kind(ir.Nop)}},
	{"int 0x2d", "cd2d", []ir.Insn{clob(RAX, RCX, RDX, R8, R9, R10, R11)}},
	{"syscall", "0f05", []ir.Insn{clob(RAX, RCX, RDX, R8, R9, R10, R11)}},
	{"sysretq", "480f07", []ir.Insn{kind(ir.Halt)}},
	{"iretq", "48cf", []ir.Insn{kind(ir.Halt)}},
	{"swapgs", "0f01f8", []ir.Insn{kind(ir.Nop)}},

	// No effect on tracked state.
	{"nop", "90", []ir.Insn{kind(ir.Nop)}},
	{"nop dword [rax+rax]", "0f1f440000", []ir.Insn{kind(ir.Nop)}},
	{"pause", "f390", []ir.Insn{kind(ir.Nop)}},
	{"prefetchw [rax]", "0f0d08", []ir.Insn{kind(ir.Nop)}},
	{"cmp eax, 1", "83f801", []ir.Insn{kind(ir.Nop)}},
	{"test ecx, ecx", "85c9", []ir.Insn{kind(ir.Nop)}},
	{"bt eax, 3", "0fbae003", []ir.Insn{kind(ir.Nop)}},
	{"cmp [rsp+0x20], rax", "48394424 20", []ir.Insn{kind(ir.Nop)}},
	{"mov cr0, rax", "0f22c0", []ir.Insn{kind(ir.Nop)}},
	{"wrmsr", "0f30", []ir.Insn{kind(ir.Nop)}},

	// Implicit and non-GPR-source writes.
	{"cpuid", "0fa2", []ir.Insn{clob(RAX, RBX, RCX, RDX)}},
	{"rdtsc", "0f31", []ir.Insn{clob(RAX, RDX)}},
	{"rdmsr", "0f32", []ir.Insn{clob(RAX, RDX)}},
	{"xgetbv", "0f01d0", []ir.Insn{clob(RAX, RDX)}},
	{"rdtscp", "0f01f9", []ir.Insn{clob(RAX, RCX, RDX)}},
	{"mov rax, cr0", "0f20c0", []ir.Insn{clob(RAX)}},
	{"mov rax, dr7", "0f21f8", []ir.Insn{clob(RAX)}},
	{"movd eax, xmm0", "660f7ec0", []ir.Insn{clob(RAX)}},
	{"movq rax, xmm0", "66480f7ec0", []ir.Insn{clob(RAX)}},
	{"cvttsd2si eax, xmm0", "f20f2cc0", []ir.Insn{clob(RAX)}},
	{"pextrw eax, xmm0, 1", "660fc5c001", []ir.Insn{clob(RAX)}},
	{"pmovmskb eax, xmm0", "660fd7c0", []ir.Insn{clob(RAX)}},
	{"vmovd eax, xmm0", "c5f97ec0", []ir.Insn{clob(RAX)}},
	{"pcmpistri xmm0, xmm1, 0x0c", "660f3a63c10c", []ir.Insn{clob(RCX)}},
	{"cvtsi2sd xmm0, rax (reads rax only)", "f2480f2ac0", []ir.Insn{kind(ir.Nop)}},

	// Segments and absolute addresses.
	{"mov rax, gs:[0x188]", "65488b042588010000", []ir.Insn{clob(RAX)}},
	{"mov gs:[0x10], rax", "654889042510000000", []ir.Insn{kind(ir.Nop)}},
	{"mov eax, [moffs64 in image]", "a10010004001000000", []ir.Insn{ld(RAX, 4, ir.OpMov, M(glob(0x1000)), 4)}},
	{"mov eax, [0x1234]", "8b042534120000", []ir.Insn{ld(RAX, 4, ir.OpMov, M(abs(0x1234)), 4)}},
	{"mov eax, [-8] (sign-extended disp32)", "8b0425f8ffffff", []ir.Insn{ld(RAX, 4, ir.OpMov, M(abs(-8)), 4)}},

	// The gap table.
	{"vmcall", "0f01c1", []ir.Insn{clob(RAX, RCX, RDX, RBX, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15)}},
	{"vmlaunch", "0f01c2", []ir.Insn{kind(ir.Nop)}},
	{"vmresume", "0f01c3", []ir.Insn{kind(ir.Nop)}},
	{"vmxoff", "0f01c4", []ir.Insn{kind(ir.Nop)}},
	{"vmclear [rax]", "660fc730", []ir.Insn{kind(ir.Nop)}},
	{"vmptrld [rax]", "0fc730", []ir.Insn{kind(ir.Nop)}},
	{"vmxon [rip+0x10]", "f30fc73510000000", []ir.Insn{kind(ir.Nop)}},
	{"vmptrst [rax]", "0fc738", []ir.Insn{st(rm(RAX, 0), none, 8)}},
	{"vmptrst [rip+0x20]", "0fc73d20000000", []ir.Insn{st(glob(rip(7, 0x20)), none, 8)}},
	{"invept rax, [rcx]", "660f388001", []ir.Insn{kind(ir.Nop)}},
	{"invvpid rax, [rcx]", "660f388101", []ir.Insn{kind(ir.Nop)}},
	{"vmwrite rcx, rax", "0f79c8", []ir.Insn{kind(ir.Nop)}},
	{"vmfunc", "0f01d4", []ir.Insn{kind(ir.Nop)}},
	{"vmrun", "0f01d8", []ir.Insn{clob(RAX, RCX, RDX, RBX, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15)}},
	{"vmmcall", "0f01d9", []ir.Insn{clob(RAX, RCX, RDX, RBX, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15)}},
	{"stgi", "0f01dc", []ir.Insn{kind(ir.Nop)}},
	{"skinit", "0f01de", []ir.Insn{kind(ir.Halt)}},
	{"clac", "0f01ca", []ir.Insn{kind(ir.Nop)}},
	{"stac", "0f01cb", []ir.Insn{kind(ir.Nop)}},
	{"rdseed eax", "0fc7f8", []ir.Insn{clob(RAX)}},
	{"rdseed ax", "660fc7f8", []ir.Insn{unk(RAX, 2)}},
	{"rdpid rax", "f30fc7f8", []ir.Insn{clob(RAX)}},
	{"rdsspq rax", "f3480f1ec8", []ir.Insn{clob(RAX)}},
	{"rdsspd eax", "f30f1ec8", []ir.Insn{clob(RAX)}},
	{"incsspq rax", "f3480faee8", []ir.Insn{kind(ir.Nop)}},
	{"setssbsy", "f30f01e8", []ir.Insn{kind(ir.Nop)}},
	{"saveprevssp", "f30f01ea", []ir.Insn{kind(ir.Nop)}},
	{"rstorssp [rax]", "f30f0128", []ir.Insn{kind(ir.Nop)}},
	{"clrssbsy [rax]", "f30fae30", []ir.Insn{kind(ir.Nop)}},
	{"wrssq [rax], rcx", "480f38f608", []ir.Insn{kind(ir.Nop)}},
	{"wrussq [rax], rcx", "66480f38f508", []ir.Insn{kind(ir.Nop)}},
	{"serialize", "0f01e8", []ir.Insn{kind(ir.Nop)}},
	{"adcx eax, ecx", "660f38f6c1", []ir.Insn{clob(RAX)}},
	{"adox rax, rcx", "f3480f38f6c1", []ir.Insn{clob(RAX)}},
	{"movdiri [rcx], eax", "0f38f901", []ir.Insn{st(rm(RCX, 0), R(RAX), 4)}},
	{"movdiri [rcx], rax", "480f38f901", []ir.Insn{st(rm(RCX, 0), R(RAX), 8)}},
	{"movdir64b rax, [rcx]", "660f38f801", []ir.Insn{st(rm(RAX, 0), none, 64)}},
	{"enqcmd rax, [rcx]", "f20f38f801", []ir.Insn{kind(ir.Nop)}},
	{"monitorx", "0f01fa", []ir.Insn{kind(ir.Nop)}},
	{"mwaitx", "0f01fb", []ir.Insn{kind(ir.Nop)}},
	{"clzero", "0f01fc", []ir.Insn{kind(ir.Nop)}},
	{"encls", "0f01cf", []ir.Insn{clob(RAX, RBX, RCX, RDX)}},
	{"enclu", "0f01d7", []ir.Insn{clob(RAX, RBX, RCX, RDX)}},
	{"pconfig", "0f01c5", []ir.Insn{clob(RAX, RBX, RCX, RDX)}},
	{"cldemote [rax]", "0f1c00", []ir.Insn{kind(ir.Nop)}},
	{"wbnoinvd", "f30f09", []ir.Insn{kind(ir.Nop)}},
	{"tpause ecx", "660faef1", []ir.Insn{kind(ir.Nop)}},
	{"umonitor rax", "f30faef0", []ir.Insn{kind(ir.Nop)}},
	{"umwait ecx", "f20faef1", []ir.Insn{kind(ir.Nop)}},
	{"senduipi rax", "f30fc7f0", []ir.Insn{kind(ir.Nop)}},
	{"hreset 1", "f30f3af0c001", []ir.Insn{kind(ir.Nop)}},
	{"ptwrite eax", "f30faee0", []ir.Insn{kind(ir.Nop)}},
	{"rdpkru", "0f01ee", []ir.Insn{clob(RAX, RDX)}},
	{"rdpru", "0f01fd", []ir.Insn{clob(RAX, RDX)}},
	{"clwb [rax]", "660fae30", []ir.Insn{kind(ir.Nop)}},
	{"clflushopt [rax]", "660fae38", []ir.Insn{kind(ir.Nop)}},
	{"gf2p8affineqb xmm0, xmm1, 1", "660f3acec101", []ir.Insn{kind(ir.Nop)}},
	{"gf2p8mulb xmm0, xmm1", "660f38cfc1", []ir.Insn{kind(ir.Nop)}},
	{"uiret", "f30f01ec", []ir.Insn{kind(ir.Halt)}},
	{"clui", "f30f01ee", []ir.Insn{kind(ir.Nop)}},
	{"xsusldtrk", "f20f01e8", []ir.Insn{kind(ir.Nop)}},
	{"invlpgb", "0f01fe", []ir.Insn{kind(ir.Nop)}},
	{"tlbsync", "0f01ff", []ir.Insn{kind(ir.Nop)}},
	{"psmash", "f30f01ff", []ir.Insn{clob(RAX)}},
	{"pvalidate", "f20f01ff", []ir.Insn{clob(RAX)}},
	{"extrq xmm0, 1, 2", "660f78c00102", []ir.Insn{kind(ir.Nop)}},
	{"insertq xmm0, xmm1", "f20f79c1", []ir.Insn{kind(ir.Nop)}},
	{"wrmsrns", "0f01c6", []ir.Insn{kind(ir.Nop)}},
}

var x86Cases = []liftCase{
	{"mov ecx, 0x200", "b900020000", []ir.Insn{asg(ECX, 4, ir.OpMov, I(0x200), none)}},
	{"xor ecx, ecx", "31c9", []ir.Insn{asg(ECX, 4, ir.OpMov, I(0), none)}},
	{"push 0x200", "6800020000", []ir.Insn{sp(ir.OpSub, 4, 4), st(rm(ESP, 0), I(0x200), 4)}},
	{"push -1", "6aff", []ir.Insn{sp(ir.OpSub, 4, 4), st(rm(ESP, 0), I(0xffffffff), 4)}},
	{"push 0x401234 (no relocation info)", "6834124000", []ir.Insn{sp(ir.OpSub, 4, 4), st(rm(ESP, 0), I(0x401234), 4)}},
	{"call [0x401000]", "ff1500104000", []ir.Insn{call(M(glob(0x1000)))}},
	{"call [0x80001000]", "ff1500100080", []ir.Insn{call(M(abs(0x80001000)))}},
	{"jmp [0x401004]", "ff2504104000", []ir.Insn{jump(M(glob(0x1004)))}},
	{"mov eax, [0x402000]", "a100204000", []ir.Insn{ld(EAX, 4, ir.OpMov, M(glob(0x2000)), 4)}},
	{"mov al, [0x403000]", "a000304000", []ir.Insn{ld(EAX, 1, ir.OpMov, M(glob(0x3000)), 1)}},
	{"mov eax, [ebp+8]", "8b4508", []ir.Insn{ld(EAX, 4, ir.OpMov, M(rm(EBP, 8)), 4)}},
	{"mov eax, [ebp-0x100]", "8b8500ffffff", []ir.Insn{ld(EAX, 4, ir.OpMov, M(rm(EBP, -0x100)), 4)}},
	{"mov [0x403000], 0x400", "c7050030400000040000", []ir.Insn{st(glob(0x3000), I(0x400), 4)}},
	{"or [0x403000], 0x400", "810d0030400000040000", []ir.Insn{st(glob(0x3000), none, 4)}},
	{"push [0x403000]", "ff3500304000", []ir.Insn{sp(ir.OpSub, 4, 4), st(rm(ESP, 0), M(glob(0x3000)), 4)}},
	{"ret 0xc", "c20c00", []ir.Insn{{Kind: ir.Ret, PopBytes: 0xc}}},
	{"push ebp", "55", []ir.Insn{sp(ir.OpSub, 4, 4), st(rm(ESP, 0), R(EBP), 4)}},
	{"mov ebp, esp", "89e5", []ir.Insn{asg(EBP, 4, ir.OpMov, R(ESP), none)}},
	{"pop eax", "58", []ir.Insn{ld(EAX, 4, ir.OpMov, M(rm(ESP, 0)), 4), sp(ir.OpAdd, 4, 4)}},
	{"pushfd", "9c", []ir.Insn{sp(ir.OpSub, 4, 4), st(rm(ESP, 0), none, 4)}},
	{"pushad", "60", []ir.Insn{
		st(rm(ESP, -4), R(EAX), 4), st(rm(ESP, -8), R(ECX), 4), st(rm(ESP, -12), R(EDX), 4), st(rm(ESP, -16), R(EBX), 4),
		st(rm(ESP, -20), R(ESP), 4), st(rm(ESP, -24), R(EBP), 4), st(rm(ESP, -28), R(ESI), 4), st(rm(ESP, -32), R(EDI), 4),
		sp(ir.OpSub, 32, 4)}},
	{"popad", "61", []ir.Insn{
		ld(EDI, 4, ir.OpMov, M(rm(ESP, 0)), 4), ld(ESI, 4, ir.OpMov, M(rm(ESP, 4)), 4), ld(EBP, 4, ir.OpMov, M(rm(ESP, 8)), 4),
		ld(EBX, 4, ir.OpMov, M(rm(ESP, 16)), 4), ld(EDX, 4, ir.OpMov, M(rm(ESP, 20)), 4), ld(ECX, 4, ir.OpMov, M(rm(ESP, 24)), 4),
		ld(EAX, 4, ir.OpMov, M(rm(ESP, 28)), 4), sp(ir.OpAdd, 32, 4)}},
	{"leave", "c9", []ir.Insn{asg(ESP, 4, ir.OpMov, R(EBP), none), ld(EBP, 4, ir.OpMov, M(rm(ESP, 0)), 4), sp(ir.OpAdd, 4, 4)}},
	{"mov ax, cx", "6689c8", []ir.Insn{asg(EAX, 2, ir.OpMov, R(ECX), none)}},
	{"inc eax", "40", []ir.Insn{asg(EAX, 4, ir.OpAdd, R(EAX), I(1))}},
	{"dec ecx", "49", []ir.Insn{asg(ECX, 4, ir.OpSub, R(ECX), I(1))}},
	{"mov eax, fs:[0x124]", "64a124010000", []ir.Insn{clob(EAX)}},
	{"cdq", "99", []ir.Insn{asg(EDX, 4, ir.OpSar, R(EAX), I(31))}},
	{"lea eax, [ebx+ecx*2+4]", "8d444b04", []ir.Insn{asg(EAX, 4, ir.OpMov, A(sib(EBX, ECX, 2, 4)), none)}},
	{"lea eax, [bx+si+4]", "678d4004", []ir.Insn{func() ir.Insn {
		in := asg(EAX, 2, ir.OpMov, A(sib(EBX, ESI, 1, 4)), none)
		in.Mode = ir.ZeroExtend // a 16-bit address written to a 32-bit register
		return in
	}()}},
	{"rep movsd", "f3a5", []ir.Insn{st(rm(EDI, 0), none, WidthUnknown),
		asg(EDI, 4, ir.OpMov, A(sib(EDI, ECX, 4, 0)), none), asg(ESI, 4, ir.OpMov, A(sib(ESI, ECX, 4, 0)), none),
		asg(ECX, 4, ir.OpMov, I(0), none)}},
	{"call rel32", "e800010000", []ir.Insn{call(I(testRVA + 5 + 0x100))}},
	{"call $+5", "e800000000", []ir.Insn{sp(ir.OpSub, 4, 4), st(rm(ESP, 0), A(glob(testRVA+5)), 4)}},
	{"endbr32", "f30f1efb", []ir.Insn{kind(ir.Nop)}},
	{"vmxon [eax]", "f30fc730", []ir.Insn{kind(ir.Nop)}},
	{"vmread eax, ecx", "0f78c8", []ir.Insn{clob(EAX)}},
	{"vmread [esp+4], ecx", "0f784c2404", []ir.Insn{st(rm(ESP, 4), none, 4)}},
	{"vmptrst [0x403000]", "0fc73d00304000", []ir.Insn{st(glob(0x3000), none, 8)}},
	{"mov eax, [bx+si]", "678b00", []ir.Insn{ld(EAX, 4, ir.OpMov, M(sib(EBX, ESI, 1, 0)), 4)}},
	{"int 0x2e", "cd2e", []ir.Insn{clob(EAX, ECX, EDX)}},
	{"rdpid eax", "f30fc7f8", []ir.Insn{clob(EAX)}},
	{"vmcall", "0f01c1", []ir.Insn{clob(EAX, ECX, EDX, EBX, EBP, ESI, EDI)}},
	{"cpuid", "0fa2", []ir.Insn{clob(EAX, EBX, ECX, EDX)}},
	{"mov eax, cr0", "0f20c0", []ir.Insn{clob(EAX)}},
	{"sete al", "0f94c0", []ir.Insn{unk(EAX, 1), asg(EAX, 1, ir.OpAnd, R(EAX), I(1))}},
	{"movzx eax, word [esp+4]", "0fb7442404", []ir.Insn{ld(EAX, 4, ir.OpMov, M(rm(ESP, 4)), 2)}},
	{"shlx eax, ecx, ecx (VEX.vvvv's high bit ignored)", "c4e231f7c1", []ir.Insn{asg(EAX, 4, ir.OpShl, R(ECX), R(ECX))}},
	{"mov [esp+4], 0x401234 (no relocation info)", "c744240434124000", []ir.Insn{st(rm(ESP, 4), I(0x401234), 4)}},
}

func runCases(t *testing.T, d *Decoder, cases []liftCase) {
	t.Helper()
	for _, c := range cases {
		code, err := hex.DecodeString(strings.ReplaceAll(c.hex, " ", ""))
		if err != nil {
			t.Fatalf("%s: bad hex: %v", c.name, err)
		}
		// Trailing bytes must not be consumed.
		buf := append(append([]byte{}, code...), 0xcc, 0xcc, 0xcc, 0xcc)
		prefix := []ir.Insn{{Kind: ir.Nop, Addr: 7}}
		got, n, err := d.Lift(buf, testRVA, prefix)
		if err != nil {
			t.Errorf("%s (%s): error %v", c.name, c.hex, err)
			continue
		}
		if n != len(code) {
			t.Errorf("%s (%s): length %d, want %d", c.name, c.hex, n, len(code))
		}
		if len(got) < 1 || !reflect.DeepEqual(got[0], prefix[0]) {
			t.Errorf("%s: the out slice's existing contents changed", c.name)
			continue
		}
		want := make([]ir.Insn, len(c.want))
		copy(want, c.want)
		for i := range want {
			want[i].Addr = testRVA
		}
		want[len(want)-1].Len = uint8(len(code))
		if !reflect.DeepEqual(got[1:], want) {
			t.Errorf("%s (%s):\n got %s\nwant %s", c.name, c.hex, dump(got[1:]), dump(want))
		}
	}
}

func dump(ins []ir.Insn) string {
	var b strings.Builder
	for _, in := range ins {
		type plain ir.Insn // without the String method: every field
		fmt.Fprintf(&b, "\n   %+v", plain(in))
	}
	return b.String()
}

// The table tests run with the fast decoder and again with x86asm alone.
func TestLiftX64(t *testing.T) {
	for _, noFast := range []bool{false, true} {
		d := New(64, 0x140000000, 0x10000)
		d.noFast = noFast
		runCases(t, d, x64Cases)
	}
}

func TestLiftX86(t *testing.T) {
	for _, noFast := range []bool{false, true} {
		d := New(32, 0x400000, 0x10000)
		d.noFast = noFast
		runCases(t, d, x86Cases)
	}
}

func TestRelocatedImmediates(t *testing.T) {
	for _, noFast := range []bool{false, true} {
		testRelocatedImmediates(t, noFast)
	}
}

func testRelocatedImmediates(t *testing.T, noFast bool) {
	d := New(32, 0x400000, 0x10000)
	d.noFast = noFast
	relocs := map[uint32]bool{testRVA + 1: true, testRVA + 4: true}
	d.SetRelocated(func(rva uint32) bool { return relocs[rva] })
	runCases(t, d, []liftCase{
		{"push offset 0x401234", "6834124000", []ir.Insn{sp(ir.OpSub, 4, 4), st(rm(ESP, 0), A(glob(0x1234)), 4)}},
		{"mov [esp+4], offset 0x401234", "c744240434124000", []ir.Insn{st(rm(ESP, 4), A(glob(0x1234)), 4)}},
		{"push 0x200 (not in the image)", "6800020000", []ir.Insn{sp(ir.OpSub, 4, 4), st(rm(ESP, 0), I(0x200), 4)}},
	})
	d64 := New(64, 0x140000000, 0x10000)
	d64.noFast = noFast
	d64.SetRelocated(func(rva uint32) bool { return rva == testRVA+2 })
	runCases(t, d64, []liftCase{
		{"mov rax, offset 0x140001234", "48b83412004001000000", []ir.Insn{asg(RAX, 8, ir.OpMov, A(glob(0x1234)), none)}},
	})
	d64.SetRelocated(func(rva uint32) bool { return false })
	runCases(t, d64, []liftCase{
		{"mov rax, 0x140001234 (not relocated)", "48b83412004001000000", []ir.Insn{asg(RAX, 8, ir.OpMov, I(0x140001234), none)}},
	})
	relocs = map[uint32]bool{}
	runCases(t, d, []liftCase{
		{"push 0x401234 (in the image, not relocated)", "6834124000", []ir.Insn{sp(ir.OpSub, 4, 4), st(rm(ESP, 0), I(0x401234), 4)}},
	})
}

func TestArch(t *testing.T) {
	a := New(64, 0, 0).Arch()
	if a.PtrSize != 8 || a.SP != RSP || a.Ret != RAX || a.StackArgOffset != 0x20 || a.EntryStackArgOffset != 0x28 ||
		!reflect.DeepEqual(a.ArgRegs, []ir.Reg{RCX, RDX, R8, R9}) ||
		!reflect.DeepEqual(a.CallerSaved, []ir.Reg{RAX, RCX, RDX, R8, R9, R10, R11}) {
		t.Errorf("x64 arch: %+v", a)
	}
	if a.RegName(R12) != "r12" || a.RegName(RSP) != "rsp" || a.RegName(ir.RegNone) != "none" {
		t.Errorf("x64 names: %s %s", a.RegName(R12), a.RegName(RSP))
	}
	b := New(32, 0, 0).Arch()
	if b.PtrSize != 4 || b.SP != ESP || b.Ret != EAX || len(b.ArgRegs) != 0 || b.StackArgOffset != 0 ||
		b.EntryStackArgOffset != 4 || !reflect.DeepEqual(b.CallerSaved, []ir.Reg{EAX, ECX, EDX}) {
		t.Errorf("x86 arch: %+v", b)
	}
	if b.RegName(EBP) != "ebp" || b.RegName(9) != "reg9" {
		t.Errorf("x86 names: %s %s", b.RegName(EBP), b.RegName(9))
	}
	if _, off, inReg := b.ArgSlot(1); inReg || off != 4 {
		t.Errorf("x86 arg slot 1: %d %v", off, inReg)
	}
	if _, off, inReg := a.EntryArgSlot(4); inReg || off != 0x28 {
		t.Errorf("x64 entry arg slot 4: %d %v", off, inReg)
	}
}

func TestUndecodable(t *testing.T) {
	for _, mode := range []int{64, 32} {
		d := New(mode, 0x400000, 0x10000)
		for _, h := range []string{
			"",                                     // nothing
			"ffff",                                 // padding seen in wine
			"f3",                                   // a lone prefix
			"66",                                   // a lone prefix
			"f0",                                   // a lone prefix
			"f090",                                 // lock nop: #UD
			"0f3f",                                 // not an instruction
			"0f04",                                 // not an instruction
			"c4e2784900",                           // AMX ldtilecfg: x86asm does not know it
			"0f01",                                 // truncated
			"0fc7",                                 // truncated
			"f30f1e",                               // truncated endbr
			"660f3880",                             // truncated invept
			"0f78",                                 // truncated vmread
			"0f01cc",                               // undefined 0F 01 form
			"f30fc738",                             // F3 0F C7 /7 with memory: undefined
			"6666666666666666666666666666660f1f00", // longer than 15 bytes
		} {
			code, _ := hex.DecodeString(h)
			out := []ir.Insn{{Kind: ir.Nop}}
			got, n, err := d.Lift(code, testRVA, out)
			if err == nil {
				t.Errorf("mode %d, %q: no error (n=%d, %s)", mode, h, n, dump(got[1:]))
				continue
			}
			if n != 0 || len(got) != 1 {
				t.Errorf("mode %d, %q: error but n=%d, %d insns", mode, h, n, len(got))
			}
			var de *DecodeError
			if h != "" && !errors.As(err, &de) && !errors.Is(err, ErrTruncated) {
				t.Errorf("mode %d, %q: error %v of an unexpected type", mode, h, err)
			}
			_ = err.Error()
		}
	}
}

// TestLenAndAddrEverywhere checks the sequence conventions: every Insn has
// the instruction's Addr, only the last has Len, and a control transfer is
// last.
func TestLenAndAddrEverywhere(t *testing.T) {
	d := New(64, 0x140000000, 0x100000)
	var out []ir.Insn
	for _, c := range x64Cases {
		code, _ := hex.DecodeString(strings.ReplaceAll(c.hex, " ", ""))
		out = out[:0]
		out, n, err := d.Lift(code, 0x2000, out)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for i, in := range out {
			if in.Addr != 0x2000 {
				t.Errorf("%s: insn %d addr %#x", c.name, i, in.Addr)
			}
			last := i == len(out)-1
			if last && int(in.Len) != n || !last && in.Len != 0 {
				t.Errorf("%s: insn %d len %d", c.name, i, in.Len)
			}
			switch in.Kind {
			case ir.Call, ir.Jump, ir.Branch, ir.Ret, ir.Halt:
				if !last {
					t.Errorf("%s: control transfer not last", c.name)
				}
			}
		}
	}
}

func FuzzLift(f *testing.F) {
	for _, cs := range [][]liftCase{x64Cases, x86Cases} {
		for _, c := range cs {
			code, _ := hex.DecodeString(strings.ReplaceAll(c.hex, " ", ""))
			f.Add(code, true)
			f.Add(code, false)
		}
	}
	// The forms the fast decoder takes after an operand-size prefix
	// (fast16), and mov r8, imm8; with REX.W, truncated immediates.
	for _, h := range []string{"6689442410", "66448944241c", "66c74424283412", "6681f9ffff", "6683f8ff", "664839c8",
		"66c7052000000034", "6681", "b201", "41b0ff", "6641894a08", "66490fc7"} {
		code, _ := hex.DecodeString(h)
		f.Add(code, true)
		f.Add(code, false)
	}
	if text := loadText(f); len(text) > 0 {
		for i := 0; i+15 <= len(text) && i < 1<<16; i += 997 {
			f.Add(text[i:i+15], true)
		}
	}
	d64 := New(64, 0x140000000, 0x100000)
	d32 := New(32, 0x400000, 0x100000)
	d32.SetRelocated(func(rva uint32) bool { return rva&1 == 0 })
	s64 := New(64, 0x140000000, 0x100000)
	s32 := New(32, 0x400000, 0x100000)
	s32.SetRelocated(func(rva uint32) bool { return rva&1 == 0 })
	s64.noFast, s32.noFast = true, true
	f.Fuzz(func(t *testing.T, code []byte, is64 bool) {
		d, s := d32, s32
		if is64 {
			d, s = d64, s64
		}
		out, n, err := d.Lift(code, 0x1000, nil)
		// The fast decoder must agree with x86asm.
		out2, n2, err2 := s.Lift(code, 0x1000, nil)
		if n != n2 || (err == nil) != (err2 == nil) || !reflect.DeepEqual(out, out2) {
			t.Fatalf("% x: fast n=%d err=%v %s\nx86asm n=%d err=%v %s", code, n, err, dump(out), n2, err2, dump(out2))
		}
		if err != nil {
			if n != 0 || len(out) != 0 {
				t.Fatalf("error with output")
			}
			return
		}
		if n <= 0 || n > len(code) || n > 15 {
			t.Fatalf("length %d of %d bytes", n, len(code))
		}
		if len(out) == 0 || int(out[len(out)-1].Len) != n {
			t.Fatalf("no insn or bad Len")
		}
		for i, in := range out {
			checkInsn(t, d, in, i == len(out)-1)
		}
	})
}

func checkInsn(t *testing.T, d *Decoder, in ir.Insn, last bool) {
	t.Helper()
	okReg := func(r ir.Reg) bool {
		return r == ir.RegNone || int(r) < NumRegs && (d.mode == 64 || r < 8)
	}
	okOp := func(o ir.Operand) bool {
		switch o.Kind {
		case ir.KReg:
			return o.Reg != ir.RegNone && okReg(o.Reg)
		case ir.KMem, ir.KAddr:
			return okReg(o.Mem.Base) && okReg(o.Mem.Index) && (!o.Mem.Global || o.Mem.Base == ir.RegNone && o.Mem.Index == ir.RegNone)
		}
		return true
	}
	switch in.Kind {
	case ir.Assign:
		if !okReg(in.Dst) || in.Dst == ir.RegNone || !okOp(in.A) || !okOp(in.B) {
			t.Fatalf("bad assign %s", in)
		}
		if in.Width != 1 && in.Width != 2 && in.Width != 4 && in.Width != 8 {
			t.Fatalf("bad width %s", in)
		}
		if d.mode == 32 && in.Width == 8 {
			t.Fatalf("64-bit write on x86: %s", in)
		}
	case ir.Store:
		if !okOp(ir.M(in.Mem)) || !okOp(in.A) || in.Width == 0 {
			t.Fatalf("bad store %s", in)
		}
	case ir.Clobber:
		if cap(in.Regs) != len(in.Regs) || len(in.Regs) == 0 {
			t.Fatalf("clobber list must be non-empty with no spare capacity: %s", in)
		}
		for _, r := range in.Regs {
			if !okReg(r) || r == ir.RegNone {
				t.Fatalf("bad clobber %s", in)
			}
		}
	case ir.Call, ir.Jump, ir.Branch:
		if !okOp(in.Target) || !last {
			t.Fatalf("bad transfer %s", in)
		}
	case ir.Ret, ir.Halt:
		if !last {
			t.Fatalf("transfer not last")
		}
	}
}

// loadText returns the .text of the wine ntoskrnl.exe when the corpus is
// present.
func loadText(tb testing.TB) []byte {
	const path = "/work/shared/corpus/wine-x64/ntoskrnl.exe"
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	pf, err := pe.NewFile(f)
	if err != nil {
		tb.Logf("%s: %v", path, err)
		return nil
	}
	s := pf.Section(".text")
	if s == nil {
		return nil
	}
	b, err := s.Data()
	if err != nil {
		return nil
	}
	if int(s.VirtualSize) < len(b) && s.VirtualSize > 0 {
		b = b[:s.VirtualSize]
	}
	return b
}

// BenchmarkLift sweeps the .text of wine's ntoskrnl.exe. The x86asm
// sub-benchmark disables the fast decoder, for comparison.
func BenchmarkLift(b *testing.B) {
	text := loadText(b)
	if len(text) == 0 {
		b.Skip("corpus file absent")
	}
	for _, bc := range []struct {
		name   string
		noFast bool
	}{{"fast", false}, {"x86asm", true}} {
		b.Run(bc.name, func(b *testing.B) {
			d := New(64, 0x140000000, 0x1000000)
			d.noFast = bc.noFast
			out := make([]ir.Insn, 0, 64)
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			b.ResetTimer()
			var insns, errs int
			for i := 0; i < b.N; i++ {
				insns, errs = 0, 0
				for pos := 0; pos < len(text); {
					var n int
					var err error
					out, n, err = d.Lift(text[pos:], 0x1000+uint32(pos), out[:0])
					if err != nil {
						errs++
						pos++
						continue
					}
					insns++
					pos += n
				}
			}
			b.ReportMetric(float64(insns), "insns/op")
			b.ReportMetric(float64(errs), "errors/op")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(insns), "ns/insn")
		})
	}
}
