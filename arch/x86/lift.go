package x86

import (
	"github.com/hvcicheck/hvcicheck/ir"
	"golang.org/x/arch/x86/x86asm"
)

// lifter holds the state of one Lift call. It lives on the caller's stack.
type lifter struct {
	d     *Decoder
	out   []ir.Insn
	start int // len(out) on entry
	rva   uint32
	n     int // instruction length
	inst  insn
}

// argKind says what an arg is.
type argKind uint8

const (
	argNone argKind = iota
	argReg
	argMem
	argImm
	argRel
)

// arg is an instruction operand, unboxed (x86asm boxes each operand into an
// interface, which allocates for memory operands).
type arg struct {
	kind argKind
	reg  x86asm.Reg
	imm  int64 // argImm, argRel
	mem  x86asm.Mem
}

// insn is the decoded instruction the lifter works from: x86asm.Inst with
// unboxed operands. The fast decoder fills it directly.
type insn struct {
	op       x86asm.Op
	args     [3]arg
	dataSize int
	addrSize int
	memBytes int
	opcode   byte // first opcode byte
	rep      bool // an F2/F3 prefix (string instructions)
}

// fromInst fills in from an x86asm result.
func (in *insn) fromInst(x *x86asm.Inst, mode int) {
	*in = insn{op: x.Op, dataSize: x.DataSize, addrSize: x.AddrSize, memBytes: x.MemBytes, opcode: byte(x.Opcode >> 24)}
	for i := range in.args {
		switch a := x.Args[i].(type) {
		case x86asm.Reg:
			if mode == 32 {
				a = reg32(a)
			}
			in.args[i] = arg{kind: argReg, reg: a}
		case x86asm.Mem:
			if mode == 32 {
				a.Base, a.Index = reg32(a.Base), reg32(a.Index)
			}
			in.args[i] = arg{kind: argMem, mem: a}
		case x86asm.Imm:
			in.args[i] = arg{kind: argImm, imm: int64(a)}
		case x86asm.Rel:
			in.args[i] = arg{kind: argRel, imm: int64(a)}
		}
	}
	for _, p := range x.Prefix {
		if p == 0 || p.IsVEX() || p.IsEVEX() { // VEX payload bytes are not prefixes
			break
		}
		if b := p & 0xFF; (b == 0xF3 || b == 0xF2) && p&x86asm.PrefixIgnored == 0 {
			in.rep = true
		}
	}
}

// reg32 maps a register x86asm returns in 32-bit mode to one that exists
// there: x86asm passes on VEX.vvvv's high bit (r9d), which the processor
// ignores outside 64-bit mode, and VEX.W (rax).
func reg32(r x86asm.Reg) x86asm.Reg {
	g := gprs[r]
	if g.w == 0 || g.n < 8 && g.w != 8 {
		return r
	}
	n := x86asm.Reg(g.n & 7)
	switch g.w {
	case 1: // without REX, byte registers 4..7 are ah..bh
		if n < 4 {
			return x86asm.AL + n
		}
		return x86asm.AH + n - 4
	case 2:
		return x86asm.AX + n
	}
	return x86asm.EAX + n
}

// gprArg returns the GPR an operand names.
func gprArg(a *arg) (gpr, bool) {
	if a.kind != argReg {
		return gpr{n: ir.RegNone}, false
	}
	g := gprs[a.reg]
	return g, g.w != 0
}

var none = ir.Operand{}

// finish ensures at least one Insn was appended and sets Len on the last.
func (l *lifter) finish(n int) []ir.Insn {
	if len(l.out) == l.start {
		l.out = append(l.out, ir.Insn{Kind: ir.Nop, Addr: l.rva})
	}
	l.out[len(l.out)-1].Len = uint8(n)
	return l.out
}

func (l *lifter) emit(in ir.Insn) {
	in.Addr = l.rva
	l.out = append(l.out, in)
}

func modeFor(w uint8) ir.WriteMode {
	if w < 4 {
		return ir.Merge
	}
	return ir.ZeroExtend
}

// maskW keeps the low w bytes of v (w >= 8: v unchanged).
func maskW(v int64, w uint8) int64 {
	if w >= 8 {
		return v
	}
	return int64(uint64(v) & (uint64(1)<<(8*uint(w)) - 1))
}

func (l *lifter) assign(dst ir.Reg, w uint8, op ir.Op, a, b ir.Operand, srcW uint8) {
	l.emit(ir.Insn{Kind: ir.Assign, Op: op, Dst: dst, A: a, B: b, Width: w, SrcWidth: srcW, Mode: modeFor(w)})
}

func (l *lifter) assignMode(dst ir.Reg, w uint8, mode ir.WriteMode, op ir.Op, a ir.Operand, srcW uint8) {
	l.emit(ir.Insn{Kind: ir.Assign, Op: op, Dst: dst, A: a, Width: w, SrcWidth: srcW, Mode: mode})
}

func (l *lifter) store(m ir.Mem, a ir.Operand, w, srcW uint8) {
	if a.Kind != ir.KMem {
		srcW = 0
	}
	l.emit(ir.Insn{Kind: ir.Store, Mem: m, A: a, Width: w, SrcWidth: srcW})
}

func (l *lifter) clobber(regs []ir.Reg) {
	l.emit(ir.Insn{Kind: ir.Clobber, Regs: regs})
}

func (l *lifter) nop()  { l.emit(ir.Insn{Kind: ir.Nop}) }
func (l *lifter) halt() { l.emit(ir.Insn{Kind: ir.Halt}) }

// unknownW makes the low w bytes of r unknown: a Clobber at 4 and 8 bytes,
// an OpUnknown Merge below.
func (l *lifter) unknownW(r ir.Reg, w uint8) {
	if w >= 4 {
		l.clobber(one(r))
		return
	}
	l.assign(r, w, ir.OpUnknown, none, none, 0)
}

