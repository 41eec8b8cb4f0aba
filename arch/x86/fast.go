package x86

import (
	"encoding/binary"

	"golang.org/x/arch/x86/x86asm"
)

// The fast decoder: the encodings that make up most compiled code (mov,
// lea, push/pop, call/jmp/jcc, ALU ops, shifts, movzx/movsx, setcc, cmov,
// nop, ret, int3) with no legacy prefix but an operand-size prefix on the
// 16-bit forms of mov, test and the ALU ops (fast16), and at most a REX,
// decoded straight
// into the lifter's insn, with the operands as x86asm would give them.
// Lifting is then shared. It is several times faster than x86asm's table
// interpreter and does not allocate; TestFastMatchesX86asm checks it
// against x86asm on the corpus.
// Anything else (and every form x86asm rejects) returns ok false and takes
// the x86asm path.

var (
	group1 = [8]x86asm.Op{x86asm.ADD, x86asm.OR, x86asm.ADC, x86asm.SBB, x86asm.AND, x86asm.SUB, x86asm.XOR, x86asm.CMP}
	group2 = [8]x86asm.Op{x86asm.ROL, x86asm.ROR, x86asm.RCL, x86asm.RCR, x86asm.SHL, x86asm.SHR, 0, x86asm.SAR}
	group3 = [8]x86asm.Op{x86asm.TEST, 0, x86asm.NOT, x86asm.NEG, x86asm.MUL, x86asm.IMUL, x86asm.DIV, x86asm.IDIV}
	jcc    = [16]x86asm.Op{x86asm.JO, x86asm.JNO, x86asm.JB, x86asm.JAE, x86asm.JE, x86asm.JNE, x86asm.JBE, x86asm.JA,
		x86asm.JS, x86asm.JNS, x86asm.JP, x86asm.JNP, x86asm.JL, x86asm.JGE, x86asm.JLE, x86asm.JG}
	setcc = [16]x86asm.Op{x86asm.SETO, x86asm.SETNO, x86asm.SETB, x86asm.SETAE, x86asm.SETE, x86asm.SETNE, x86asm.SETBE, x86asm.SETA,
		x86asm.SETS, x86asm.SETNS, x86asm.SETP, x86asm.SETNP, x86asm.SETL, x86asm.SETGE, x86asm.SETLE, x86asm.SETG}
	cmovcc = [16]x86asm.Op{x86asm.CMOVO, x86asm.CMOVNO, x86asm.CMOVB, x86asm.CMOVAE, x86asm.CMOVE, x86asm.CMOVNE, x86asm.CMOVBE, x86asm.CMOVA,
		x86asm.CMOVS, x86asm.CMOVNS, x86asm.CMOVP, x86asm.CMOVNP, x86asm.CMOVL, x86asm.CMOVGE, x86asm.CMOVLE, x86asm.CMOVG}
	// alu maps the low opcodes 00..3F (op>>3) to their operation.
	alu = [8]x86asm.Op{x86asm.ADD, x86asm.OR, 0, 0, x86asm.AND, x86asm.SUB, x86asm.XOR, x86asm.CMP}
	// fast16 marks the opcodes the fast decoder takes after an
	// operand-size prefix (66): the 16-bit forms of the ALU ops r/m,r and
	// r,r/m, of group 1 with an immediate, of test, and of mov r/m,r, r,r/m
	// and r/m,imm. They are about half of what took x86asm's path in the
	// driver corpus (word fields of structures).
	fast16 = func() (t [256]bool) {
		for op := 0; op < 0x40; op++ {
			if op&7 == 1 || op&7 == 3 {
				t[op] = alu[op>>3] != 0
			}
		}
		for _, op := range []byte{0x81, 0x83, 0x85, 0x89, 0x8B, 0xC7} {
			t[op] = true
		}
		return t
	}()
)

