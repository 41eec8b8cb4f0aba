package x86

import "github.com/hvcicheck/hvcicheck/ir"

// The opcode table consulted before x86asm. It covers the 0F-escaped
// instructions x86asm rejects (VMX, SVM, clac/stac, rdseed, serialize, …),
// those it silently mis-sizes by returning a bare one-byte rep/data16 "
// instruction" (vmxon, vmclear, invept, invvpid, endbr64, rdpid, adcx/adox,
// movdir64b, CET, hreset, ptwrite, …) and those it names wrongly in a way
// that matters (senduipi decoded as rdrand, clwb as xsaveopt). Everything
// else goes to x86asm.

// prefixes seen before the opcode.
type prefixes struct {
	p66, p67, lock bool
	rep            byte // the last F2/F3, 0 if none
	seg            byte // the last segment override, 0 if none
	rex            byte // REX byte immediately before the opcode, 0 if none
}

// mandatory returns the prefix that selects the instruction: F2/F3 over 66.
func (p *prefixes) mandatory() byte {
	if p.rep != 0 {
		return p.rep
	}
	if p.p66 {
		return 0x66
	}
	return 0
}

func (p *prefixes) rexW() bool { return p.rex&8 != 0 }
func (p *prefixes) rexR() byte { return (p.rex >> 2 & 1) << 3 }
func (p *prefixes) rexX() byte { return (p.rex >> 1 & 1) << 3 }
func (p *prefixes) rexB() byte { return (p.rex & 1) << 3 }

// modrm is a decoded ModRM operand.
type modrm struct {
	mod    byte
	reg    byte // ModRM.reg with REX.R (the /digit without it: ext)
	ext    byte // ModRM.reg alone
	rm     byte // register number for mod == 3 (with REX.B)
	mem    ir.Mem
	memOK  bool // false for fs:/gs:
	ripRel bool // mem.Disp is a displacement from the next instruction
	end    int  // offset just past ModRM, SIB and displacement
}

// decodeModRM reads the ModRM byte at code[pos] and what follows it.
func (l *lifter) decodeModRM(code []byte, pos int, p *prefixes) (modrm, bool) {
	var m modrm
	if pos >= len(code) {
		return m, false
	}
	b := code[pos]
	pos++
	m.mod, m.ext = b>>6, b>>3&7
	m.reg = m.ext | p.rexR()
	rm := b & 7
	if m.mod == 3 {
		m.rm = rm | p.rexB()
		m.end = pos
		return m, true
	}
	m.memOK = p.seg != 0x64 && p.seg != 0x65
	mem := ir.Mem{Base: ir.RegNone, Index: ir.RegNone}
	addr16 := l.d.mode == 32 && p.p67
	if addr16 {
		bases := [8][2]ir.Reg{{RBX, RSI}, {RBX, RDI}, {RBP, RSI}, {RBP, RDI},
			{RSI, ir.RegNone}, {RDI, ir.RegNone}, {RBP, ir.RegNone}, {RBX, ir.RegNone}}
		var disp int64
		switch {
		case m.mod == 0 && rm == 6:
			if pos+2 > len(code) {
				return m, false
			}
			m.mem = l.d.absMem(uint64(uint16(code[pos]) | uint16(code[pos+1])<<8))
			m.end = pos + 2
			return m, true
		case m.mod == 1:
			if pos+1 > len(code) {
				return m, false
			}
			disp = int64(int8(code[pos]))
			pos++
		case m.mod == 2:
			if pos+2 > len(code) {
				return m, false
			}
			disp = int64(int16(uint16(code[pos]) | uint16(code[pos+1])<<8))
			pos += 2
		}
		mem.Base = bases[rm][0]
		if bases[rm][1] != ir.RegNone {
			mem.Index, mem.Scale = bases[rm][1], 1
		}
		mem.Disp = disp
		m.mem, m.end = mem, pos
		return m, true
	}
	base := rm
	hasBase := true
	if rm == 4 { // SIB
		if pos >= len(code) {
			return m, false
		}
		sib := code[pos]
		pos++
		idx := sib>>3&7 | p.rexX()
		if idx != 4 {
			mem.Index, mem.Scale = ir.Reg(idx), 1<<(sib>>6)
		}
		base = sib & 7
		if base == 5 && m.mod == 0 {
			hasBase = false
		}
	} else if rm == 5 && m.mod == 0 {
		hasBase = false
		if l.d.mode == 64 {
			m.ripRel = true
		}
	}
	if hasBase {
		mem.Base = ir.Reg(base | p.rexB())
	}
	var disp int64
	switch {
	case m.mod == 1:
		if pos+1 > len(code) {
			return m, false
		}
		disp = int64(int8(code[pos]))
		pos++
	case m.mod == 2 || !hasBase:
		if pos+4 > len(code) {
			return m, false
		}
		disp = int64(int32(uint32(code[pos]) | uint32(code[pos+1])<<8 | uint32(code[pos+2])<<16 | uint32(code[pos+3])<<24))
		pos += 4
	}
	m.end = pos
	if m.ripRel {
		mem.Disp = disp // resolved by finishMem once the length is known
		m.mem = mem
		return m, true
	}
	if mem.Base == ir.RegNone && mem.Index == ir.RegNone {
		var addr uint64
		if l.d.mode == 32 || p.p67 {
			addr = uint64(uint32(disp))
		} else {
			addr = uint64(disp)
		}
		m.mem = l.d.absMem(addr)
		return m, true
	}
	mem.Disp = disp
	m.mem = mem
	return m, true
}

