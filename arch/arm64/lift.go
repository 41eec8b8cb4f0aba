package arm64

import "github.com/hvcicheck/hvcicheck/ir"

// lifter holds the state of one Lift call. It lives on the caller's stack.
type lifter struct {
	d     *Decoder
	out   []ir.Insn
	start int // len(out) on entry
	rva   uint32
	w     uint32 // the instruction word
}

var none = ir.Operand{}

// lift dispatches on the encoding group (bits 28:25) and reports whether the
// word is an instruction the front end knows.
func (l *lifter) lift() bool {
	switch op0 := l.w >> 25 & 0xf; {
	case op0 == 0:
		return l.reserved()
	case op0&0xe == 0x8:
		return l.dpImm()
	case op0&0xe == 0xa:
		return l.branchSys()
	case op0&0x5 == 0x4:
		return l.loadStore()
	case op0&0x7 == 0x5:
		return l.dpReg()
	case op0&0x7 == 0x7:
		return l.simd()
	}
	return false // SVE (0010) and the unallocated groups 0001, 0011
}

// reserved handles group 0000: udf #imm16 is the only instruction there
// outside SME.
func (l *lifter) reserved() bool {
	if l.w>>16 == 0 {
		l.halt()
		return true
	}
	return false
}

// finish ensures at least one Insn was appended and sets Len on the last.
func (l *lifter) finish() []ir.Insn {
	if len(l.out) == l.start {
		l.out = append(l.out, ir.Insn{Kind: ir.Nop, Addr: l.rva})
	}
	l.out[len(l.out)-1].Len = 4
	return l.out
}

// Field accessors.
func (l *lifter) field(lo, n uint) uint32 { return l.w >> lo & (1<<n - 1) }
func (l *lifter) bit(b uint) bool         { return l.w>>b&1 != 0 }
func (l *lifter) rd() uint32              { return l.w & 31 }
func (l *lifter) rn() uint32              { return l.w >> 5 & 31 }
func (l *lifter) rm() uint32              { return l.w >> 16 & 31 }

// sf is the operation width: 8 with the sf bit (x registers), else 4.
func (l *lifter) sf() uint8 {
	if l.bit(31) {
		return 8
	}
	return 4
}

// emit appends in at the instruction's address.
func (l *lifter) emit(in ir.Insn) {
	in.Addr = l.rva
	l.out = append(l.out, in)
}

// assign emits dst = op(a, b) at width w; every ARM64 register write
// zero-extends.
func (l *lifter) assign(dst ir.Reg, w uint8, op ir.Op, a, b ir.Operand) {
	l.emit(ir.Insn{Kind: ir.Assign, Op: op, Dst: dst, A: a, B: b, Width: w, Mode: ir.ZeroExtend})
}

// loadInto emits dst = [m] (size bytes, sign-extended when sext) at width w.
func (l *lifter) loadInto(dst ir.Reg, w uint8, m ir.Mem, size uint8, sext bool) {
	op := ir.OpMov
	if sext && size < w {
		op = ir.OpSext
	}
	l.emit(ir.Insn{Kind: ir.Assign, Op: op, Dst: dst, A: ir.M(m), Width: w, SrcWidth: size, Mode: ir.ZeroExtend})
}

// store emits [m] = a (w bytes); a of kind KNone stores an unknown value.
func (l *lifter) store(m ir.Mem, a ir.Operand, w uint8) {
	l.emit(ir.Insn{Kind: ir.Store, Mem: m, A: a, Width: w})
}

// clobber, nop and halt emit the Insn of that kind.
func (l *lifter) clobber(regs []ir.Reg) { l.emit(ir.Insn{Kind: ir.Clobber, Regs: regs}) }
func (l *lifter) nop()                  { l.emit(ir.Insn{Kind: ir.Nop}) }
func (l *lifter) halt()                 { l.emit(ir.Insn{Kind: ir.Halt}) }

// unknown makes register r unknown at width w (a w-register write leaves the
// upper half 0). r is an encoding number where 31 is the zero register: no
// write.
func (l *lifter) unknown(r uint32, w uint8) {
	switch {
	case r == zr:
	case w >= 8:
		l.clobber(one(ir.Reg(r)))
	default:
		l.assign(ir.Reg(r), w, ir.OpUnknown, none, none)
	}
}

