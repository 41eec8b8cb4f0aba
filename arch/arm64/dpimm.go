package arm64

import (
	"math/bits"

	"github.com/hvcicheck/hvcicheck/ir"
)

// dpImm lifts the data-processing (immediate) group: adr/adrp, add/sub,
// logical, move wide, bitfield and extract.
func (l *lifter) dpImm() bool {
	switch l.field(23, 3) {
	case 0, 1:
		l.pcRel()
		return true
	case 2:
		l.addSubImm()
		return true
	case 3:
		return l.tagsMinMax()
	case 4:
		return l.logicalImm()
	case 5:
		return l.moveWide()
	case 6:
		return l.bitfield()
	}
	return l.extract()
}

// pcRel lifts adr (Rd = pc + imm) and adrp (Rd = page(pc) + imm<<12) as the
// address of a global.
func (l *lifter) pcRel() {
	rd := l.rd()
	if rd == zr {
		l.nop()
		return
	}
	off := sext(l.field(5, 19)<<2|l.field(29, 2), 21)
	va := l.pc() + uint64(off)
	if l.bit(31) {
		va = l.pc()&^0xfff + uint64(off<<12)
	}
	l.assign(ir.Reg(rd), 8, ir.OpMov, ir.A(l.d.addrMem(va)), none)
}

// addSubImm lifts add/adds/sub/subs with a 12-bit immediate (optionally
// shifted by 12). Rn is SP-or-register; Rd is SP unless flags are set (cmp,
// cmn write nothing).
func (l *lifter) addSubImm() {
	w, rd, rn := l.sf(), l.rd(), l.rn()
	setFlags := l.bit(29)
	if setFlags && rd == zr {
		l.nop()
		return
	}
	c := uint64(l.field(10, 12))
	if l.bit(22) {
		c <<= 12
	}
	switch {
	case c == 0:
		l.assign(ir.Reg(rd), w, ir.OpMov, ir.R(ir.Reg(rn)), none)
	case l.bit(30):
		l.assign(ir.Reg(rd), w, ir.OpSub, ir.R(ir.Reg(rn)), imm(c, w))
	default:
		l.assign(ir.Reg(rd), w, ir.OpAdd, ir.R(ir.Reg(rn)), imm(c, w))
	}
}

// tagsMinMax handles addg/subg (memory tagging, Rd is SP-or-register) and
// the CSSC smax/smin/umax/umin immediates: their results are not modelled.
func (l *lifter) tagsMinMax() bool {
	if !l.bit(22) { // addg, subg
		if !l.bit(31) || l.bit(29) {
			return false
		}
		l.unknownSP(l.rd())
		return true
	}
	if l.bit(30) || l.bit(29) || l.field(18, 4) > 3 { // smax, umax, smin, umin
		return false
	}
	l.unknown(l.rd(), l.sf())
	return true
}

// logicalImm lifts and/orr/eor/ands with a bitmask immediate. Rd is SP except
// for ands (tst writes nothing); Rn is the zero register at 31.
func (l *lifter) logicalImm() bool {
	w := l.sf()
	n := l.field(22, 1)
	if w == 4 && n == 1 {
		return false
	}
	c, ok := decodeBitMask(n, l.field(10, 6), l.field(16, 6), w)
	if !ok {
		return false
	}
	rd, rn := l.rd(), l.rn()
	opc := l.field(29, 2)
	if opc == 3 && rd == zr {
		l.nop()
		return true
	}
	op := [4]ir.Op{ir.OpAnd, ir.OpOr, ir.OpXor, ir.OpAnd}[opc]
	if op == ir.OpAnd && rn == zr {
		l.assign(ir.Reg(rd), w, ir.OpMov, ir.I(0), none)
		return true
	}
	l.binImm(ir.Reg(rd), w, op, rn, c)
	return true
}