// finishMem resolves a rip-relative operand once the length n is known.
func (l *lifter) finishMem(m *modrm, n int) ir.Mem {
	if m.ripRel {
		return ir.Mem{Base: ir.RegNone, Index: ir.RegNone, Global: true,
			Disp: int64(l.rva) + int64(n) + m.mem.Disp}
	}
	return m.mem
}

// special lifts the instructions of the table. ok is false when the bytes
// are not one of them (or are truncated): x86asm then decides.
func (l *lifter) special(code []byte) (n int, ok bool) {
	var p prefixes
	i := 0
prefixLoop:
	for ; i < len(code); i++ {
		b := code[i]
		switch b {
		case 0x66:
			p.p66 = true
		case 0x67:
			p.p67 = true
		case 0xF2, 0xF3:
			p.rep = b
		case 0xF0:
			p.lock = true
		case 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65:
			p.seg = b
		default:
			if l.d.mode == 64 && b&0xF0 == 0x40 {
				p.rex = b
				continue
			}
			break prefixLoop
		}
		p.rex = 0 // a REX followed by another prefix is ignored
	}
	if i+1 >= len(code) || code[i] != 0x0F || p.lock {
		return 0, false
	}
	op := code[i+1]
	pos := i + 2
	mp := p.mandatory()
	switch op {
	case 0x01:
		return l.special0F01(code, pos, &p, mp)
	case 0x09:
		if mp == 0xF3 { // wbnoinvd
			l.nop()
			return pos, true
		}
	case 0x18, 0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F:
		// Hint NOPs: prefetch, MPX (a NOP when disabled), cldemote, CET
		// endbr64/endbr32 (F3 0F 1E FA/FB) and nop r/m.
		m, ok := l.decodeModRM(code, pos, &p)
		if !ok {
			return 0, false
		}
		if op == 0x1E && mp == 0xF3 && m.mod == 3 && m.ext == 1 { // rdsspd/rdsspq
			l.clobber(one(ir.Reg(m.rm)))
			return m.end, true
		}
		l.nop()
		return m.end, true
	case 0x78, 0x79:
		m, ok := l.decodeModRM(code, pos, &p)
		if !ok {
			return 0, false
		}
		switch mp {
		case 0: // vmread r/m, r  /  vmwrite r, r/m
			if op == 0x79 {
				l.nop()
				return m.end, true
			}
			if m.mod == 3 {
				l.clobber(one(ir.Reg(m.rm)))
			} else if m.memOK {
				l.store(l.finishMem(&m, m.end), none, l.d.ptr, 0)
			} else {
				l.nop()
			}
			return m.end, true
		case 0x66, 0xF2: // SSE4a extrq / insertq
			if m.mod != 3 || op == 0x78 && mp == 0x66 && m.ext != 0 {
				return 0, false
			}
			end := m.end
			if op == 0x78 {
				end += 2
			}
			if end > len(code) {
				return 0, false
			}
			l.nop()
			return end, true
		}
	case 0xC7:
		m, ok := l.decodeModRM(code, pos, &p)
		if !ok {
			return 0, false
		}
		if m.mod != 3 {
			switch {
			case m.ext == 6 && (mp == 0 || mp == 0x66 || mp == 0xF3): // vmptrld, vmclear, vmxon
				l.nop()
				return m.end, true
			case m.ext == 7 && mp == 0: // vmptrst m64
				if m.memOK {
					l.store(l.finishMem(&m, m.end), none, 8, 0)
				} else {
					l.nop()
				}
				return m.end, true
			}
			return 0, false
		}
		switch {
		case m.ext == 6 && mp == 0xF3 && l.d.mode == 64: // senduipi
			l.nop()
			return m.end, true
		case m.ext == 7 && mp == 0xF3: // rdpid
			l.clobber(one(ir.Reg(m.rm)))
			return m.end, true
		case m.ext == 7 && (mp == 0 || mp == 0x66): // rdseed
			w := uint8(4)
			if p.rexW() {
				w = 8
			} else if p.p66 {
				w = 2
			}
			l.unknownW(ir.Reg(m.rm), w)
			return m.end, true
		}
	case 0x38:
		return l.special0F38(code, pos, &p, mp)
	case 0x3A:
		if pos >= len(code) {
			return 0, false
		}
		op3 := code[pos]
		if (op3 == 0xCE || op3 == 0xCF) && mp == 0x66 || op3 == 0xF0 && mp == 0xF3 {
			// gf2p8affineqb, gf2p8affineinvqb, hreset: modrm and imm8
			m, ok := l.decodeModRM(code, pos+1, &p)
			if !ok || m.end+1 > len(code) || op3 == 0xF0 && code[pos+1] != 0xC0 {
				return 0, false
			}
			l.nop()
			return m.end + 1, true
		}
	case 0xAE:
		m, ok := l.decodeModRM(code, pos, &p)
		if !ok {
			return 0, false
		}
		switch {
		case mp == 0x66 && m.ext == 6, // clwb m8 / tpause r32
			mp == 0x66 && m.ext == 7 && m.mod != 3, // clflushopt
			mp == 0xF3 && m.ext == 4,               // ptwrite
			mp == 0xF3 && m.ext == 5 && m.mod == 3, // incsspd/q
			mp == 0xF3 && m.ext == 6,               // clrssbsy m64 / umonitor r
			mp == 0xF2 && m.ext == 6 && m.mod == 3: // umwait
			l.nop()
			return m.end, true
		}
	}
	return 0, false
}