// unknownSP makes register r unknown where the encoding's 31 is SP.
func (l *lifter) unknownSP(r uint32) { l.clobber(one(ir.Reg(r))) }

// zrOp reads register r where 31 is the zero register.
func zrOp(r uint32) ir.Operand {
	if r == zr {
		return ir.I(0)
	}
	return ir.R(ir.Reg(r))
}

// mask is the all-ones value of width w.
func mask(w uint8) uint64 {
	if w >= 8 {
		return ^uint64(0)
	}
	return 1<<(8*uint(w)) - 1
}

// imm is the constant v at width w.
func imm(v uint64, w uint8) ir.Operand { return ir.I(int64(v & mask(w))) }

// regMem is [base + disp]; base 31 is SP.
func regMem(base uint32, disp int64) ir.Mem {
	return ir.Mem{Base: ir.Reg(base), Index: ir.RegNone, Disp: disp}
}

// pc is the virtual address of the instruction.
func (l *lifter) pc() uint64 { return l.d.imageBase + uint64(l.rva) }

// addrMem places the virtual address va: a Global RVA inside the image,
// else an absolute address.
func (d *Decoder) addrMem(va uint64) ir.Mem {
	if va >= d.imageBase && va-d.imageBase < uint64(d.sizeOfImage) {
		return ir.Mem{Base: ir.RegNone, Index: ir.RegNone, Disp: int64(va - d.imageBase), Global: true}
	}
	return ir.Mem{Base: ir.RegNone, Index: ir.RegNone, Disp: int64(va)}
}

// target is the RVA of a pc-relative branch target, rva + off (negative
// below the image).
func (l *lifter) target(off int64) ir.Operand { return ir.I(int64(l.rva) + off) }

// sext sign-extends the low n bits of v.
func sext(v uint32, n uint) int64 {
	return int64(v) << (64 - n) >> (64 - n)
}

// Shift types of shifted-register operands.
const (
	shLSL = 0
	shLSR = 1
	shASR = 2
	shROR = 3
)

// shifted emits dst = shift(src, amt), inverted when invert, at width w. It
// returns false for a rotation, which the engine cannot express.
func (l *lifter) shifted(dst ir.Reg, w uint8, src ir.Operand, typ, amt uint32, invert bool) bool {
	a := int64(amt)
	switch {
	case amt == 0 && invert:
		l.assign(dst, w, ir.OpNot, src, none)
		return true
	case amt == 0:
		l.assign(dst, w, ir.OpMov, src, none)
		return true
	case typ == shLSL:
		l.assign(dst, w, ir.OpShl, src, ir.I(a))
	case typ == shLSR:
		l.assign(dst, w, ir.OpShr, src, ir.I(a))
	case typ == shASR:
		l.sar(dst, w, src, a)
	default:
		return false
	}
	if invert {
		l.assign(dst, w, ir.OpNot, ir.R(dst), none)
	}
	return true
}

// sar emits dst = src >> n (arithmetic) at width w. The engine shifts
// arithmetically at 64 bits, so a 32-bit shift sign-extends first and
// truncates after.
func (l *lifter) sar(dst ir.Reg, w uint8, src ir.Operand, n int64) {
	if w >= 8 {
		l.assign(dst, 8, ir.OpSar, src, ir.I(n))
		return
	}
	l.emit(ir.Insn{Kind: ir.Assign, Op: ir.OpSext, Dst: dst, A: src, Width: 8, SrcWidth: w, Mode: ir.ZeroExtend})
	l.assign(dst, 8, ir.OpSar, ir.R(dst), ir.I(n))
	l.assign(dst, w, ir.OpMov, ir.R(dst), none)
}

// binImm emits rd = rn op c at width w, where rn 31 is the zero register.
func (l *lifter) binImm(rd ir.Reg, w uint8, op ir.Op, rn uint32, c uint64) {
	if rn == zr {
		var v uint64
		switch op {
		case ir.OpOr, ir.OpXor, ir.OpAdd:
			v = c
		case ir.OpSub:
			v = -c
		}
		l.assign(rd, w, ir.OpMov, imm(v, w), none)
		return
	}
	l.assign(rd, w, op, ir.R(ir.Reg(rn)), imm(c, w))
}