// decodeBitMask expands a logical immediate (N:imms:immr) of a w-byte
// operation, as the architecture's DecodeBitMasks does.
func decodeBitMask(n, imms, immr uint32, w uint8) (uint64, bool) {
	combined := n<<6 | (^imms & 0x3f)
	if combined == 0 {
		return 0, false
	}
	length := uint(bits.Len32(combined) - 1)
	if length < 1 {
		return 0, false
	}
	esize := uint(1) << length
	levels := uint32(esize - 1)
	s, r := uint(imms&levels), uint(immr&levels)
	if uint32(s) == levels {
		return 0, false // all ones: reserved
	}
	elem := uint64(1)<<(s+1) - 1
	if r != 0 {
		emask := ^uint64(0)
		if esize < 64 {
			emask = 1<<esize - 1
		}
		elem = (elem>>r | elem<<(esize-r)) & emask
	}
	for e := esize; e < 64; e *= 2 {
		elem |= elem << e
	}
	return elem & mask(w), true
}

// moveWide lifts movn, movz and movk; movk keeps the other bits:
// Rd = (Rd & ^(0xffff << shift)) | imm << shift.
func (l *lifter) moveWide() bool {
	w, hw, opc := l.sf(), l.field(21, 2), l.field(29, 2)
	if opc == 1 || (w == 4 && hw >= 2) {
		return false
	}
	rd := l.rd()
	if rd == zr {
		l.nop()
		return true
	}
	sh := 16 * hw
	v := uint64(l.field(5, 16)) << sh
	dst := ir.Reg(rd)
	switch opc {
	case 0:
		l.assign(dst, w, ir.OpMov, imm(^v, w), none)
	case 2:
		l.assign(dst, w, ir.OpMov, imm(v, w), none)
	default:
		l.assign(dst, w, ir.OpAnd, ir.R(dst), imm(^(uint64(0xffff)<<sh), w))
		l.assign(dst, w, ir.OpOr, ir.R(dst), imm(v, w))
	}
	return true
}

// bitfield lifts sbfm, bfm and ubfm with their aliases (asr, lsl, lsr, sxtb,
// uxtb, sbfx, ubfx, sbfiz, ubfiz, bfi, bfxil, bfc).
func (l *lifter) bitfield() bool {
	w, opc := l.sf(), l.field(29, 2)
	n, immr, imms := l.field(22, 1), l.field(16, 6), l.field(10, 6)
	if opc == 3 || (n == 1) != (w == 8) || (w == 4 && (immr >= 32 || imms >= 32)) {
		return false
	}
	rd, rn := l.rd(), l.rn()
	if rd == zr {
		l.nop()
		return true
	}
	switch opc {
	case 0:
		l.sbfm(ir.Reg(rd), w, rn, immr, imms)
	case 1:
		l.bfm(ir.Reg(rd), w, rn, immr, imms)
	default:
		l.ubfm(ir.Reg(rd), w, rn, immr, imms)
	}
	return true
}

// ubfm: lsr, lsl, uxtb/uxth and ubfx/ubfiz, exact in one or two steps.
func (l *lifter) ubfm(rd ir.Reg, w uint8, rn, immr, imms uint32) {
	bitsW := uint32(8 * w)
	src := zrOp(rn)
	switch {
	case imms == bitsW-1:
		l.assign(rd, w, ir.OpShr, src, ir.I(int64(immr)))
	case imms+1 == immr:
		l.assign(rd, w, ir.OpShl, src, ir.I(int64(bitsW-1-imms)))
	case imms >= immr: // ubfx: (Rn >> immr) & ones(imms-immr+1)
		width := imms - immr + 1
		if immr != 0 {
			l.assign(rd, w, ir.OpShr, src, ir.I(int64(immr)))
			src = ir.R(rd)
		}
		l.assign(rd, w, ir.OpAnd, src, ir.I(int64(uint64(1)<<width-1)))
	default: // ubfiz: (Rn & ones(imms+1)) << (bits - immr)
		l.assign(rd, w, ir.OpAnd, src, ir.I(int64(uint64(1)<<(imms+1)-1)))
		l.assign(rd, w, ir.OpShl, ir.R(rd), ir.I(int64(bitsW-immr)))
	}
}