// special0F01 covers the register forms of 0F 01 that x86asm lacks.
func (l *lifter) special0F01(code []byte, pos int, p *prefixes, mp byte) (int, bool) {
	if pos >= len(code) {
		return 0, false
	}
	b := code[pos]
	n := pos + 1
	if b < 0xC0 {
		if mp == 0xF3 && b>>3&7 == 5 { // rstorssp m64
			m, ok := l.decodeModRM(code, pos, p)
			if !ok {
				return 0, false
			}
			l.nop()
			return m.end, true
		}
		return 0, false
	}
	switch mp {
	case 0:
		switch b {
		case 0xC0, 0xC5, 0xCF, 0xD7: // enclv, pconfig, encls, enclu
			l.clobber(fixed(clobberAXBXCXDX))
		case 0xC1, 0xD8, 0xD9: // vmcall, vmrun, vmmcall: the hypervisor may change any register
			l.clobber(l.d.allButSP)
		case 0xC2, 0xC3, 0xC4, // vmlaunch, vmresume (fall through only on failure), vmxoff
			0xC6,       // wrmsrns
			0xCA, 0xCB, // clac, stac
			0xD4,                         // vmfunc
			0xDA, 0xDB, 0xDC, 0xDD, 0xDF, // vmload, vmsave, stgi, clgi, invlpga
			0xE8,             // serialize
			0xEF,             // wrpkru
			0xFA, 0xFB, 0xFC, // monitorx, mwaitx, clzero
			0xFE, 0xFF: // invlpgb, tlbsync
			l.nop()
		case 0xDE: // skinit does not return
			l.halt()
		case 0xEE, 0xFD: // rdpkru, rdpru
			l.clobber(fixed(clobberAXDX))
		default:
			return 0, false
		}
	case 0xF3:
		x64 := l.d.mode == 64
		switch {
		case b == 0xE8, b == 0xEA, b == 0xFA: // setssbsy, saveprevssp, mcommit
			l.nop()
		case x64 && (b == 0xED || b == 0xEE || b == 0xEF): // testui, clui, stui
			l.nop()
		case x64 && b == 0xEC: // uiret
			l.halt()
		case x64 && (b == 0xFE || b == 0xFF): // rmpadjust, psmash
			l.clobber(one(RAX))
		default:
			return 0, false
		}
	case 0xF2:
		switch b {
		case 0xE8, 0xE9: // xsusldtrk, xresldtrk
			l.nop()
		case 0xFF: // pvalidate
			l.clobber(one(RAX))
		case 0xFE: // rmpupdate
			if l.d.mode != 64 {
				return 0, false
			}
			l.clobber(one(RAX))
		default:
			return 0, false
		}
	default:
		return 0, false
	}
	return n, true
}