// unknownGPR makes a written GPR operand unknown.
func (l *lifter) unknownGPR(g gpr) {
	if g.w == 0 {
		return
	}
	if g.high {
		l.clobber(one(g.n))
		return
	}
	l.unknownW(g.n, g.w)
}

func (l *lifter) spAdd(delta uint32) {
	p := l.d.ptr
	l.assign(RSP, p, ir.OpAdd, ir.R(RSP), ir.I(int64(delta)), 0)
}

func (l *lifter) spSub(delta uint32) {
	p := l.d.ptr
	l.assign(RSP, p, ir.OpSub, ir.R(RSP), ir.I(int64(delta)), 0)
}

func regMem(r ir.Reg, disp int64) ir.Mem {
	return ir.Mem{Base: r, Index: ir.RegNone, Disp: disp}
}

var topOfStack = regMem(RSP, 0)

// absMem places an absolute address: a Global RVA inside the image, else
// an absolute Disp.
func (d *Decoder) absMem(addr uint64) ir.Mem {
	if addr >= d.imageBase && addr-d.imageBase < uint64(d.sizeOfImage) {
		return ir.Mem{Base: ir.RegNone, Index: ir.RegNone, Disp: int64(addr - d.imageBase), Global: true}
	}
	return ir.Mem{Base: ir.RegNone, Index: ir.RegNone, Disp: int64(addr)}
}

// mem converts a memory operand. ok is false for fs:/gs: operands (not memory
// the engine tracks) and for vector-indexed (VSIB) ones.
func (l *lifter) mem(m x86asm.Mem) (ir.Mem, bool) {
	if m.Segment == x86asm.FS || m.Segment == x86asm.GS {
		return ir.Mem{}, false
	}
	out := ir.Mem{Base: ir.RegNone, Index: ir.RegNone}
	switch m.Base {
	case 0:
	case x86asm.RIP, x86asm.EIP:
		if m.Index != 0 {
			return ir.Mem{}, false
		}
		out.Global = true
		out.Disp = int64(l.rva) + int64(l.n) + int64(int32(m.Disp))
		return out, true
	default:
		g := gprs[m.Base]
		if g.w < 2 {
			return ir.Mem{}, false
		}
		out.Base = g.n
	}
	if m.Index != 0 {
		g := gprs[m.Index]
		if g.w < 2 {
			return ir.Mem{}, false
		}
		out.Index = g.n
		out.Scale = m.Scale
		if out.Scale == 0 {
			out.Scale = 1
		}
	}
	addrSize := l.inst.addrSize
	if out.Base == ir.RegNone && out.Index == ir.RegNone {
		var addr uint64
		switch {
		case addrSize == 16:
			addr = uint64(uint16(m.Disp))
		case addrSize == 32 || l.d.mode == 32:
			addr = uint64(uint32(m.Disp))
		case l.isMoffs():
			addr = uint64(m.Disp)
		default:
			addr = uint64(int64(int32(m.Disp)))
		}
		return l.d.absMem(addr), true
	}
	if addrSize == 16 {
		out.Disp = int64(int16(m.Disp))
	} else {
		out.Disp = int64(int32(m.Disp))
	}
	return out, true
}

// isMoffs reports the mov al/eax/rax <-> [moffs] forms (A0..A3), whose
// address is a full-width absolute one.
func (l *lifter) isMoffs() bool {
	b := l.inst.opcode
	return l.inst.op == x86asm.MOV && b >= 0xA0 && b <= 0xA3
}

// memW is the width of the instruction's memory operand, for GPR-sized
// operations.
func (l *lifter) memW() uint8 {
	mb := l.inst.memBytes
	if mb <= 0 || mb > 8 {
		if l.inst.dataSize == 16 {
			return 2
		}
		if l.inst.dataSize == 64 {
			return 8
		}
		return 4
	}
	return uint8(mb)
}

// storeW is the width of a store by an instruction not modelled exactly.
func (l *lifter) storeW() uint8 {
	switch l.inst.op {
	case x86asm.SGDT, x86asm.SIDT:
		if l.d.mode == 64 {
			return 10
		}
		return 6
	case x86asm.FNSTENV:
		return 28
	case x86asm.FNSAVE:
		return 108
	}
	mb := l.inst.memBytes
	if mb <= 0 || mb >= WidthUnknown {
		return WidthUnknown
	}
	return uint8(mb)
}

// imm gives an immediate at width w, or the address of a global when it is
// a relocated address inside the image (see SetRelocated).
func (l *lifter) imm(v int64, w uint8) ir.Operand {
	d := l.d
	if d.relocated != nil && w >= 4 {
		a := uint64(maskW(v, w))
		if a >= d.imageBase && a-d.imageBase < uint64(d.sizeOfImage) {
			size := uint32(4) // an imm32 is the instruction's last 4 bytes
			if in := &l.inst; in.op == x86asm.MOV && in.opcode >= 0xB8 && in.opcode <= 0xBF && w == 8 {
				size = 8 // mov r64, imm64
			}
			if uint32(l.n) >= size && d.relocated(l.rva+uint32(l.n)-size) {
				return ir.A(ir.Mem{Base: ir.RegNone, Index: ir.RegNone, Disp: int64(a - d.imageBase), Global: true})
			}
		}
	}
	return ir.I(maskW(v, w))
}