// sbfm: sxtb/sxth/sxtw as one sign extension; asr, sbfx and sbfiz as a
// 64-bit shift left that puts the field's top bit at bit 63, an arithmetic
// shift right, and (32-bit) a truncation or (sbfiz) a shift left.
func (l *lifter) sbfm(rd ir.Reg, w uint8, rn, immr, imms uint32) {
	src := zrOp(rn)
	if immr == 0 && (imms == 7 || imms == 15 || imms == 31) {
		l.emit(ir.Insn{Kind: ir.Assign, Op: ir.OpSext, Dst: rd, A: src, Width: w, SrcWidth: uint8((imms + 1) / 8), Mode: ir.ZeroExtend})
		return
	}
	if w == 8 && imms == 63 {
		l.assign(rd, 8, ir.OpSar, src, ir.I(int64(immr)))
		return
	}
	up := 63 - imms
	l.assign(rd, 8, ir.OpShl, src, ir.I(int64(up)))
	if imms >= immr { // asr, sbfx
		l.assign(rd, 8, ir.OpSar, ir.R(rd), ir.I(int64(up+immr)))
		if w < 8 {
			l.assign(rd, w, ir.OpMov, ir.R(rd), none)
		}
		return
	}
	l.assign(rd, 8, ir.OpSar, ir.R(rd), ir.I(int64(up)))
	l.assign(rd, w, ir.OpShl, ir.R(rd), ir.I(int64(uint32(8*w)-immr)))
}

// maxBfmBits bounds the field bfm models bit by bit: 2^3 values still fit
// the engine's constant sets.
const maxBfmBits = 3

// bfm (bfi, bfxil, bfc) inserts a field of Rn into Rd. bfc (Rn the zero
// register) clears the field exactly. Otherwise the field's bits become
// unknown while Rd's other bits are kept: the field is cleared, then each of
// its bits is a select between 0 and 1 (up to maxBfmBits bits; a wider field,
// or Rd == Rn, makes Rd unknown).
func (l *lifter) bfm(rd ir.Reg, w uint8, rn, immr, imms uint32) {
	bitsW := uint32(8 * w)
	width, lsb := imms+1, bitsW-immr // bfi
	if imms >= immr {                // bfxil
		width, lsb = imms-immr+1, 0
	}
	lsb %= bitsW
	m := (uint64(1)<<width - 1) << lsb
	switch {
	case rn == zr:
		l.assign(rd, w, ir.OpAnd, ir.R(rd), imm(^m, w))
	case uint32(rd) == rn || width > maxBfmBits:
		l.unknown(uint32(rd), w)
	default:
		l.assign(rd, w, ir.OpAnd, ir.R(rd), imm(^m, w))
		for b := lsb; b < lsb+width; b++ {
			l.assign(rd, w, ir.OpSelect, ir.R(rd), ir.A(ir.Mem{Base: rd, Index: ir.RegNone, Disp: int64(1) << b}))
		}
	}
}

// extract lifts extr (and its alias ror #imm): exact only for lsb 0
// (Rd = Rm); otherwise Rd is unknown.
func (l *lifter) extract() bool {
	w := l.sf()
	if l.field(29, 2) != 0 || (l.field(22, 1) == 1) != (w == 8) || l.bit(21) || (w == 4 && l.bit(15)) {
		return false
	}
	rd := l.rd()
	switch {
	case rd == zr:
		l.nop()
	case l.field(10, 6) == 0:
		l.assign(ir.Reg(rd), w, ir.OpMov, zrOp(l.rm()), none)
	default:
		l.unknown(rd, w)
	}
	return true
}