// special0F38 covers invept, invvpid, adcx, adox, CET wrss/wruss,
// movdir64b, enqcmd(s), movdiri and gf2p8mulb.
func (l *lifter) special0F38(code []byte, pos int, p *prefixes, mp byte) (int, bool) {
	if pos >= len(code) {
		return 0, false
	}
	op3 := code[pos]
	switch {
	case (op3 == 0x80 || op3 == 0x81) && mp == 0x66, // invept, invvpid
		op3 == 0xF6 && (mp == 0x66 || mp == 0xF3 || mp == 0), // adcx, adox, wrss
		op3 == 0xF5 && mp == 0x66,                            // wruss
		op3 == 0xF8 && mp != 0,                               // movdir64b, enqcmd, enqcmds
		op3 == 0xF9 && mp == 0,                               // movdiri
		op3 == 0xCF && mp == 0x66:                            // gf2p8mulb
	default:
		return 0, false
	}
	m, ok := l.decodeModRM(code, pos+1, p)
	if !ok {
		return 0, false
	}
	memOnly := op3 == 0x80 || op3 == 0x81 || op3 == 0xF5 || op3 == 0xF8 || op3 == 0xF9 || op3 == 0xF6 && mp == 0
	if memOnly && m.mod == 3 {
		return 0, false
	}
	switch op3 {
	case 0xF6:
		if mp == 0 { // wrss: a shadow-stack store, not memory the engine models
			l.nop()
			break
		}
		w := uint8(4)
		if p.rexW() {
			w = 8
		}
		l.unknownW(ir.Reg(m.reg), w)
	case 0xF8:
		if mp == 0x66 { // movdir64b r, m512: 64 bytes to [r]
			l.store(regMem(ir.Reg(m.reg), 0), none, 64, 0)
		} else {
			l.nop()
		}
	case 0xF9: // movdiri m32/64, r32/64
		w := uint8(4)
		if p.rexW() {
			w = 8
		}
		if m.memOK {
			l.store(l.finishMem(&m, m.end), ir.R(ir.Reg(m.reg)), w, 0)
		} else {
			l.nop()
		}
	default:
		l.nop()
	}
	return m.end, true
}
