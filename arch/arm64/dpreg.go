package arm64

import "github.com/hvcicheck/hvcicheck/ir"

// dpReg lifts the data-processing (register) group.
func (l *lifter) dpReg() bool {
	op1, op2 := l.bit(28), l.field(21, 4)
	switch {
	case !op1 && op2&8 == 0:
		return l.logicalReg()
	case !op1 && op2&9 == 8:
		return l.addSubShifted()
	case !op1:
		return l.addSubExtended()
	case op2 == 0:
		return l.carryFlags()
	case op2 == 2:
		return l.condCompare()
	case op2 == 4:
		return l.condSelect()
	case op2 == 6 && l.bit(30):
		return l.dp1()
	case op2 == 6:
		return l.dp2()
	case op2&8 != 0:
		return l.dp3()
	}
	return false
}

// logicalReg lifts and/bic/orr/orn/eor/eon/ands/bics with a shifted register
// (mov and mvn are orr/orn with the zero register). The shifted operand is
// computed into Rd first, so Rd == Rn with a shift is not expressible and
// makes Rd unknown.
func (l *lifter) logicalReg() bool {
	w := l.sf()
	amt := l.field(10, 6)
	if w == 4 && amt >= 32 {
		return false
	}
	rd, rn, rm := l.rd(), l.rn(), l.rm()
	if rd == zr {
		l.nop() // tst, or a write to the zero register
		return true
	}
	op := [4]ir.Op{ir.OpAnd, ir.OpOr, ir.OpXor, ir.OpAnd}[l.field(29, 2)]
	typ, invert := l.field(22, 2), l.bit(21)
	dst := ir.Reg(rd)
	switch {
	case rm == zr: // the operand is 0 or, inverted, all ones
		var c uint64
		if invert {
			c = mask(w)
		}
		l.binImm(dst, w, op, rn, c)
	case rn == zr && op == ir.OpAnd:
		l.assign(dst, w, ir.OpMov, ir.I(0), none)
	case rn == zr: // mov, mvn and shifted moves
		if !l.shifted(dst, w, zrOp(rm), typ, amt, invert) {
			l.unknown(rd, w)
		}
	case amt == 0 && !invert:
		l.assign(dst, w, op, ir.R(ir.Reg(rn)), ir.R(ir.Reg(rm)))
	case amt == 0 && op == ir.OpXor: // eon: ~(Rn ^ Rm)
		l.assign(dst, w, ir.OpXor, ir.R(ir.Reg(rn)), ir.R(ir.Reg(rm)))
		l.assign(dst, w, ir.OpNot, ir.R(dst), none)
	case rd != rn && l.shifted(dst, w, ir.R(ir.Reg(rm)), typ, amt, invert):
		l.assign(dst, w, op, ir.R(ir.Reg(rn)), ir.R(dst))
	default:
		l.unknown(rd, w)
	}
	return true
}

// addSubShifted lifts add/adds/sub/subs with a shifted register (neg and
// negs with the zero register as Rn; cmp and cmn write nothing).
func (l *lifter) addSubShifted() bool {
	w, typ, amt := l.sf(), l.field(22, 2), l.field(10, 6)
	if typ == shROR || (w == 4 && amt >= 32) {
		return false
	}
	rd, rn, rm := l.rd(), l.rn(), l.rm()
	if rd == zr {
		l.nop()
		return true
	}
	op := ir.OpAdd
	if l.bit(30) {
		op = ir.OpSub
	}
	dst := ir.Reg(rd)
	switch {
	case rm == zr:
		l.binImm(dst, w, op, rn, 0)
	case amt == 0 && rn == zr && op == ir.OpSub:
		l.assign(dst, w, ir.OpNeg, ir.R(ir.Reg(rm)), none)
	case amt == 0:
		l.assign(dst, w, op, zrOp(rn), ir.R(ir.Reg(rm)))
	case rn == zr:
		l.shifted(dst, w, ir.R(ir.Reg(rm)), typ, amt, false)
		if op == ir.OpSub {
			l.assign(dst, w, ir.OpNeg, ir.R(dst), none)
		}
	case rd != rn:
		l.shifted(dst, w, ir.R(ir.Reg(rm)), typ, amt, false)
		l.assign(dst, w, op, ir.R(ir.Reg(rn)), ir.R(dst))
	default:
		l.scaledAdd(rd, w, op, rn, rm, typ, amt)
	}
	return true
}

