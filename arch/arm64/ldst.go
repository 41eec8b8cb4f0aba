package arm64

import "github.com/hvcicheck/hvcicheck/ir"

// loadStore dispatches the loads-and-stores group (bit 27 set, bit 25 clear)
// on bits 29:28.
func (l *lifter) loadStore() bool {
	switch l.field(28, 2) {
	case 0:
		if l.bit(26) {
			return l.simdStructs()
		}
		return l.exclusive()
	case 1:
		if !l.bit(24) {
			return l.literal()
		}
		return l.rcpc()
	case 2:
		return l.pair()
	}
	return l.register()
}

// regW is the width of the register a load of size bytes writes (w
// registers below 8 bytes).
func regW(size uint8) uint8 {
	if size >= 8 {
		return 8
	}
	return 4
}

// loadReg emits the load of register rt (31: the zero register, no write).
func (l *lifter) loadReg(rt uint32, w uint8, m ir.Mem, size uint8, sext bool) {
	if rt != zr {
		l.loadInto(ir.Reg(rt), w, m, size, sext)
	}
}

// loadPair loads rt from m and rt2 from m+size. A base register that is
// also loaded is loaded last, so both addresses use its old value; rt ==
// rt2 is unpredictable and leaves it unknown.
func (l *lifter) loadPair(rt, rt2 uint32, w, size uint8, sext bool, m ir.Mem) {
	m2 := m
	m2.Disp += int64(size)
	switch {
	case rt == rt2:
		l.unknown(rt, 8)
	case rt != zr && ir.Reg(rt) == m.Base:
		l.loadReg(rt2, w, m2, size, sext)
		l.loadReg(rt, w, m, size, sext)
	default:
		l.loadReg(rt, w, m, size, sext)
		l.loadReg(rt2, w, m2, size, sext)
	}
}

// writeback emits the base update of a pre- or post-indexed access.
func (l *lifter) writeback(rn uint32, off ir.Operand) {
	l.assign(ir.Reg(rn), 8, ir.OpAdd, ir.R(ir.Reg(rn)), off)
}

// access lifts a single-register load, store or prefetch of the
// load/store-register classes from its size and opc fields (and V, the
// SIMD&FP bit). It returns false for unallocated combinations.
func (l *lifter) access(size, opc uint32, v bool, m ir.Mem) bool {
	if !validAccess(size, opc, v) {
		return false
	}
	rt := l.rd()
	n := uint8(1) << size
	if v {
		if opc&2 != 0 {
			n = 16
		}
		if opc&1 == 0 {
			l.store(m, none, n) // a SIMD&FP register: its value is not tracked
		}
		return true
	}
	switch {
	case opc == 0:
		l.store(m, zrOp(rt), n)
	case opc == 1:
		l.loadReg(rt, regW(n), m, n, false)
	case opc == 2 && size == 3:
		l.nop() // prfm, prfum
	case opc == 2:
		l.loadReg(rt, 8, m, n, true)
	default:
		l.loadReg(rt, 4, m, n, true)
	}
	return true
}

// validAccess reports the allocated size/opc/V combinations of the
// load/store-register classes.
func validAccess(size, opc uint32, v bool) bool {
	if v {
		return opc&2 == 0 || size == 0
	}
	return opc != 3 || size <= 1
}

// isLoad reports whether the size/opc/V fields of a load/store-register
// instruction describe a load into a general-purpose register.
func isLoad(size, opc uint32, v bool) bool {
	return !v && opc != 0 && !(opc == 2 && size == 3)
}

// register lifts the load/store register classes: unsigned offset,
// unscaled, pre/post-indexed, unprivileged, register offset, atomics and
// the PAC loads.
func (l *lifter) register() bool {
	size, opc, v := l.field(30, 2), l.field(22, 2), l.bit(26)
	rn := l.rn()
	if l.bit(24) { // unsigned, scaled 12-bit offset
		scale := size
		if v && opc&2 != 0 {
			scale = 4
		}
		return l.access(size, opc, v, regMem(rn, int64(l.field(10, 12))<<scale))
	}
	if l.bit(21) {
		switch l.field(10, 2) {
		case 0:
			return l.atomic()
		case 2:
			return l.regOffset(size, opc, v)
		}
		return l.pacLoad()
	}
	off := sext(l.field(12, 9), 9)
	switch l.field(10, 2) {
	case 0: // ldur, stur, prfum
		return l.access(size, opc, v, regMem(rn, off))
	case 2: // ldtr, sttr
		if v || (size == 3 && opc >= 2) || (size == 2 && opc == 3) {
			return false
		}
		return l.access(size, opc, v, regMem(rn, off))
	}
	return l.indexed(size, opc, v, off)
}