// src converts a source argument of an operation of width w. ok is false
// when the value cannot be expressed (ah..bh, fs:/gs: memory, non-GPR
// registers). srcW is the load width for a memory operand.
func (l *lifter) src(a *arg, w uint8) (op ir.Operand, srcW uint8, ok bool) {
	switch a.kind {
	case argReg:
		g := gprs[a.reg]
		if g.w == 0 || g.high {
			return none, 0, false
		}
		return ir.R(g.n), 0, true
	case argImm:
		return l.imm(a.imm, w), 0, true
	case argMem:
		m, ok := l.mem(a.mem)
		if !ok {
			return none, 0, false
		}
		return ir.M(m), l.memW(), true
	}
	return none, 0, false
}

func (l *lifter) target(a *arg) ir.Operand {
	switch a.kind {
	case argRel:
		return ir.I(int64(l.rva) + int64(l.n) + a.imm)
	case argReg:
		if g := gprs[a.reg]; g.w >= 2 && !g.high {
			return ir.R(g.n)
		}
	case argMem:
		if m, ok := l.mem(a.mem); ok {
			return ir.M(m)
		}
	}
	return none
}

func (l *lifter) lift() {
	inst := &l.inst
	args := &inst.args
	switch inst.op {
	case x86asm.MOV:
		l.mov()
	case x86asm.MOVNTI:
		l.mov()
	case x86asm.LEA:
		l.lea()
	case x86asm.MOVZX:
		l.extend(false)
	case x86asm.MOVSX, x86asm.MOVSXD:
		l.extend(true)

	case x86asm.ADD:
		l.binop(ir.OpAdd)
	case x86asm.SUB:
		l.binop(ir.OpSub)
	case x86asm.AND:
		l.binop(ir.OpAnd)
	case x86asm.OR:
		l.binop(ir.OpOr)
	case x86asm.XOR:
		l.binop(ir.OpXor)
	case x86asm.SHL:
		l.binop(ir.OpShl)
	case x86asm.SHR:
		l.binop(ir.OpShr)
	case x86asm.SAR:
		l.binop(ir.OpSar)
	case x86asm.INC:
		l.binopB(ir.OpAdd, &argOne)
	case x86asm.DEC:
		l.binopB(ir.OpSub, &argOne)
	case x86asm.NOT:
		l.unop(ir.OpNot)
	case x86asm.NEG:
		l.unop(ir.OpNeg)
	case x86asm.IMUL:
		switch {
		case args[1].kind == argNone:
			l.mulDiv(true)
		case args[2].kind == argNone:
			l.binop(ir.OpMul)
		default:
			l.imul3()
		}
	case x86asm.MUL:
		l.mulDiv(true)
	case x86asm.DIV, x86asm.IDIV:
		l.mulDiv(false)
	case x86asm.SHLX, x86asm.SHRX, x86asm.SARX:
		l.shiftx()
	case x86asm.BTS, x86asm.BTR, x86asm.BTC:
		l.bitop()

	case x86asm.PUSH:
		l.push()
	case x86asm.POP:
		l.pop()
	case x86asm.PUSHF, x86asm.PUSHFD, x86asm.PUSHFQ:
		p := l.pushfWidth()
		l.spSub(uint32(p))
		l.store(topOfStack, none, p, 0)
	case x86asm.POPF, x86asm.POPFD, x86asm.POPFQ:
		l.spAdd(uint32(l.pushfWidth()))
	case x86asm.PUSHA, x86asm.PUSHAD:
		l.pusha()
	case x86asm.POPA, x86asm.POPAD:
		l.popa()
	case x86asm.LEAVE:
		p := l.d.ptr
		l.assign(RSP, p, ir.OpMov, ir.R(RBP), none, 0)
		l.assign(RBP, p, ir.OpMov, ir.M(topOfStack), none, p)
		l.spAdd(uint32(p))
	case x86asm.ENTER:
		l.enter()

	case x86asm.CALL:
		if args[0].kind == argRel && args[0].imm == 0 {
			// call $+5: pushes its own return address (get-pc idiom).
			p := l.d.ptr
			l.spSub(uint32(p))
			next := int64(l.rva) + int64(l.n)
			l.store(topOfStack, ir.A(ir.Mem{Base: ir.RegNone, Index: ir.RegNone, Disp: next, Global: true}), p, 0)
			return
		}
		l.emit(ir.Insn{Kind: ir.Call, Target: l.target(&args[0])})
	case x86asm.LCALL:
		l.emit(ir.Insn{Kind: ir.Call})
	case x86asm.JMP:
		l.emit(ir.Insn{Kind: ir.Jump, Target: l.target(&args[0])})
	case x86asm.JA, x86asm.JAE, x86asm.JB, x86asm.JBE, x86asm.JE, x86asm.JG, x86asm.JGE,
		x86asm.JL, x86asm.JLE, x86asm.JNE, x86asm.JNO, x86asm.JNP, x86asm.JNS, x86asm.JO,
		x86asm.JP, x86asm.JS, x86asm.JCXZ, x86asm.JECXZ, x86asm.JRCXZ:
		l.emit(ir.Insn{Kind: ir.Branch, Target: l.target(&args[0])})
	case x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE:
		w := uint8(inst.addrSize / 8)
		l.assign(RCX, w, ir.OpSub, ir.R(RCX), ir.I(1), 0)
		l.emit(ir.Insn{Kind: ir.Branch, Target: l.target(&args[0])})
	case x86asm.XBEGIN:
		l.clobber(one(RAX))
		l.emit(ir.Insn{Kind: ir.Branch, Target: l.target(&args[0])})
	case x86asm.RET:
		var pop uint16
		if args[0].kind == argImm {
			pop = uint16(args[0].imm)
		}
		l.emit(ir.Insn{Kind: ir.Ret, PopBytes: pop})
	case x86asm.LRET, x86asm.IRET, x86asm.IRETD, x86asm.IRETQ, x86asm.SYSRET, x86asm.SYSEXIT,
		x86asm.SYSENTER, x86asm.RSM, x86asm.LJMP,
		x86asm.HLT, x86asm.UD0, x86asm.UD1, x86asm.UD2, x86asm.ICEBP:
		l.halt()
	case x86asm.INT:
		switch args[0].imm {
		case 3, 0x29: // int3, __fastfail
			l.halt()
		case 0x2c: // NT_ASSERT: continues when the debugger says so
			l.nop()
		default: // int 2e (x86 system call), int 2d (debug services), …
			l.clobber(l.d.callerSaved)
		}
	case x86asm.SYSCALL:
		if l.d.mode == 64 {
			l.clobber(fixed(clobberSyscall))
		} else {
			l.clobber(l.d.callerSaved)
		}

	case x86asm.SETA, x86asm.SETAE, x86asm.SETB, x86asm.SETBE, x86asm.SETE, x86asm.SETG,
		x86asm.SETGE, x86asm.SETL, x86asm.SETLE, x86asm.SETNE, x86asm.SETNO, x86asm.SETNP,
		x86asm.SETNS, x86asm.SETO, x86asm.SETP, x86asm.SETS:
		l.setcc()
	case x86asm.CMOVA, x86asm.CMOVAE, x86asm.CMOVB, x86asm.CMOVBE, x86asm.CMOVE, x86asm.CMOVG,
		x86asm.CMOVGE, x86asm.CMOVL, x86asm.CMOVLE, x86asm.CMOVNE, x86asm.CMOVNO, x86asm.CMOVNP,
		x86asm.CMOVNS, x86asm.CMOVO, x86asm.CMOVP, x86asm.CMOVS:
		l.cmov()
	case x86asm.XCHG:
		l.xchg()
	case x86asm.XADD:
		l.writeArg(&args[0])
		if g, ok := gprArg(&args[1]); ok {
			l.unknownGPR(g)
		}
	case x86asm.CMPXCHG:
		l.writeArg(&args[0])
		l.clobber(one(RAX))
	case x86asm.CMPXCHG8B, x86asm.CMPXCHG16B:
		l.writeArg(&args[0])
		l.clobber(fixed(clobberAXDX))
	case x86asm.MULX:
		if g, ok := gprArg(&args[1]); ok {
			l.unknownGPR(g)
		}
		if g, ok := gprArg(&args[0]); ok {
			l.unknownGPR(g)
		}

	case x86asm.CWD, x86asm.CDQ, x86asm.CQO:
		w := l.accW(inst.op == x86asm.CWD, inst.op == x86asm.CQO)
		l.assign(RDX, w, ir.OpSar, ir.R(RAX), ir.I(int64(8*w-1)), 0)
	case x86asm.CBW, x86asm.CWDE, x86asm.CDQE:
		w := l.accW(inst.op == x86asm.CBW, inst.op == x86asm.CDQE)
		l.assign(RAX, w, ir.OpSext, ir.R(RAX), none, w/2)

	case x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ,
		x86asm.STOSB, x86asm.STOSW, x86asm.STOSD, x86asm.STOSQ,
		x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ,
		x86asm.SCASB, x86asm.SCASW, x86asm.SCASD, x86asm.SCASQ,
		x86asm.CMPSB, x86asm.CMPSW, x86asm.CMPSD, x86asm.CMPSQ,
		x86asm.INSB, x86asm.INSW, x86asm.INSD,
		x86asm.OUTSB, x86asm.OUTSW, x86asm.OUTSD:
		l.stringOp()
	case x86asm.XLATB:
		l.assign(RAX, 1, ir.OpUnknown, none, none, 0)
	case x86asm.LAHF, x86asm.AAA, x86asm.AAS, x86asm.DAA, x86asm.DAS, x86asm.AAM, x86asm.AAD:
		l.clobber(one(RAX))
	case x86asm.CPUID:
		l.clobber(fixed(clobberAXBXCXDX))
	case x86asm.RDTSC, x86asm.RDMSR, x86asm.RDPMC, x86asm.XGETBV:
		l.clobber(fixed(clobberAXDX))
	case x86asm.RDTSCP:
		l.clobber(fixed(clobberAXCXDX))
	case x86asm.PCMPESTRI, x86asm.PCMPISTRI, x86asm.VPCMPESTRI, x86asm.VPCMPISTRI,
		x86asm.VPCMPESTRI64, x86asm.VPCMPISTRI64: // the index goes to ecx
		l.clobber(one(RCX))
	case x86asm.MASKMOVQ, x86asm.MASKMOVDQU, x86asm.VMASKMOVDQU:
		w := uint8(16)
		if inst.op == x86asm.MASKMOVQ {
			w = 8
		}
		l.store(regMem(RDI, 0), none, w, 0)

	default:
		if int(inst.op) < len(readOnly) && readOnly[inst.op] {
			l.nop()
			return
		}
		l.writeArg(&args[0])
	}
}