// scaledAdd handles Rd = Rd + (Rm << amt) as the address computation
// Rd + Rm*2^amt, which needs no intermediate value; anything else with Rd
// == Rn makes Rd unknown.
func (l *lifter) scaledAdd(rd uint32, w uint8, op ir.Op, rn, rm, typ, amt uint32) {
	if op != ir.OpAdd || typ != shLSL || amt > 7 {
		l.unknown(rd, w)
		return
	}
	m := ir.Mem{Base: ir.Reg(rn), Index: ir.Reg(rm), Scale: uint8(1) << amt}
	l.assign(ir.Reg(rd), w, ir.OpMov, ir.A(m), none)
}

// addSubExtended lifts add/adds/sub/subs with an extended register: Rd (SP
// unless flags are set) = Rn (SP) ± (extend(Rm) << amount).
func (l *lifter) addSubExtended() bool {
	w, option, amt := l.sf(), l.field(13, 3), l.field(10, 3)
	if l.field(22, 2) != 0 || amt > 4 {
		return false
	}
	rd, rn, rm := l.rd(), l.rn(), l.rm()
	setFlags := l.bit(29)
	if setFlags && rd == zr {
		l.nop()
		return true
	}
	op := ir.OpAdd
	if l.bit(30) {
		op = ir.OpSub
	}
	dst := ir.Reg(rd)
	// uxtx/sxtx, and uxtw/sxtw in a 32-bit operation, leave Rm as it is.
	identity := option&3 == 3 || (w == 4 && option&3 == 2)
	switch {
	case rm == zr:
		l.assign(dst, w, ir.OpMov, ir.R(ir.Reg(rn)), none)
	case identity && amt == 0:
		l.assign(dst, w, op, ir.R(ir.Reg(rn)), ir.R(ir.Reg(rm)))
	case identity && op == ir.OpAdd:
		l.scaledAdd(rd, w, op, rn, rm, shLSL, amt)
	case rd == rn:
		l.unknownSP(rd)
	default:
		l.extend(dst, ir.R(ir.Reg(rm)), option)
		if amt != 0 {
			l.assign(dst, 8, ir.OpShl, ir.R(dst), ir.I(int64(amt)))
		}
		l.assign(dst, w, op, ir.R(ir.Reg(rn)), ir.R(dst))
	}
	return true
}

// extend emits dst = extend(src) at 64 bits for an extend option
// (uxtb, uxth, uxtw, uxtx, sxtb, sxth, sxtw, sxtx).
func (l *lifter) extend(dst ir.Reg, src ir.Operand, option uint32) {
	size := uint8(1) << (option & 3)
	switch {
	case size == 8:
		l.assign(dst, 8, ir.OpMov, src, none)
	case option&4 != 0:
		l.emit(ir.Insn{Kind: ir.Assign, Op: ir.OpSext, Dst: dst, A: src, Width: 8, SrcWidth: size, Mode: ir.ZeroExtend})
	default:
		l.assign(dst, 8, ir.OpAnd, src, ir.I(int64(mask(size))))
	}
}

// carryFlags handles adc/adcs/sbc/sbcs (Rd unknown), rmif and setf8/16
// (flags only).
func (l *lifter) carryFlags() bool {
	switch op3 := l.field(10, 6); {
	case op3 == 0:
		l.unknown(l.rd(), l.sf())
	case op3&0x1f == 1 && l.field(29, 3) == 5 && !l.bit(4): // rmif
		l.nop()
	case op3&0xf == 2 && l.field(29, 3) == 1 && l.field(15, 6) == 0 && l.field(0, 5) == 0xd: // setf8, setf16
		l.nop()
	default:
		return false
	}
	return true
}

// condCompare handles ccmn/ccmp (register and immediate): flags only.
func (l *lifter) condCompare() bool {
	if !l.bit(29) || l.bit(10) || l.bit(4) {
		return false
	}
	l.nop()
	return true
}

// condSelect lifts csel/csinc/csinv/csneg (cset, csetm, cinc, cinv, cneg)
// as a select between Rn and the transformed Rm.
func (l *lifter) condSelect() bool {
	if l.bit(29) || l.bit(11) {
		return false
	}
	w, rd, rn, rm := l.sf(), l.rd(), l.rn(), l.rm()
	if rd == zr {
		l.nop()
		return true
	}
	dst, a := ir.Reg(rd), zrOp(rn)
	inv, inc := l.bit(30), l.bit(10)
	switch {
	case !inv && !inc: // csel
		l.assign(dst, w, ir.OpSelect, a, zrOp(rm))
	case !inv: // csinc: Rm + 1 as an address computation
		b := ir.I(1)
		if rm != zr {
			b = ir.A(ir.Mem{Base: ir.Reg(rm), Index: ir.RegNone, Disp: 1})
		}
		l.assign(dst, w, ir.OpSelect, a, b)
	case rm == zr: // csinv: ~0, csneg: -0
		c := mask(w)
		if inc {
			c = 0
		}
		l.assign(dst, w, ir.OpSelect, a, imm(c, w))
	case rd == rn:
		l.unknown(rd, w)
	default: // csinv, csneg: the transformed Rm first, in Rd
		op := ir.OpNot
		if inc {
			op = ir.OpNeg
		}
		l.assign(dst, w, op, ir.R(ir.Reg(rm)), none)
		l.assign(dst, w, ir.OpSelect, a, ir.R(dst))
	}
	return true
}

