package arm64

import "github.com/hvcicheck/hvcicheck/ir"

// Windows breakpoint numbers (brk #imm16), as in ksarm64.h.
const (
	brkAssert       = 0xF001 // NT_ASSERT: continues when the debugger says so
	brkDebugService = 0xF002 // debug services (DbgPrint, …): return in x0
)

// branchSys dispatches the branches, exception-generating and system
// instructions group (bits 28:26 = 101).
func (l *lifter) branchSys() bool {
	w := l.w
	switch {
	case w&0x7c000000 == 0x14000000: // b, bl
		t := l.target(sext(w&0x03ffffff, 26) << 2)
		if w>>31 != 0 {
			l.emit(ir.Insn{Kind: ir.Call, Target: t})
		} else {
			l.emit(ir.Insn{Kind: ir.Jump, Target: t})
		}
	case w&0xff000000 == 0x54000000: // b.cond, bc.cond
		l.emit(ir.Insn{Kind: ir.Branch, Target: l.target(sext(l.field(5, 19), 19) << 2)})
	case w&0x7e000000 == 0x34000000: // cbz, cbnz
		l.emit(ir.Insn{Kind: ir.Branch, Target: l.target(sext(l.field(5, 19), 19) << 2)})
	case w&0x7e000000 == 0x36000000: // tbz, tbnz
		l.emit(ir.Insn{Kind: ir.Branch, Target: l.target(sext(l.field(5, 14), 14) << 2)})
	case w&0xff000000 == 0xd4000000:
		return l.exception()
	case w&0xffc00000 == 0xd5000000:
		return l.system()
	case w&0xfe000000 == 0xd6000000:
		return l.branchReg()
	default:
		return false
	}
	return true
}

// exception lifts svc/hvc/smc (the handler may change x0..x17), brk (Halt,
// except the Windows assertion and debug-service breakpoints), hlt,
// tcancel and dcps1..3 (Halt).
func (l *lifter) exception() bool {
	if l.field(2, 3) != 0 {
		return false
	}
	opc, ll := l.field(21, 3), l.field(0, 2)
	switch {
	case opc == 0 && ll != 0: // svc, hvc, smc
		l.clobber(clobberX17[:18:18])
	case opc == 1 && ll == 0:
		switch l.field(5, 16) {
		case brkAssert:
			l.nop()
		case brkDebugService:
			l.clobber(clobberX17[:18:18])
		default:
			l.halt()
		}
	case (opc == 2 || opc == 3) && ll == 0, opc == 5 && ll != 0: // hlt, tcancel, dcps
		l.halt()
	default:
		return false
	}
	return true
}

// system lifts the system class: hints, barriers, pstate writes, sys and
// msr write no general-purpose register (but see hint); mrs, sysl and tstart
// make their Rt unknown.
func (l *lifter) system() bool {
	ld, op0 := l.bit(21), l.field(19, 2)
	op1, crn, rt := l.field(16, 3), l.field(12, 4), l.rd()
	switch {
	case op0 != 0 && ld: // mrs, sysl
		l.unknown(rt, 8)
	case op0 != 0: // msr, sys (dc, ic, at, tlbi)
		l.nop()
	case ld: // tstart, ttest
		if op1 != 3 || crn != 3 {
			return false
		}
		l.unknown(rt, 8)
	case crn == 2 && op1 == 3 && rt == zr:
		l.hint(l.field(5, 7))
	case crn == 3 && op1 == 3 && rt == zr, crn == 4 && rt == zr: // barriers, msr (immediate)
		l.nop()
	case crn == 1 && op1 == 3 && l.field(8, 4) == 0 && l.field(5, 3) <= 1: // wfet, wfit
		l.nop()
	default:
		return false
	}
	return true
}

// hint lifts a hint: the pointer-authentication hints change x17
// (pac*1716, aut*1716) or x30 (pac*sp, aut*sp, pac*z, aut*z, xpaclri),
// chkfeat changes x16; the rest (nop, yield, wfe, bti, …) are Nops.
func (l *lifter) hint(n uint32) {
	switch {
	case n == 7 || (n >= 24 && n <= 31):
		l.clobber(one(X30))
	case n >= 8 && n <= 14 && n%2 == 0:
		l.clobber(one(X17))
	case n == 40:
		l.clobber(one(X16))
	default:
		l.nop()
	}
}

// branchReg lifts br/blr/ret and their pointer-authenticating forms
// (braa*, blraa*, retaa/retab), eret and drps.
func (l *lifter) branchReg() bool {
	opc, op2, op3, rn, op4 := l.field(21, 4), l.field(16, 5), l.field(10, 6), l.rn(), l.rd()
	if op2 != 31 {
		return false
	}
	plain := op3 == 0 && op4 == 0
	pacZ := op3>>1 == 1 && op4 == 31 // braaz, blraaz, retaa (with Rm = zr)
	pacM := op3>>1 == 1              // braa, blraa: op4 is the modifier
	var t ir.Operand
	if rn != zr {
		t = ir.R(ir.Reg(rn))
	}
	switch {
	case opc == 0 && (plain || pacZ), opc == 8 && pacM:
		l.emit(ir.Insn{Kind: ir.Jump, Target: t})
	case opc == 1 && (plain || pacZ), opc == 9 && pacM:
		l.emit(ir.Insn{Kind: ir.Call, Target: t})
	case opc == 2 && plain, opc == 2 && pacZ && rn == zr:
		l.emit(ir.Insn{Kind: ir.Ret})
	case opc == 4 && rn == zr && (plain || pacZ), opc == 5 && plain && rn == zr: // eret, drps
		l.halt()
	default:
		return false
	}
	return true
}

// simd handles the scalar floating-point and Advanced SIMD group: the
// conversions to a general-purpose register (fcvt*, fmov, fjcvtzs) and
// smov/umov make Rd unknown; everything else writes SIMD&FP registers only.
func (l *lifter) simd() bool {
	w := l.w
	switch {
	case w&0x5f200000 == 0x1e200000 && l.field(10, 6) == 0: // FP <-> integer
		switch op := l.field(16, 3); op {
		case 0, 1, 4, 5, 6:
			l.unknown(l.rd(), l.sf())
			return true
		}
	case w&0x5f200000 == 0x1e000000: // FP <-> fixed point
		if l.field(16, 3) <= 1 {
			l.unknown(l.rd(), l.sf())
			return true
		}
	case w&0xbfe0fc00 == 0x0e002c00: // smov
		l.unknown(l.rd(), 8)
		return true
	case w&0xbfe0fc00 == 0x0e003c00: // umov
		l.unknown(l.rd(), 8)
		return true
	}
	l.nop()
	return true
}