// writeArg makes a written operand unknown: a GPR, or the memory it names.
func (l *lifter) writeArg(a *arg) {
	switch a.kind {
	case argReg:
		l.unknownGPR(gprs[a.reg])
	case argMem:
		if m, ok := l.mem(a.mem); ok {
			l.store(m, none, l.storeW(), 0)
		}
	}
}

// accW is the accumulator width of cwd/cdq/cqo and cbw/cwde/cdqe.
func (l *lifter) accW(is16, is64 bool) uint8 {
	switch {
	case is16:
		return 2
	case is64:
		return 8
	}
	return 4
}

func (l *lifter) pushfWidth() uint8 {
	switch l.inst.op {
	case x86asm.PUSHF, x86asm.POPF:
		return 2
	case x86asm.PUSHFD, x86asm.POPFD:
		return 4
	}
	return 8
}

func (l *lifter) mov() {
	args := &l.inst.args
	switch d := &args[0]; d.kind {
	case argReg:
		g := gprs[d.reg]
		if g.w == 0 { // mov to a segment, control or debug register
			l.nop()
			return
		}
		if g.high {
			l.clobber(one(g.n))
			return
		}
		if sg, ok := gprArg(&args[1]); ok && sg.high {
			l.assign(g.n, g.w, ir.OpShr, ir.R(sg.n), ir.I(8), 0)
			return
		}
		a, sw, ok := l.src(&args[1], g.w)
		if !ok {
			l.unknownGPR(g)
			return
		}
		l.assign(g.n, g.w, ir.OpMov, a, none, sw)
	case argMem:
		m, ok := l.mem(d.mem)
		if !ok {
			l.nop()
			return
		}
		w := l.memW()
		a, sw, ok := l.src(&args[1], w)
		if !ok {
			a = none
		}
		l.store(m, a, w, sw)
	default:
		l.nop()
	}
}