// indexed lifts the pre-indexed (bits 11:10 = 11) and post-indexed (01)
// forms: the access, then the base update. A load into the base register is
// unpredictable and leaves it unknown.
func (l *lifter) indexed(size, opc uint32, v bool, off int64) bool {
	if !validAccess(size, opc, v) || (!v && opc == 2 && size == 3) {
		return false // unallocated, or an indexed prefetch (there is none)
	}
	rn, rt := l.rn(), l.rd()
	if isLoad(size, opc, v) && rt == rn && rn != zr {
		l.unknownSP(rn)
		return true
	}
	m := regMem(rn, 0)
	if l.bit(11) {
		m.Disp = off
	}
	l.access(size, opc, v, m)
	l.writeback(rn, ir.I(off))
	return true
}

// regOffset lifts [Rn, Rm{, extend/lsl #s}]. A 32-bit index (uxtw, sxtw) is
// taken as the full register: where that differs, the address differs by a
// multiple of 2^32, far from the image and the stack frame, so the engine
// finds nothing there.
func (l *lifter) regOffset(size, opc uint32, v bool) bool {
	option := l.field(13, 3)
	if option&2 == 0 {
		return false
	}
	scale := size
	if v && opc&2 != 0 {
		scale = 4
	}
	m := ir.Mem{Base: ir.Reg(l.rn()), Index: ir.Reg(l.rm()), Scale: 1}
	if l.bit(12) {
		m.Scale = 1 << scale
	}
	if l.rm() == zr {
		m.Index, m.Scale = ir.RegNone, 0
	}
	return l.access(size, opc, v, m)
}

// pacLoad lifts ldraa/ldrab: a 64-bit load at Rn + simm10*8, with the base
// updated first when W is set (pre-indexed).
func (l *lifter) pacLoad() bool {
	if l.field(30, 2) != 3 || l.bit(26) {
		return false
	}
	off := sext(l.field(22, 1)<<9|l.field(12, 9), 10) << 3
	rn, rt := l.rn(), l.rd()
	wb := l.bit(11)
	if wb && rt == rn && rn != zr {
		l.unknownSP(rn)
		return true
	}
	l.loadReg(rt, 8, regMem(rn, off), 8, false)
	if wb {
		l.writeback(rn, ir.I(off))
	}
	return true
}

// atomic lifts the LSE atomics: ld<op> and swp leave an unknown value in
// memory (swp: Rs) and the old value, unknown, in Rt (st<op> when Rt is the
// zero register); ldapr is a plain load.
func (l *lifter) atomic() bool {
	if l.bit(26) {
		return false
	}
	size := uint8(1) << l.field(30, 2)
	w := regW(size)
	rs, rn, rt := l.rm(), l.rn(), l.rd()
	m := regMem(rn, 0)
	o3, opc := l.bit(15), l.field(12, 3)
	switch {
	case !o3:
		l.store(m, none, size)
		l.unknown(rt, w)
	case opc == 0: // swp
		l.store(m, zrOp(rs), size)
		l.unknown(rt, w)
	case opc == 4 && l.bit(23) && !l.bit(22) && rs == zr: // ldapr
		l.loadReg(rt, w, m, size, false)
	default:
		return false
	}
	return true
}

// exclusive lifts the exclusive, acquire/release and compare-and-swap
// classes. A store-exclusive may fail: the memory is then unknown and the
// status register Rs is 0 or 1.
func (l *lifter) exclusive() bool {
	if l.bit(24) {
		return false
	}
	sz := l.field(30, 2)
	size := uint8(1) << sz
	o2, ld, o1 := l.bit(23), l.bit(22), l.bit(21)
	rs, rt, rt2, rn := l.rm(), l.rd(), l.field(10, 5), l.rn()
	m := regMem(rn, 0)
	switch {
	case o1 && (o2 || sz <= 1) && rt2 != zr:
		return false
	case o1 && !o2 && sz <= 1: // casp: a register pair of 4 or 8 bytes
		pw := uint8(4) << sz
		l.store(m, none, 2*pw)
		l.unknown(rs, pw)
		if rs < 30 {
			l.unknown(rs+1, pw)
		}
	case o1 && o2: // cas
		l.store(m, none, size)
		l.unknown(rs, regW(size))
	case !ld && !o2: // stxr, stxp
		if o1 {
			size *= 2
		}
		l.store(m, none, size)
		if rs != zr {
			l.assign(ir.Reg(rs), 4, ir.OpSelect, ir.I(0), ir.I(1))
		}
	case ld && !o2 && o1: // ldxp
		l.loadPair(rt, rt2, regW(size), size, false, m)
	case ld: // ldxr, ldar, ldlar
		l.loadReg(rt, regW(size), m, size, false)
	default: // stlr, stllr
		l.store(m, zrOp(rt), size)
	}
	return true
}

// literal lifts ldr/ldrsw (literal) as a load of a global; prfm and the
// SIMD&FP literal loads write no tracked register.
func (l *lifter) literal() bool {
	opc, rt := l.field(30, 2), l.rd()
	m := l.d.addrMem(l.pc() + uint64(sext(l.field(5, 19), 19)<<2))
	switch {
	case l.bit(26) && opc == 3:
		return false
	case l.bit(26) || opc == 3:
		l.nop()
	case opc == 0:
		l.loadReg(rt, 4, m, 4, false)
	case opc == 1:
		l.loadReg(rt, 8, m, 8, false)
	default:
		l.loadReg(rt, 8, m, 4, true)
	}
	return true
}