// xreg returns register n (0..15) of size bytes as x86asm numbers it.
func xreg(n byte, size int, rex byte) x86asm.Reg {
	switch size {
	case 1:
		switch {
		case n < 4:
			return x86asm.AL + x86asm.Reg(n)
		case n < 8 && rex == 0:
			return x86asm.AH + x86asm.Reg(n-4)
		case n < 8:
			return x86asm.SPB + x86asm.Reg(n-4)
		}
		return x86asm.R8B + x86asm.Reg(n-8)
	case 2:
		return x86asm.AX + x86asm.Reg(n)
	case 4:
		return x86asm.EAX + x86asm.Reg(n)
	}
	return x86asm.RAX + x86asm.Reg(n)
}

// fastModRM decodes ModRM (and SIB and displacement) at code[pos]: the r/m
// operand (a register of size bytes, or memory), the reg field with REX.R,
// and the offset past it.
func (l *lifter) fastModRM(code []byte, pos int, rex byte, size int) (rmArg arg, reg byte, end int, ok bool) {
	if pos >= len(code) {
		return arg{}, 0, 0, false
	}
	b := code[pos]
	pos++
	mod, rm := b>>6, b&7
	reg = b>>3&7 | (rex>>2&1)<<3
	if mod == 3 {
		return rarg(rm|(rex&1)<<3, size, rex), reg, pos, true
	}
	base := x86asm.RAX
	if l.d.mode == 32 {
		base = x86asm.EAX
	}
	var m x86asm.Mem
	hasSIB := false
	var sibBase byte
	if rm == 4 {
		if pos >= len(code) {
			return arg{}, 0, 0, false
		}
		sib := code[pos]
		pos++
		hasSIB = true
		m.Scale = 1 << (sib >> 6)
		if idx := sib>>3&7 | (rex>>1&1)<<3; idx != 4 {
			m.Index = base + x86asm.Reg(idx)
		}
		sibBase = sib & 7
		if !(sibBase == 5 && mod == 0) {
			m.Base = base + x86asm.Reg(sibBase|(rex&1)<<3)
		}
	} else if !(rm == 5 && mod == 0) {
		m.Base = base + x86asm.Reg(rm|(rex&1)<<3)
	}
	switch {
	case mod == 1:
		if pos >= len(code) {
			return arg{}, 0, 0, false
		}
		m.Disp = int64(int8(code[pos]))
		pos++
	case mod == 2 || mod == 0 && (rm == 5 || hasSIB && sibBase == 5):
		if pos+4 > len(code) {
			return arg{}, 0, 0, false
		}
		m.Disp = int64(binary.LittleEndian.Uint32(code[pos:])) // unsigned, as x86asm gives it
		pos += 4
	}
	if l.d.mode == 64 && mod == 0 && rm == 5 {
		m.Base = x86asm.RIP
	}
	return arg{kind: argMem, mem: m}, reg, pos, true
}

func rarg(n byte, size int, rex byte) arg { return arg{kind: argReg, reg: xreg(n, size, rex)} }
func immArg(v int64) arg                  { return arg{kind: argImm, imm: v} }
func relArg(v int64) arg                  { return arg{kind: argRel, imm: v} }

func imm8(code []byte, pos int) (int64, bool) {
	if pos >= len(code) {
		return 0, false
	}
	return int64(int8(code[pos])), true
}

func imm16(code []byte, pos int) (int64, bool) {
	if pos+2 > len(code) {
		return 0, false
	}
	return int64(int16(binary.LittleEndian.Uint16(code[pos:]))), true
}

func imm32(code []byte, pos int) (int64, bool) {
	if pos+4 > len(code) {
		return 0, false
	}
	return int64(int32(binary.LittleEndian.Uint32(code[pos:]))), true
}