func (l *lifter) lea() {
	args := &l.inst.args
	g, ok := gprArg(&args[0])
	if !ok || args[1].kind != argMem {
		l.writeArg(&args[0])
		return
	}
	m := args[1].mem
	m.Segment = 0 // lea computes the offset only
	mm, ok := l.mem(m)
	if !ok {
		l.unknownGPR(g)
		return
	}
	w := g.w
	if as := uint8(l.inst.addrSize / 8); as != 0 && as < w {
		w = as
	}
	l.assignMode(g.n, w, modeFor(g.w), ir.OpMov, ir.A(mm), 0)
}

// extend lifts movzx (sign false) and movsx/movsxd (sign true).
func (l *lifter) extend(sign bool) {
	args := &l.inst.args
	g, ok := gprArg(&args[0])
	if !ok || g.high {
		l.writeArg(&args[0])
		return
	}
	op := ir.OpMov
	if sign {
		op = ir.OpSext
	}
	switch s := &args[1]; s.kind {
	case argReg:
		sg := gprs[s.reg]
		if sg.w == 0 {
			l.unknownGPR(g)
			return
		}
		if sg.w >= g.w { // movsxd r32, r32: a plain mov
			l.assign(g.n, g.w, ir.OpMov, ir.R(sg.n), none, 0)
			return
		}
		a := ir.R(sg.n)
		if sg.high {
			l.assign(g.n, g.w, ir.OpShr, ir.R(sg.n), ir.I(8), 0)
			a = ir.R(g.n)
		}
		if sign {
			l.assign(g.n, g.w, ir.OpSext, a, none, sg.w)
		} else {
			l.assign(g.n, g.w, ir.OpAnd, a, ir.I(maskW(-1, sg.w)), 0)
		}
	case argMem:
		m, ok := l.mem(s.mem)
		if !ok {
			l.unknownGPR(g)
			return
		}
		sw := l.memW()
		if sw >= g.w {
			op = ir.OpMov
		}
		l.assign(g.n, g.w, op, ir.M(m), none, sw)
	default:
		l.unknownGPR(g)
	}
}

var argOne = arg{kind: argImm, imm: 1}

func (l *lifter) binop(op ir.Op) { l.binopB(op, &l.inst.args[1]) }

// binopB lifts dst = dst op b.
func (l *lifter) binopB(op ir.Op, b *arg) {
	d := &l.inst.args[0]
	isShift := op == ir.OpShl || op == ir.OpShr || op == ir.OpSar
	switch d.kind {
	case argReg:
		g := gprs[d.reg]
		if g.w == 0 {
			l.nop()
			return
		}
		if g.high {
			l.highByteOp(g, op, b)
			return
		}
		if (op == ir.OpXor || op == ir.OpSub) && b.kind == argReg && b.reg == d.reg {
			l.assign(g.n, g.w, ir.OpMov, ir.I(0), none, 0)
			return
		}
		var bo ir.Operand
		var sw uint8
		if b.kind == argImm && isShift {
			bo = ir.I(shiftCount(b.imm, g.w))
		} else {
			var ok bool
			bo, sw, ok = l.src(b, g.w)
			if !ok {
				l.unknownGPR(g)
				return
			}
		}
		l.assign(g.n, g.w, op, ir.R(g.n), bo, sw)
	case argMem:
		m, ok := l.mem(d.mem)
		if !ok {
			l.nop()
			return
		}
		w := l.memW()
		if b.kind == argImm && !isShift {
			v := maskW(b.imm, w)
			switch {
			case op == ir.OpAnd && v == 0:
				l.store(m, ir.I(0), w, 0)
				return
			case op == ir.OpOr && v == maskW(-1, w):
				l.store(m, ir.I(v), w, 0)
				return
			}
		}
		l.store(m, none, w, 0)
	default:
		l.nop()
	}
}

// highByteOp lifts `or/and/xor ah, imm` (gcc sets bit 0x400 with `or ch, 4`)
// as the same operation on the whole register with the immediate moved to
// bits 8..15; other operations on ah..dh make the register unknown.
func (l *lifter) highByteOp(g gpr, op ir.Op, b *arg) {
	if b.kind != argImm || (op != ir.OpOr && op != ir.OpXor && op != ir.OpAnd) {
		l.clobber(one(g.n))
		return
	}
	v := (b.imm & 0xff) << 8
	if op == ir.OpAnd {
		v |= ^int64(0xff00)
	}
	w := uint8(l.d.arch.PtrSize)
	l.assign(g.n, w, op, ir.R(g.n), ir.I(maskW(v, w)), 0)
}