// rcpc lifts stlur/ldapur/ldapurs* (RCpc, unscaled 9-bit offset). Memory
// tagging and the memory copy/set instructions share the class and are not
// decoded.
func (l *lifter) rcpc() bool {
	if l.bit(21) || l.field(10, 2) != 0 || l.bit(26) {
		return false
	}
	size, opc := l.field(30, 2), l.field(22, 2)
	if opc == 2 && size == 3 {
		return false
	}
	return l.access(size, opc, false, regMem(l.rn(), sext(l.field(12, 9), 9)))
}

// pair lifts ldp/stp/ldnp/stnp/ldpsw (general and SIMD&FP registers) with
// the signed, scaled 7-bit offset and pre/post-indexing.
func (l *lifter) pair() bool {
	opc, v, mode, ld := l.field(30, 2), l.bit(26), l.field(23, 2), l.bit(22)
	size, sx, ok := pairSize(opc, v, ld, mode)
	if !ok {
		return false
	}
	off := sext(l.field(15, 7), 7) * int64(size)
	rn, rt, rt2 := l.rn(), l.rd(), l.field(10, 5)
	wb := mode == 1 || mode == 3
	m := regMem(rn, off)
	if mode == 1 {
		m.Disp = 0
	}
	if ld && wb && !v && (rt == rn || rt2 == rn) {
		l.unknown(rt, 8)
		l.unknown(rt2, 8)
		l.unknownSP(rn)
		return true
	}
	w := regW(size)
	if sx {
		w = 8
	}
	switch {
	case v && ld:
	case v:
		l.store(m, none, 2*size)
	case ld:
		l.loadPair(rt, rt2, w, size, sx, m)
	default:
		m2 := m
		m2.Disp += int64(size)
		l.store(m, zrOp(rt), size)
		l.store(m2, zrOp(rt2), size)
	}
	if wb {
		l.writeback(rn, ir.I(off))
	}
	return true
}

// pairSize returns the size of each register of a pair access and whether
// it is sign-extended (ldpsw); ok is false for stgp (memory tagging) and
// the unallocated opc 11.
func pairSize(opc uint32, v, ld bool, mode uint32) (size uint8, sx, ok bool) {
	switch {
	case v && opc == 3:
		return 0, false, false
	case v:
		return 4 << opc, false, true
	case opc == 0:
		return 4, false, true
	case opc == 2:
		return 8, false, true
	case opc == 1 && ld && mode != 0:
		return 4, true, true
	}
	return 0, false, false
}

// simdStructs lifts the SIMD load/store structure classes (ld1..ld4,
// st1..st4, ld1r..ld4r): stores are unknown bytes at [Rn]; post-indexing
// adds the transfer size or Rm to Rn.
func (l *lifter) simdStructs() bool {
	if l.bit(31) {
		return false
	}
	var n uint8
	if l.bit(24) {
		n = l.singleBytes()
		if !l.bit(23) && l.field(16, 5) != 0 {
			return false
		}
	} else {
		n = multipleBytes(l.field(12, 4), l.bit(30), l.field(10, 2))
		if (!l.bit(23) && l.field(16, 6) != 0) || (l.bit(23) && l.bit(21)) {
			return false
		}
	}
	if n == 0 {
		return false
	}
	rn := l.rn()
	if !l.bit(22) {
		l.store(regMem(rn, 0), none, n)
	}
	if l.bit(23) {
		off := ir.I(int64(n))
		if rm := l.rm(); rm != zr {
			off = ir.R(ir.Reg(rm))
		}
		l.writeback(rn, off)
	}
	return true
}

// multipleBytes is the size of a multiple-structures transfer (0 for an
// unallocated opcode, or ld2..ld4/st2..st4 of one 64-bit element).
func multipleBytes(opcode uint32, q bool, size uint32) uint8 {
	var regs uint8
	switch opcode {
	case 0, 2:
		regs = 4
	case 4, 6:
		regs = 3
	case 7:
		regs = 1
	case 8, 10:
		regs = 2
	default:
		return 0
	}
	if opcode%4 == 0 && size == 3 && !q {
		return 0
	}
	if q {
		return regs * 16
	}
	return regs * 8
}

// singleBytes is the size of a single-structure transfer (0 for an
// unallocated encoding).
func (l *lifter) singleBytes() uint8 {
	o, s, size := l.field(13, 3), l.bit(12), l.field(10, 2)
	selem := uint8((o&1)<<1|l.field(21, 1)) + 1
	var esize uint8
	switch o >> 1 {
	case 0:
		esize = 1
	case 1:
		if size&1 != 0 {
			return 0
		}
		esize = 2
	case 2:
		switch {
		case size&2 != 0, size == 1 && s:
			return 0
		case size == 1:
			esize = 8
		default:
			esize = 4
		}
	default:
		if !l.bit(22) || s {
			return 0
		}
		esize = 1 << size
	}
	return selem * esize
}
