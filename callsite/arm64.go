package callsite

import (
	"encoding/binary"

	"github.com/hvcicheck/hvcicheck/dataflow"
	"github.com/hvcicheck/hvcicheck/ir"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// ARM64 site discovery. ARM64 code has no rip-relative disp32: a global is
// reached by an adrp (its 4 KB page) followed, a few instructions later, by
// an add, load or store with the page offset through the same register. The
// index pairs them, without decoding, in one pass over the code's 4-byte
// words; direct calls and jumps are bl/b with a 26-bit offset.

// The words after an adrp searched for the instructions that use its page:
// to the end of the adrp's .pdata function (at most armFuncWindow words;
// compilers keep a page in a callee-saved register across a function), else
// armPairWindow words of straight-line code.
const (
	armPairWindow = 32
	armFuncWindow = 4096
)

// isARM64 reports whether the image is ARM64 code.
func (im *image) isARM64() bool { return im.f.Machine == peimage.MachineARM64 }

// Instruction patterns of the index (mask, value).
const (
	armBMask, armB       = 0xfc000000, 0x14000000 // b imm26
	armBL                = 0x94000000             // bl imm26
	armADRPMask, armADRP = 0x9f000000, 0x90000000
	armADR               = 0x10000000
	armLitMask, armLit   = 0x3b000000, 0x18000000 // ldr/ldrsw/prfm (literal)
	armAddImmMask        = 0xffc00000             // add xD, xN, #imm12 (no shift)
	armAddImm            = 0x91000000
	armRet               = 0xd65f0000 // ret (Rn in bits 9:5)
	armBrMask            = 0xfffffc1f
	armBr                = 0xd61f0000 // br Xn
)

// armWord returns the word at index i of data.
func armWord(data []byte, i int) uint32 { return binary.LittleEndian.Uint32(data[4*i:]) }

// indexARM64 indexes one executable section of an ARM64 image: adrp pairs
// and adr/literal loads into im.refs (keyed by the data RVA, valued by the
// address of the adrp, adr or ldr), bl targets and tail-call b targets into
// im.calls.
func (im *image) indexARM64(c codeSection) {
	data := c.data
	n := len(data) / 4
	var jumps [][2]uint32 // b sites and targets, judged once the calls are known
	for i := 0; i < n; i++ {
		w := armWord(data, i)
		pos := c.va + uint32(4*i)
		switch {
		case w&armBMask == armB, w&armBMask == armBL:
			t := pos + uint32(int32(w<<6)>>4)
			switch {
			case im.Code(t) == nil:
			case w&armBMask == armBL:
				im.calls[t] = append(im.calls[t], pos)
			default:
				jumps = append(jumps, [2]uint32{pos, t})
			}
		case w&armADRPMask == armADRP:
			im.indexPage(data, i, c.va)
		case w&armADRPMask == armADR:
			off := int32(w>>5&0x7ffff)<<13>>11 | int32(w>>29&3)
			im.addRef(pos+uint32(off), pos)
		case w&armLitMask == armLit:
			im.addRef(pos+uint32(int32(w<<8)>>13<<2), pos)
		}
	}
	for _, j := range jumps {
		if im.isTailB(j[0], j[1]) {
			im.calls[j[1]] = append(im.calls[j[1]], j[0])
		}
	}
}

// isTailB reports whether b from site to t may be a tail call: t is a
// .pdata start or a call target, lies outside the .pdata function holding
// the site, or (a leaf without .pdata) follows the end of other code.
func (im *image) isTailB(site, t uint32) bool {
	if im.pdataStart[t] || len(im.calls[t]) > 0 {
		return true
	}
	if fn, ok := im.pdataFunc(site); ok && (t < fn.Start || t >= fn.End) {
		return true
	}
	_, inPdata := im.pdataFunc(t)
	return !inPdata && im.followsEndARM64(t)
}

// pdataFunc returns the .pdata function holding rva.
func (im *image) pdataFunc(rva uint32) (peimage.RuntimeFunction, bool) {
	for lo, hi := 0, len(im.funcs); lo < hi; {
		m := (lo + hi) / 2
		switch f := im.funcs[m]; {
		case rva < f.Start:
			hi = m
		case rva >= f.End:
			lo = m + 1
		default:
			return f, true
		}
	}
	return peimage.RuntimeFunction{}, false
}

// addRef records a possible reference from code at site to data at t.
func (im *image) addRef(t, site uint32) {
	if t < im.size && im.isData(t) {
		im.refs[t] = append(im.refs[t], site)
	}
}

// indexPage pairs the adrp at word i with the instructions after it that
// add a page offset to its register (add, and loads and stores with an
// immediate offset), until the register is written again (`add xN, xN,
// #lo12` moves it to the global: later offsets are from there) or, outside
// .pdata, the straight-line code ends.
func (im *image) indexPage(data []byte, i int, va uint32) {
	w := armWord(data, i)
	reg := w & 31
	if reg == 31 {
		return
	}
	site := va + uint32(4*i)
	base := armPage(im.base, site, w)
	last, inFunc := i+armPairWindow, false
	if fn, ok := im.pdataFunc(site); ok {
		last, inFunc = i+int(min((fn.End-site)/4, armFuncWindow))-1, true
	}
	for j := i + 1; j < len(data)/4 && j <= last; j++ {
		u := armWord(data, j)
		d, ok := armPageOffset(u, reg)
		if ok && base+d >= 0 && base+d < int64(im.size) {
			im.addRef(uint32(base+d), site)
		}
		switch {
		case ok && u&armAddImmMask == armAddImm && u&31 == reg:
			base += d
		case armWrites(u, reg), !inFunc && armEndsFlow(u):
			return
		}
	}
}

// armPage returns the RVA an adrp word at site computes.
func armPage(imageBase uint64, site, w uint32) int64 {
	pc := imageBase + uint64(site)
	off := int64(int32(w>>5&0x7ffff)<<13>>11|int32(w>>29&3)) << 12
	return int64(pc&^0xfff) + off - int64(imageBase)
}

// armPageOffset returns the offset u adds to register reg as a base: add
// (immediate), or a load/store with an unsigned, unscaled or pair offset.
func armPageOffset(u, reg uint32) (int64, bool) {
	if u>>5&31 != reg {
		return 0, false
	}
	switch {
	case u&armAddImmMask == armAddImm:
		return int64(u >> 10 & 0xfff), true
	case u&0x3b000000 == 0x39000000: // unsigned offset
		scale := u >> 30
		if u&(1<<26) != 0 && u&(1<<23) != 0 {
			scale = 4
		}
		return int64(u>>10&0xfff) << scale, true
	case u&0x3b200c00 == 0x38000000: // unscaled
		return int64(int32(u<<11) >> 23), true
	case u&0x3b800000 == 0x29000000: // ldp/stp with a signed offset
		scale := 2 + u>>31
		if u&(1<<26) != 0 {
			scale = 2 + u>>30
		}
		return int64(int32(u<<10)>>25) << scale, true
	}
	return 0, false
}

// armEndsPair reports whether, after u, register reg may no longer hold
// the value it held before in straight-line code: u writes it or ends the
// straight-line code.
func armEndsPair(u, reg uint32) bool { return armEndsFlow(u) || armWrites(u, reg) }

// armEndsFlow reports a return or an unconditional branch.
func armEndsFlow(u uint32) bool {
	return u&armBrMask == armBr || u&0xfffffc1f == armRet || u&armBMask == armB
}

// armWrites reports whether u may write register reg (an approximation from
// the destination fields: data processing Rd, a load's Rt or Rt2, a base
// update), a call counting as a write of x0..x18.
func armWrites(u, reg uint32) bool {
	switch {
	case u&armBMask == armBL || u&0xfffffc1f == 0xd63f0000: // bl, blr
		return reg <= 18
	case u&0x1c000000 == 0x10000000, u&0x0e000000 == 0x0a000000: // data processing
		return u&31 == reg
	case u&0x0a000000 == 0x08000000: // loads and stores
		return armLoadWrites(u, reg)
	}
	return false
}

// armLoadWrites reports whether a load/store word may write register reg:
// as the loaded register (bit 22 is the load bit of the pair, exclusive and
// most register forms; opc 1x loads too), as a pair's second register, or
// as a base updated by writeback.
func armLoadWrites(u, reg uint32) bool {
	load := u&(1<<22) != 0 || (u&0x38000000 == 0x38000000 && u&(1<<23) != 0) || u&0x3b000000 == 0x18000000
	pair := u&0x38000000 == 0x28000000
	switch {
	case load && u&31 == reg, load && pair && u>>10&31 == reg:
		return true
	case u>>5&31 != reg:
		return false
	case pair:
		return u>>23&3 == 1 || u>>23&3 == 3
	case u&0x3b200000 == 0x38000000: // unscaled, unprivileged, pre/post-indexed
		return u>>10&1 == 1
	}
	return false
}

// hasCallARM64 reports whether one of sites is a bl (not only b).
func hasCallARM64(im *image, sites []uint32) bool {
	for _, s := range sites {
		if b := im.Code(s); len(b) >= 4 && binary.LittleEndian.Uint32(b)&armBMask == armBL {
			return true
		}
	}
	return false
}

// followsEndARM64 reports whether t begins its section or follows a
// return, an unconditional branch, a call (the previous function may end
// with a call of a routine that does not return), a breakpoint, a nop or
// zero padding.
func (im *image) followsEndARM64(t uint32) bool {
	prev := im.Code(t - 4)
	if t%4 != 0 || len(prev) < 8 {
		return t%4 == 0 && im.Code(t) != nil
	}
	u := binary.LittleEndian.Uint32(prev)
	switch {
	case u&0xfe1f0000 == 0xd61f0000: // br, blr, ret, eret and their PAC forms
		return true
	case u&0x7c000000 == 0x14000000: // b, bl
		return true
	case u&0xffe0001f == 0xd4200000, u < 0x10000, u == 0xd503201f: // brk, udf, nop
		return true
	}
	return false
}

// thunkStarts returns where an import thunk holding a slot reference at
// site would start: x86/x64 `jmp [slot]` (FF 25) has its disp32 (x64) or
// absolute address (x86) 2 bytes in, or 3 with a REX prefix; the ARM64
// thunk starts with the adrp that the index records.
func (im *image) thunkStarts(site uint32) []uint32 {
	if im.isARM64() {
		return []uint32{site}
	}
	return []uint32{site - 2, site - 3}
}

// resolveStubARM64 follows the ARM64 import thunk `adrp x16, slot@page; ldr
// x16, [x16, slot@pageoff]; br x16` (the callee is the slot's import) and
// the range-extension stub `adrp x16, f@page; add x16, x16, f@pageoff; br
// x16` (the callee is the code at f). ok is false for other code and other
// architectures.
func (im *image) resolveStubARM64(rva uint32, regs []dataflow.Value, hop int) (c callee, ok bool) {
	if !im.isARM64() {
		return callee{}, false
	}
	code := im.Code(rva)
	if len(code) < 12 {
		return callee{}, false
	}
	w0, w1, w2 := armWord(code, 0), armWord(code, 1), armWord(code, 2)
	reg := w0 & 31
	if w0&armADRPMask != armADRP || reg == 31 || w2 != armBr|reg<<5 {
		return callee{}, false
	}
	page := armPage(im.base, rva, w0)
	switch {
	case w1&0xffc003ff == 0xf9400000|reg<<5|reg: // ldr xN, [xN, #imm12*8]
		slot := page + int64(w1>>10&0xfff)*8
		if slot < 0 || slot >= int64(im.size) {
			return callee{}, true
		}
		return im.resolveValue(im.LoadGlobal(uint32(slot), 8), regs, hop+1), true
	case w1&0xffc003ff == armAddImm|reg<<5|reg: // add xN, xN, #imm12
		t := page + int64(w1>>10&0xfff)
		if t < 0 || t >= int64(im.size) || hop >= maxHops {
			return callee{}, true
		}
		return im.resolveCode(uint32(t), regs, hop+1), true
	}
	return callee{}, false
}

// mayStoreARM64 is mayStore for ARM64, where a global's address is built
// in a register (adrp, then add or an offset in the store): a linear lift
// of fn follows the registers that hold a constant address (adrp/adr, add
// and sub of constants, moves) and reports a store that overlaps [rva,
// rva+w) or an address computed inside it.
func (im *image) mayStoreARM64(fn dataflow.Func, rva uint32, w uint8) bool {
	end := fn.End
	if end == 0 || end-fn.Start > 1<<16 {
		end = fn.Start + 1<<16
	}
	var addr [ir.MaxRegs]int64 // RVA held by a register, -1: none
	for i := range addr {
		addr[i] = -1
	}
	var buf []ir.Insn
	for pc := fn.Start; pc < end; pc += 4 {
		code := im.Code(pc)
		if code == nil {
			return false
		}
		insns, _, err := im.dec.Lift(code, pc, buf[:0])
		buf = insns
		if err != nil {
			continue
		}
		for k := range insns {
			if armTouches(&insns[k], &addr, rva, w) {
				return true
			}
		}
		if fn.End == 0 && len(insns) > 0 && insns[len(insns)-1].Kind == ir.Ret {
			return false
		}
	}
	return false
}

// armTouches applies one lifted instruction to the register addresses and
// reports whether it stores into [rva, rva+w) or computes an address there
// (adr, or an add/sub of a register holding an address; an adrp alone is
// the page, which the loads of a global at offset 0 use as it is).
func armTouches(in *ir.Insn, addr *[ir.MaxRegs]int64, rva uint32, w uint8) bool {
	inside := func(a int64, width uint8) bool {
		return a >= 0 && a < int64(rva)+int64(w) && int64(rva) < a+int64(max(width, 1))
	}
	memAddr := func(m ir.Mem) int64 {
		switch {
		case m.Global:
			return m.Disp
		case m.Index == ir.RegNone && int(m.Base) < len(addr) && addr[m.Base] >= 0:
			return addr[m.Base] + m.Disp
		}
		return -1
	}
	switch in.Kind {
	case ir.Store:
		return inside(memAddr(in.Mem), in.Width)
	case ir.Clobber:
		for _, r := range in.Regs {
			if int(r) < len(addr) {
				addr[r] = -1
			}
		}
	case ir.Call:
		for i := range addr {
			addr[i] = -1
		}
	case ir.Assign:
		if int(in.Dst) >= len(addr) {
			return false
		}
		a, computed := armAssignAddr(in, addr)
		addr[in.Dst] = a
		return computed && inside(a, 1)
	}
	return false
}

// armAssignAddr returns the RVA an Assign leaves in its destination when
// it is a constant address (else -1), and whether the instruction computes
// it (adr, add, sub) rather than loading a page or copying a register.
func armAssignAddr(in *ir.Insn, addr *[ir.MaxRegs]int64) (int64, bool) {
	reg := func(o ir.Operand) int64 {
		if o.Kind == ir.KReg && int(o.Reg) < len(addr) {
			return addr[o.Reg]
		}
		return -1
	}
	switch {
	case in.Width != 8 || in.Op == ir.OpUnknown:
		return -1, false
	case in.Op == ir.OpMov && in.A.Kind == ir.KAddr && in.A.Mem.Global:
		return in.A.Mem.Disp, in.A.Mem.Disp%0x1000 != 0 // an adrp gives a page
	case in.Op == ir.OpMov:
		return reg(in.A), false
	case (in.Op == ir.OpAdd || in.Op == ir.OpSub) && in.B.Kind == ir.KImm && reg(in.A) >= 0:
		if in.Op == ir.OpSub {
			return reg(in.A) - in.B.Imm, true
		}
		return reg(in.A) + in.B.Imm, true
	}
	return -1, false
}

// armCFGDecoder wraps the ARM64 front end of one image to model the
// Control Flow Guard check call. Guarded code calls __guard_check_icall_fptr
// with the target in x15 (`mov x15, xT; blr xC`), then calls the target
// (`blr xT`). The check routine has a calling convention of its own: it
// preserves x0..x8 (the arguments of the guarded call; LLVM's
// CSR_Win_AArch64_CFGuard_Check) and writes no memory, so code may keep
// the target and the arguments in those registers across it (clang -O0
// does). The check is lifted as a Clobber of x9..x18 and x30 instead of a
// call, which would make the arguments unknown.
type armCFGDecoder struct {
	ir.Decoder
	im *image
}

// cfgCheckClobbers are the registers the check routine (and blr) may change.
var cfgCheckClobbers = []ir.Reg{9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 30}

// armDecoder returns dec, wrapped for ARM64 images (see armCFGDecoder).
func (im *image) armDecoder(dec ir.Decoder) ir.Decoder {
	if !im.isARM64() {
		return dec
	}
	return armCFGDecoder{Decoder: dec, im: im}
}

// Lift implements ir.Decoder.
func (d armCFGDecoder) Lift(code []byte, rva uint32, out []ir.Insn) ([]ir.Insn, int, error) {
	if d.im.isCFGCheck(code, rva) {
		regs := cfgCheckClobbers[:len(cfgCheckClobbers):len(cfgCheckClobbers)]
		return append(out, ir.Insn{Kind: ir.Clobber, Addr: rva, Len: 4, Regs: regs}), 4, nil
	}
	return d.Decoder.Lift(code, rva, out)
}

// armCFGWindow bounds how many words after the check the guarded call
// (blr or br through the target register) is looked for.
const armCFGWindow = 8

// isCFGCheck reports whether the word at rva (code) is a CFG check call:
// `blr xC` right after `mov x15, xT` (T and C other registers than x15 and
// each other), with `blr xT` or `br xT` among the next words, before a
// return or another write of xT.
func (im *image) isCFGCheck(code []byte, rva uint32) bool {
	if len(code) < 4 || rva < 4 {
		return false
	}
	w := armWord(code, 0)
	prev := im.Code(rva - 4)
	if w&0xfffffc1f != 0xd63f0000 || len(prev) < 8 {
		return false
	}
	p := armWord(prev, 0)
	t, c := p>>16&31, w>>5&31
	if p&0xffe0ffff != 0xaa0003ef || t == 15 || t == 31 || c == 15 || c == t {
		return false
	}
	for j := 1; j <= armCFGWindow && 4*j+4 <= len(code); j++ {
		u := armWord(code, j)
		switch {
		case u == 0xd63f0000|t<<5, u == 0xd61f0000|t<<5:
			return true
		case armEndsPair(u, t):
			return false
		}
	}
	return false
}