// cmov lifts a conditional move as a select between the destination's old
// value and the source (a 32-bit cmov zero-extends either way).
func (l *lifter) cmov() {
	d := &l.inst.args[0]
	g, ok := gprArg(d)
	if !ok || g.high {
		l.writeArg(d)
		return
	}
	bo, sw, ok := l.src(&l.inst.args[1], g.w)
	if !ok {
		l.unknownGPR(g)
		return
	}
	l.assign(g.n, g.w, ir.OpSelect, ir.R(g.n), bo, sw)
}

func shiftCount(c int64, w uint8) int64 {
	if w == 8 {
		return c & 63
	}
	return c & 31
}

func (l *lifter) unop(op ir.Op) {
	switch d := &l.inst.args[0]; d.kind {
	case argReg:
		g := gprs[d.reg]
		if g.w == 0 {
			l.nop()
			return
		}
		if g.high {
			l.clobber(one(g.n))
			return
		}
		l.assign(g.n, g.w, op, ir.R(g.n), none, 0)
	default:
		l.writeArg(d)
	}
}

func (l *lifter) imul3() {
	args := &l.inst.args
	g, ok := gprArg(&args[0])
	if !ok || g.high {
		l.writeArg(&args[0])
		return
	}
	a, sw, ok := l.src(&args[1], g.w)
	if !ok || args[2].kind != argImm {
		l.unknownGPR(g)
		return
	}
	l.assign(g.n, g.w, ir.OpMul, a, ir.I(maskW(args[2].imm, g.w)), sw)
}

// mulDiv lifts one-operand mul/imul (mul true) and div/idiv.
func (l *lifter) mulDiv(mul bool) {
	a := &l.inst.args[0]
	var w uint8
	switch a.kind {
	case argReg:
		w = gprs[a.reg].w
	case argMem:
		w = l.memW()
	}
	switch w {
	case 0:
		l.clobber(fixed(clobberAXDX))
	case 1: // ax = al * src8, or al, ah = ax / src8
		l.assign(RAX, 2, ir.OpUnknown, none, none, 0)
	default:
		if mul {
			if b, sw, ok := l.src(a, w); ok {
				l.emit(ir.Insn{Kind: ir.Assign, Op: ir.OpMul, Dst: RAX, A: ir.R(RAX), B: b, Width: w, SrcWidth: sw, Mode: modeFor(w)})
			} else {
				l.unknownW(RAX, w)
			}
		} else {
			l.unknownW(RAX, w)
		}
		l.unknownW(RDX, w)
	}
}

// shiftx lifts BMI2 shlx/shrx/sarx dst, src, count.
func (l *lifter) shiftx() {
	args := &l.inst.args
	g, ok := gprArg(&args[0])
	if !ok || g.w < 4 {
		l.writeArg(&args[0])
		return
	}
	a, sw, oka := l.src(&args[1], g.w)
	cg, okc := gprArg(&args[2])
	if !oka || !okc || cg.high {
		l.unknownGPR(g)
		return
	}
	op := ir.OpShl
	switch l.inst.op {
	case x86asm.SHRX:
		op = ir.OpShr
	case x86asm.SARX:
		op = ir.OpSar
	}
	l.assign(g.n, g.w, op, a, ir.R(cg.n), sw)
}

// bitop lifts bts/btr/btc with an immediate bit index on a register as
// or/and/xor with a constant.
func (l *lifter) bitop() {
	args := &l.inst.args
	g, ok := gprArg(&args[0])
	if !ok || args[1].kind != argImm || g.w < 2 {
		l.writeArg(&args[0])
		return
	}
	bit := uint64(1) << (uint64(args[1].imm) % (8 * uint64(g.w)))
	switch l.inst.op {
	case x86asm.BTS:
		l.assign(g.n, g.w, ir.OpOr, ir.R(g.n), ir.I(maskW(int64(bit), g.w)), 0)
	case x86asm.BTR:
		l.assign(g.n, g.w, ir.OpAnd, ir.R(g.n), ir.I(maskW(int64(^bit), g.w)), 0)
	default:
		l.assign(g.n, g.w, ir.OpXor, ir.R(g.n), ir.I(maskW(int64(bit), g.w)), 0)
	}
}

func (l *lifter) stackWidth() uint8 {
	if l.inst.dataSize == 16 {
		return 2
	}
	return l.d.ptr
}

func (l *lifter) push() {
	p := l.stackWidth()
	var a ir.Operand
	var sw uint8
	switch s := &l.inst.args[0]; s.kind {
	case argReg:
		if g := gprs[s.reg]; g.w >= 2 && !g.high {
			if g.n == RSP {
				a = ir.A(regMem(RSP, int64(p)))
			} else {
				a = ir.R(g.n)
			}
		}
	case argImm:
		a = l.imm(s.imm, p)
	case argMem:
		if m, ok := l.mem(s.mem); ok {
			if m.Base == RSP {
				m.Disp += int64(p)
			}
			a, sw = ir.M(m), p
		}
	}
	l.spSub(uint32(p))
	l.store(topOfStack, a, p, sw)
}

func (l *lifter) pop() {
	p := l.stackWidth()
	switch d := &l.inst.args[0]; d.kind {
	case argReg:
		g := gprs[d.reg]
		if g.w == 0 { // pop a segment register
			l.spAdd(uint32(p))
			return
		}
		if g.n == RSP {
			l.assign(RSP, p, ir.OpMov, ir.M(topOfStack), none, p)
			return
		}
		l.assign(g.n, p, ir.OpMov, ir.M(topOfStack), none, p)
		l.spAdd(uint32(p))
	case argMem:
		if m, ok := l.mem(d.mem); ok {
			if m.Base == RSP { // the address is computed after the increment
				m.Disp += int64(p)
			}
			l.store(m, ir.M(topOfStack), p, p)
		}
		l.spAdd(uint32(p))
	default:
		l.spAdd(uint32(p))
	}
}