// fast decodes the common encodings into l.inst and lifts them. ok is false
// when the bytes are not one of them.
func (l *lifter) fast(code []byte) (n int, ok bool) {
	d := l.d
	i := 0
	p66 := code[0] == 0x66
	if p66 {
		i = 1
	}
	var rex byte
	if d.mode == 64 && i < len(code) && code[i]&0xF0 == 0x40 {
		rex, i = code[i], i+1
	}
	if i >= len(code) {
		return 0, false
	}
	op := code[i]
	i++
	if p66 && !fast16[op] {
		return 0, false
	}
	inst := &l.inst
	// l.inst is still zero: set only what is not.
	inst.addrSize, inst.dataSize, inst.opcode = d.mode, 32, op
	size := 4
	switch {
	case rex&8 != 0: // REX.W wins over 66
		inst.dataSize, size = 64, 8
	case p66:
		inst.dataSize, size = 16, 2
	}
	ptrReg := 8 // push/pop/call/jmp operands
	if d.mode == 32 {
		ptrReg = 4
	}
	args := &inst.args
	var end int

	// modrm decodes the r/m operand of osize bytes and the reg field.
	modrm := func(osize int) (arg, byte, bool) {
		a, reg, e, ok := l.fastModRM(code, i, rex, osize)
		if !ok {
			return arg{}, 0, false
		}
		end = e
		if a.kind == argMem {
			inst.memBytes = osize
		}
		return a, reg, true
	}

	switch {
	case op < 0x40 && op&7 <= 3 && alu[op>>3] != 0:
		// add/or/and/sub/xor/cmp: 0 r/m8,r8  1 r/m,r  2 r8,r/m8  3 r,r/m
		inst.op = alu[op>>3]
		osize := size
		if op&1 == 0 {
			osize = 1
		}
		rm, reg, ok := modrm(osize)
		if !ok {
			return 0, false
		}
		if op&2 == 0 {
			args[0], args[1] = rm, rarg(reg, osize, rex)
		} else {
			args[0], args[1] = rarg(reg, osize, rex), rm
		}
	case op < 0x40 && op&7 == 5 && alu[op>>3] != 0: // op eax, imm32
		v, ok := imm32(code, i)
		if !ok {
			return 0, false
		}
		inst.op = alu[op>>3]
		args[0], args[1] = rarg(0, size, rex), immArg(v)
		end = i + 4
	case op >= 0x50 && op <= 0x5F:
		inst.op = x86asm.PUSH
		if op >= 0x58 {
			inst.op = x86asm.POP
		}
		args[0] = rarg(op&7|(rex&1)<<3, ptrReg, rex)
		end = i
	case op == 0x63 && d.mode == 64:
		rm, reg, ok := modrm(4)
		if !ok {
			return 0, false
		}
		inst.op = x86asm.MOVSXD
		args[0], args[1] = rarg(reg, size, rex), rm
	case op == 0x68 || op == 0x6A:
		var v int64
		var ok bool
		if op == 0x68 {
			v, ok = imm32(code, i)
			end = i + 4
		} else {
			v, ok = imm8(code, i)
			end = i + 1
		}
		if !ok {
			return 0, false
		}
		inst.op = x86asm.PUSH
		args[0] = immArg(v)
	case op == 0x69 || op == 0x6B:
		rm, reg, ok := modrm(size)
		if !ok {
			return 0, false
		}
		var v int64
		if op == 0x69 {
			v, ok = imm32(code, end)
			end += 4
		} else {
			v, ok = imm8(code, end)
			end++
		}
		if !ok {
			return 0, false
		}
		inst.op = x86asm.IMUL
		args[0], args[1], args[2] = rarg(reg, size, rex), rm, immArg(v)
	case op >= 0x70 && op <= 0x7F:
		v, ok := imm8(code, i)
		if !ok {
			return 0, false
		}
		inst.op = jcc[op&15]
		args[0] = relArg(v)
		end = i + 1
	case op == 0x80 || op == 0x81 || op == 0x83:
		osize := size
		if op == 0x80 {
			osize = 1
		}
		rm, reg, ok := modrm(osize)
		if !ok {
			return 0, false
		}
		var v int64
		switch {
		case op == 0x81 && size == 2:
			v, ok = imm16(code, end)
			end += 2
		case op == 0x81:
			v, ok = imm32(code, end)
			end += 4
		default:
			v, ok = imm8(code, end)
			end++
		}
		if !ok {
			return 0, false
		}
		inst.op = group1[reg&7]
		if op == 0x80 {
			v &= 0xff // x86asm gives 8-bit immediates of 8-bit operations unsigned
		}
		args[0], args[1] = rm, immArg(v)
	case op == 0x84 || op == 0x85 || op == 0x88 || op == 0x89 || op == 0x8A || op == 0x8B:
		osize := size
		if op&1 == 0 {
			osize = 1
		}
		rm, reg, ok := modrm(osize)
		if !ok {
			return 0, false
		}
		inst.op = x86asm.MOV
		if op <= 0x85 {
			inst.op = x86asm.TEST
		}
		if op == 0x8A || op == 0x8B {
			args[0], args[1] = rarg(reg, osize, rex), rm
		} else {
			args[0], args[1] = rm, rarg(reg, osize, rex)
		}
	case op == 0x8D:
		rm, reg, ok := modrm(size)
		if !ok || rm.kind != argMem {
			return 0, false
		}
		inst.op = x86asm.LEA
		inst.memBytes = 0
		args[0], args[1] = rarg(reg, size, rex), rm
	case op == 0x90 && rex == 0:
		inst.op = x86asm.NOP
		end = i
	case op == 0x98 || op == 0x99:
		switch {
		case op == 0x98 && size == 8:
			inst.op = x86asm.CDQE
		case op == 0x98:
			inst.op = x86asm.CWDE
		case size == 8:
			inst.op = x86asm.CQO
		default:
			inst.op = x86asm.CDQ
		}
		end = i
	case op >= 0xB0 && op <= 0xB7: // mov r8, imm8
		v, ok := imm8(code, i)
		if !ok {
			return 0, false
		}
		inst.op = x86asm.MOV
		args[0], args[1] = rarg(op&7|(rex&1)<<3, 1, rex), immArg(v&0xff)
		end = i + 1
	case op >= 0xB8 && op <= 0xBF:
		inst.op = x86asm.MOV
		r := op&7 | (rex&1)<<3
		if size == 8 {
			if i+8 > len(code) {
				return 0, false
			}
			args[0], args[1] = rarg(r, 8, rex), immArg(int64(binary.LittleEndian.Uint64(code[i:])))
			end = i + 8
		} else {
			v, ok := imm32(code, i)
			if !ok {
				return 0, false
			}
			args[0], args[1] = rarg(r, 4, rex), immArg(v)
			end = i + 4
		}
	case op == 0xC1 || op == 0xD1 || op == 0xD3:
		rm, reg, ok := modrm(size)
		if !ok || group2[reg&7] == 0 {
			return 0, false
		}
		inst.op = group2[reg&7]
		args[0] = rm
		switch op {
		case 0xC1:
			if end >= len(code) {
				return 0, false
			}
			args[1] = immArg(int64(code[end]))
			end++
		case 0xD1:
			args[1] = immArg(1)
		default:
			args[1] = arg{kind: argReg, reg: x86asm.CL}
		}
	case op == 0xC2:
		if i+2 > len(code) {
			return 0, false
		}
		inst.op = x86asm.RET
		args[0] = immArg(int64(binary.LittleEndian.Uint16(code[i:])))
		end = i + 2
	case op == 0xC3 && rex == 0:
		inst.op = x86asm.RET
		end = i
	case op == 0xC6 || op == 0xC7:
		osize := size
		if op == 0xC6 {
			osize = 1
		}
		rm, reg, ok := modrm(osize)
		if !ok || reg&7 != 0 {
			return 0, false
		}
		var v int64
		switch {
		case op == 0xC7 && size == 2:
			v, ok = imm16(code, end)
			end += 2
		case op == 0xC7:
			v, ok = imm32(code, end)
			end += 4
		default:
			v, ok = imm8(code, end)
			v &= 0xff
			end++
		}
		if !ok {
			return 0, false
		}
		inst.op = x86asm.MOV
		args[0], args[1] = rm, immArg(v)
	case op == 0xC9 && rex == 0:
		inst.op = x86asm.LEAVE
		end = i
	case op == 0xCC && rex == 0:
		inst.op = x86asm.INT
		args[0] = immArg(3)
		end = i
	case op == 0xE8 || op == 0xE9:
		v, ok := imm32(code, i)
		if !ok {
			return 0, false
		}
		inst.op = x86asm.CALL
		if op == 0xE9 {
			inst.op = x86asm.JMP
		}
		args[0] = relArg(v)
		end = i + 4
	case op == 0xEB:
		v, ok := imm8(code, i)
		if !ok {
			return 0, false
		}
		inst.op = x86asm.JMP
		args[0] = relArg(v)
		end = i + 1
	case op == 0xF6 || op == 0xF7:
		osize := size
		if op == 0xF6 {
			osize = 1
		}
		rm, reg, ok := modrm(osize)
		if !ok || group3[reg&7] == 0 {
			return 0, false
		}
		inst.op = group3[reg&7]
		args[0] = rm
		if reg&7 == 0 {
			var v int64
			if op == 0xF7 {
				v, ok = imm32(code, end)
				end += 4
			} else {
				v, ok = imm8(code, end)
				v &= 0xff
				end++
			}
			if !ok {
				return 0, false
			}
			args[1] = immArg(v)
		}
	case op == 0xFF:
		// /0 inc, /1 dec: operand size; /2 call, /4 jmp, /6 push: pointer size.
		if i >= len(code) {
			return 0, false
		}
		ext := code[i] >> 3 & 7
		osize := size
		switch ext {
		case 0:
			inst.op = x86asm.INC
		case 1:
			inst.op = x86asm.DEC
		case 2:
			inst.op, osize = x86asm.CALL, ptrReg
		case 4:
			inst.op, osize = x86asm.JMP, ptrReg
		case 6:
			inst.op, osize = x86asm.PUSH, ptrReg
		default:
			return 0, false
		}
		rm, _, ok := modrm(osize)
		if !ok {
			return 0, false
		}
		args[0] = rm
	case op == 0x0F:
		if i >= len(code) {
			return 0, false
		}
		op2 := code[i]
		i++
		switch {
		case op2 >= 0x80 && op2 <= 0x8F:
			v, ok := imm32(code, i)
			if !ok {
				return 0, false
			}
			inst.op = jcc[op2&15]
			args[0] = relArg(v)
			end = i + 4
		case op2 >= 0x90 && op2 <= 0x9F:
			rm, _, ok := modrm(1)
			if !ok {
				return 0, false
			}
			inst.op = setcc[op2&15]
			args[0] = rm
		case op2 >= 0x40 && op2 <= 0x4F:
			rm, reg, ok := modrm(size)
			if !ok {
				return 0, false
			}
			inst.op = cmovcc[op2&15]
			args[0], args[1] = rarg(reg, size, rex), rm
		case op2 == 0xAF:
			rm, reg, ok := modrm(size)
			if !ok {
				return 0, false
			}
			inst.op = x86asm.IMUL
			args[0], args[1] = rarg(reg, size, rex), rm
		case op2 == 0xB6 || op2 == 0xB7 || op2 == 0xBE || op2 == 0xBF:
			ssize := 1
			if op2&1 != 0 {
				ssize = 2
			}
			rm, reg, ok := modrm(ssize)
			if !ok {
				return 0, false
			}
			inst.op = x86asm.MOVZX
			if op2 >= 0xBE {
				inst.op = x86asm.MOVSX
			}
			args[0], args[1] = rarg(reg, size, rex), rm
		default:
			return 0, false
		}
	default:
		return 0, false
	}
	if end > len(code) || end > maxInsnLen {
		return 0, false
	}
	l.n = end
	l.lift()
	return end, true
}