// dp1 handles the one-source operations (rbit, rev*, clz, cls, the PAC
// sign/authenticate/strip instructions, CSSC abs/cnt/ctz): Rd unknown.
func (l *lifter) dp1() bool {
	opc2, opcode := l.field(16, 5), l.field(10, 6)
	switch {
	case l.bit(29):
		return false
	case opc2 == 0 && opcode == 3: // rev: 64-bit only
		if !l.bit(31) {
			return false
		}
	case opc2 == 0 && opcode <= 8: // rbit, rev16, rev32, clz, cls, ctz, cnt, abs
	case opc2 == 1 && l.bit(31) && opcode <= 0x11:
	default:
		return false
	}
	l.unknown(l.rd(), l.sf())
	return true
}

// dp2 lifts the two-source operations: lslv/lsrv (32-bit counts are masked
// to 5 bits first when Rd is free), 64-bit asrv; udiv, sdiv, rorv, crc32*,
// pacga, the CSSC min/max and the memory-tagging ones make Rd unknown.
func (l *lifter) dp2() bool {
	w, opcode := l.sf(), l.field(10, 6)
	if !validDP2(opcode, w, l.bit(29)) {
		return false
	}
	rd, rn, rm := l.rd(), l.rn(), l.rm()
	if rd == zr {
		l.nop()
		return true
	}
	var op ir.Op
	switch opcode {
	case 8:
		op = ir.OpShl
	case 9:
		op = ir.OpShr
	case 10:
		if w == 8 {
			op = ir.OpSar
		}
	}
	if op == ir.OpMov { // the zero Op: not a modelled shift
		l.unknownDP2(rd, w, opcode)
		return true
	}
	dst, count := ir.Reg(rd), zrOp(rm)
	if w == 4 && rm != zr && rd != rn {
		l.assign(dst, 8, ir.OpAnd, count, ir.I(31))
		count = ir.R(dst)
	}
	l.assign(dst, w, op, zrOp(rn), count)
	return true
}

// unknownDP2 makes the destination of an unmodelled two-source operation
// unknown; subp/subps/irg/gmi write a 64-bit result, irg's Rd may be SP.
func (l *lifter) unknownDP2(rd uint32, w uint8, opcode uint32) {
	switch opcode {
	case 4: // irg Xd|SP
		l.unknownSP(rd)
	case 0, 5, 12:
		l.unknown(rd, 8)
	default:
		l.unknown(rd, w)
	}
}

// validDP2 reports the allocated two-source encodings.
func validDP2(opcode uint32, w uint8, s bool) bool {
	switch {
	case opcode == 0: // subp, subps
		return w == 8
	case s:
		return false
	case opcode == 2 || opcode == 3 || (opcode >= 8 && opcode <= 11) || (opcode >= 0x18 && opcode <= 0x1b):
		return true
	case opcode == 4 || opcode == 5 || opcode == 12: // irg, gmi, pacga
		return w == 8
	case opcode >= 0x10 && opcode <= 0x17: // crc32b/h/w/x, crc32cb/h/w/x
		return (opcode&3 == 3) == (w == 8)
	}
	return false
}

// dp3 lifts madd/msub (mul, mneg) exactly where Ra is not also Rd; the
// widening and high multiplies make Rd unknown.
func (l *lifter) dp3() bool {
	w, op31, o0 := l.sf(), l.field(21, 3), l.bit(15)
	switch {
	case l.field(29, 2) != 0:
		return false
	case op31 == 0:
	case w == 4:
		return false
	case op31 == 1 || op31 == 5 || ((op31 == 2 || op31 == 6) && !o0):
	default:
		return false
	}
	rd, rn, rm, ra := l.rd(), l.rn(), l.rm(), l.field(10, 5)
	switch {
	case rd == zr:
		l.nop()
	case op31 != 0 || (rd == ra && ra != zr):
		l.unknown(rd, 8)
	default:
		dst := ir.Reg(rd)
		l.assign(dst, w, ir.OpMul, zrOp(rn), zrOp(rm))
		switch {
		case !o0 && ra != zr:
			l.assign(dst, w, ir.OpAdd, ir.R(ir.Reg(ra)), ir.R(dst))
		case o0:
			l.assign(dst, w, ir.OpSub, zrOp(ra), ir.R(dst))
		}
	}
	return true
}