// pusha pushes eax, ecx, edx, ebx, the original esp, ebp, esi, edi.
func (l *lifter) pusha() {
	w := uint8(4)
	if l.inst.op == x86asm.PUSHA {
		w = 2
	}
	for i := 0; i < 8; i++ {
		var a ir.Operand = ir.R(ir.Reg(i))
		l.store(regMem(RSP, -int64(w)*int64(i+1)), a, w, 0)
	}
	l.spSub(8 * uint32(w))
}

func (l *lifter) popa() {
	w := uint8(4)
	if l.inst.op == x86asm.POPA {
		w = 2
	}
	for i := 0; i < 8; i++ {
		r := ir.Reg(7 - i) // edi first
		if r == RSP {
			continue
		}
		l.assign(r, w, ir.OpMov, ir.M(regMem(RSP, int64(w)*int64(i))), none, w)
	}
	l.spAdd(8 * uint32(w))
}

// enter size, level: push rbp; frame = rsp; push level-1 saved frame
// pointers and frame; rbp = frame; rsp -= size.
func (l *lifter) enter() {
	args := &l.inst.args
	size, level := args[0].imm, args[1].imm
	p := l.d.ptr
	lv := level & 31
	l.spSub(uint32(p))
	l.store(topOfStack, ir.R(RBP), p, 0)
	if lv > 0 {
		for i := int64(1); i < lv; i++ {
			l.spSub(uint32(p))
			l.store(topOfStack, none, p, 0)
		}
		l.spSub(uint32(p))
		l.store(topOfStack, ir.A(regMem(RSP, int64(p)*lv)), p, 0)
		l.assign(RBP, p, ir.OpMov, ir.A(regMem(RSP, int64(p)*lv)), none, 0)
	} else {
		l.assign(RBP, p, ir.OpMov, ir.R(RSP), none, 0)
	}
	l.spSub(uint32(uint16(size)))
}

func (l *lifter) setcc() {
	switch d := &l.inst.args[0]; d.kind {
	case argReg:
		g := gprs[d.reg]
		if g.w == 0 {
			l.nop()
			return
		}
		if g.high {
			l.clobber(one(g.n))
			return
		}
		l.assign(g.n, 1, ir.OpUnknown, none, none, 0)
		l.assign(g.n, 1, ir.OpAnd, ir.R(g.n), ir.I(1), 0)
	case argMem:
		if m, ok := l.mem(d.mem); ok {
			l.store(m, none, 1, 0)
		}
	}
}

func (l *lifter) xchg() {
	args := &l.inst.args
	ok0, ok1 := args[0].kind == argReg, args[1].kind == argReg
	switch {
	case ok0 && ok1:
		g0, g1 := gprs[args[0].reg], gprs[args[1].reg]
		if g0.w == 0 || g1.w == 0 {
			l.unknownGPR(g0)
			l.unknownGPR(g1)
			return
		}
		if g0.n == g1.n {
			if g0.high != g1.high {
				l.clobber(one(g0.n))
			} else if g0.w == 4 { // xchg eax, eax clears the upper half
				l.assign(g0.n, 4, ir.OpMov, ir.R(g0.n), none, 0)
			} else {
				l.nop()
			}
			return
		}
		if g0.high || g1.high {
			l.unknownGPR(g0)
			l.unknownGPR(g1)
			return
		}
		// a ^= b; b ^= a; a ^= b: exact for known values.
		w := g0.w
		a, b := g0.n, g1.n
		l.assign(a, w, ir.OpXor, ir.R(a), ir.R(b), 0)
		l.assign(b, w, ir.OpXor, ir.R(b), ir.R(a), 0)
		l.assign(a, w, ir.OpXor, ir.R(a), ir.R(b), 0)
	case ok0 || ok1:
		r, ma := &args[0], &args[1]
		if !ok0 {
			r, ma = ma, r
		}
		g := gprs[r.reg]
		if ma.kind == argMem {
			if m, ok := l.mem(ma.mem); ok {
				var a ir.Operand
				if g.w != 0 && !g.high {
					a = ir.R(g.n)
				}
				l.store(m, a, l.memW(), 0)
			}
		}
		l.unknownGPR(g)
	default:
		l.nop()
	}
}

var (
	clobberDICX   = []ir.Reg{RDI, RCX}
	clobberSIDICX = []ir.Reg{RSI, RDI, RCX}
	clobberAXCXSI = []ir.Reg{RAX, RCX, RSI}
)

// stringOp lifts movs, stos, lods, scas, cmps, ins and outs, with or
// without rep. The direction flag is taken as clear (the Windows ABI).
func (l *lifter) stringOp() {
	inst := &l.inst
	var sz uint8
	switch inst.op {
	case x86asm.MOVSB, x86asm.STOSB, x86asm.LODSB, x86asm.SCASB, x86asm.CMPSB, x86asm.INSB, x86asm.OUTSB:
		sz = 1
	case x86asm.MOVSW, x86asm.STOSW, x86asm.LODSW, x86asm.SCASW, x86asm.CMPSW, x86asm.INSW, x86asm.OUTSW:
		sz = 2
	case x86asm.MOVSD, x86asm.STOSD, x86asm.LODSD, x86asm.SCASD, x86asm.CMPSD, x86asm.INSD, x86asm.OUTSD:
		sz = 4
	default:
		sz = 8
	}
	aw := uint8(inst.addrSize / 8)
	if aw == 0 {
		aw = l.d.ptr
	}
	rep := inst.rep
	di, si := regMem(RDI, 0), regMem(RSI, 0)
	// srcOK: the source is not behind an fs:/gs: override.
	srcOK := true
	for i := range inst.args {
		if a := &inst.args[i]; a.kind == argMem && a.mem.Base != 0 && gprs[a.mem.Base].n == RSI {
			srcOK = a.mem.Segment != x86asm.FS && a.mem.Segment != x86asm.GS
		}
	}
	advance := func(r ir.Reg) {
		if rep { // r += rcx*sz, then rcx = 0
			l.assign(r, aw, ir.OpMov, ir.A(ir.Mem{Base: r, Index: RCX, Scale: sz}), none, 0)
		} else {
			l.assign(r, aw, ir.OpAdd, ir.R(r), ir.I(int64(sz)), 0)
		}
	}
	switch inst.op {
	case x86asm.MOVSB, x86asm.MOVSW, x86asm.MOVSD, x86asm.MOVSQ:
		switch {
		case rep:
			l.store(di, none, WidthUnknown, 0)
		case srcOK:
			l.store(di, ir.M(si), sz, sz)
		default:
			l.store(di, none, sz, 0)
		}
		advance(RDI)
		advance(RSI)
	case x86asm.STOSB, x86asm.STOSW, x86asm.STOSD, x86asm.STOSQ:
		if rep {
			l.store(di, none, WidthUnknown, 0)
		} else {
			l.store(di, ir.R(RAX), sz, 0)
		}
		advance(RDI)
	case x86asm.INSB, x86asm.INSW, x86asm.INSD:
		if rep {
			l.store(di, none, WidthUnknown, 0)
		} else {
			l.store(di, none, sz, 0)
		}
		advance(RDI)
	case x86asm.OUTSB, x86asm.OUTSW, x86asm.OUTSD:
		advance(RSI)
	case x86asm.LODSB, x86asm.LODSW, x86asm.LODSD, x86asm.LODSQ:
		if rep {
			l.clobber(fixed(clobberAXCXSI))
			return
		}
		if srcOK {
			l.assign(RAX, sz, ir.OpMov, ir.M(si), none, sz)
		} else {
			l.unknownW(RAX, sz)
		}
		advance(RSI)
		return
	case x86asm.SCASB, x86asm.SCASW, x86asm.SCASD, x86asm.SCASQ:
		if rep { // stops on a match: rdi and rcx unknown
			l.clobber(fixed(clobberDICX))
			return
		}
		advance(RDI)
		return
	default: // cmps
		if rep {
			l.clobber(fixed(clobberSIDICX))
			return
		}
		advance(RSI)
		advance(RDI)
		return
	}
	if rep {
		l.assign(RCX, aw, ir.OpMov, ir.I(0), none, 0)
	}
}

// readOnly marks instructions whose first operand is only read (so the
// fallback must not treat it as a destination).
var readOnly []bool

func init() {
	for _, op := range []x86asm.Op{
		x86asm.NOP, x86asm.PAUSE, x86asm.CMP, x86asm.TEST, x86asm.BT,
		x86asm.PREFETCHNTA, x86asm.PREFETCHT0, x86asm.PREFETCHT1, x86asm.PREFETCHT2, x86asm.PREFETCHW,
		x86asm.LFENCE, x86asm.MFENCE, x86asm.SFENCE, x86asm.CLFLUSH, x86asm.INVLPG, x86asm.INVPCID,
		x86asm.WRMSR, x86asm.WBINVD, x86asm.INVD, x86asm.CLI, x86asm.STI, x86asm.CLD, x86asm.STD,
		x86asm.CLC, x86asm.STC, x86asm.CMC, x86asm.SAHF, x86asm.LGDT, x86asm.LIDT, x86asm.LLDT,
		x86asm.LTR, x86asm.LMSW, x86asm.SWAPGS, x86asm.XSETBV, x86asm.WRFSBASE, x86asm.WRGSBASE,
		x86asm.MONITOR, x86asm.MWAIT, x86asm.VERR, x86asm.VERW, x86asm.FWAIT, x86asm.EMMS,
		x86asm.XEND, x86asm.XABORT, x86asm.XTEST, x86asm.CLTS, x86asm.OUT, x86asm.INTO, x86asm.BOUND,
		x86asm.LDMXCSR, x86asm.VLDMXCSR, x86asm.FXRSTOR, x86asm.FXRSTOR64, x86asm.XRSTOR,
		x86asm.XRSTOR64, x86asm.XRSTORS, x86asm.XRSTORS64,
		x86asm.FLD, x86asm.FILD, x86asm.FBLD, x86asm.FADD, x86asm.FSUB, x86asm.FSUBR, x86asm.FMUL,
		x86asm.FDIV, x86asm.FDIVR, x86asm.FCOM, x86asm.FCOMP, x86asm.FIADD, x86asm.FISUB,
		x86asm.FISUBR, x86asm.FIMUL, x86asm.FIDIV, x86asm.FIDIVR, x86asm.FICOM, x86asm.FICOMP,
		x86asm.FLDCW, x86asm.FLDENV, x86asm.FRSTOR, x86asm.FNINIT, x86asm.FNCLEX,
		x86asm.PTEST, x86asm.VPTEST, x86asm.COMISS, x86asm.COMISD, x86asm.UCOMISS, x86asm.UCOMISD,
		x86asm.VCOMISS, x86asm.VCOMISD, x86asm.VUCOMISS, x86asm.VUCOMISD,
		x86asm.KORTESTB, x86asm.KORTESTW, x86asm.KORTESTD, x86asm.KORTESTQ,
		x86asm.KTESTB, x86asm.KTESTW, x86asm.KTESTD, x86asm.KTESTQ,
	} {
		for int(op) >= len(readOnly) {
			readOnly = append(readOnly, false)
		}
		readOnly[op] = true
	}
}
