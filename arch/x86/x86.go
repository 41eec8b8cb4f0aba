package x86

import (
	"errors"
	"strconv"

	"github.com/hvcicheck/hvcicheck/ir"
	"golang.org/x/arch/x86/x86asm"
)

// The general-purpose registers. On x86 the same numbers name eax..edi.
const (
	RAX ir.Reg = iota
	RCX
	RDX
	RBX
	RSP
	RBP
	RSI
	RDI
	R8
	R9
	R10
	R11
	R12
	R13
	R14
	R15
)

// 32-bit names of the same registers.
const (
	EAX = RAX
	ECX = RCX
	EDX = RDX
	EBX = RBX
	ESP = RSP
	EBP = RBP
	ESI = RSI
	EDI = RDI
)

// NumRegs is the number of registers the front end numbers (0..NumRegs-1).
const NumRegs = 16

// WidthUnknown is the Width of a Store whose extent is unknown or larger than
// a uint8 can say (rep movs/stos, fxsave, xsave, sgdt): at least 255 bytes
// from Mem on are lost.
const WidthUnknown = 255

// maxInsnLen is the architectural limit on an instruction's length.
const maxInsnLen = 15

// ErrTruncated is returned when the bytes end inside an instruction.
var ErrTruncated = errors.New("x86: truncated instruction")

// DecodeError reports bytes that do not decode as an instruction.
type DecodeError struct {
	RVA  uint32
	Byte byte // the first byte
	// Prefix is set when x86asm returned a bare one-byte prefix (its way of
	// saying the rest did not decode) and the table did not know it either.
	Prefix bool
}

func (e *DecodeError) Error() string {
	s := "x86: undecodable instruction at rva 0x" + strconv.FormatUint(uint64(e.RVA), 16) +
		" (first byte 0x" + strconv.FormatUint(uint64(e.Byte), 16) + ")"
	if e.Prefix {
		s += ": prefix with no valid instruction"
	}
	return s
}

// Decoder lifts x64 (mode 64) or x86 (mode 32) machine code. It is safe for
// concurrent use: Lift keeps no state in it.
type Decoder struct {
	mode        int
	ptr         uint8 // 8 or 4
	imageBase   uint64
	sizeOfImage uint32
	arch        *ir.Arch
	// relocated reports whether a base relocation covers the 4 bytes at an
	// RVA (see SetRelocated).
	relocated func(rva uint32) bool

	// noFast disables the fast decoder (tests compare both paths).
	noFast bool

	// Clobber lists for this mode (static; the engine must not modify Regs).
	callerSaved []ir.Reg
	allButSP    []ir.Reg
}

var (
	x64Arch = &ir.Arch{
		Name:                "x64",
		PtrSize:             8,
		SP:                  RSP,
		Ret:                 RAX,
		NumRegs:             NumRegs,
		ArgRegs:             []ir.Reg{RCX, RDX, R8, R9},
		CallerSaved:         []ir.Reg{RAX, RCX, RDX, R8, R9, R10, R11},
		StackArgOffset:      0x20,
		EntryStackArgOffset: 0x28,
		RegName:             regName64,
	}
	x86Arch = &ir.Arch{
		Name:                "x86",
		PtrSize:             4,
		SP:                  ESP,
		Ret:                 EAX,
		NumRegs:             NumRegs,
		ArgRegs:             nil,
		CallerSaved:         []ir.Reg{EAX, ECX, EDX},
		RegInputs:           []ir.Reg{EAX, ECX, EDX},
		StackArgOffset:      0,
		EntryStackArgOffset: 4,
		RegName:             regName32,
	}
)

var (
	names64 = [NumRegs]string{"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
		"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"}
	names32 = [8]string{"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"}
)

func regName64(r ir.Reg) string {
	if int(r) < len(names64) {
		return names64[r]
	}
	if r == ir.RegNone {
		return "none"
	}
	return "reg" + strconv.Itoa(int(r))
}

func regName32(r ir.Reg) string {
	if int(r) < len(names32) {
		return names32[r]
	}
	if r == ir.RegNone {
		return "none"
	}
	return "reg" + strconv.Itoa(int(r))
}

// New returns a decoder for mode 64 (x64) or 32 (x86). imageBase and
// sizeOfImage place absolute addresses: one inside [imageBase,
// imageBase+sizeOfImage) becomes a Global RVA. Any mode other than 32 is
// taken as 64.
func New(mode int, imageBase uint64, sizeOfImage uint32) *Decoder {
	d := &Decoder{mode: 64, ptr: 8, imageBase: imageBase, sizeOfImage: sizeOfImage, arch: x64Arch,
		callerSaved: x64Arch.CallerSaved[:len(x64Arch.CallerSaved):len(x64Arch.CallerSaved)],
		allButSP:    clobberAllButSP64}
	if mode == 32 {
		d.mode, d.ptr, d.arch = 32, 4, x86Arch
		d.callerSaved = x86Arch.CallerSaved[:len(x86Arch.CallerSaved):len(x86Arch.CallerSaved)]
		d.allButSP = clobberAllButSP32
	}
	return d
}

// Arch returns the calling convention: Microsoft x64, or x86 stdcall/cdecl
// (all arguments on the stack).
func (d *Decoder) Arch() *ir.Arch { return d.arch }

// Mode returns 64 or 32.
func (d *Decoder) Mode() int { return d.mode }

// SetRelocated gives the decoder the image's base relocations (f reports
// whether a HIGHLOW/DIR64 relocation covers the bytes at an RVA). With it, a
// 32-bit immediate that is relocated and lies inside the image (x86 `push
// offset g`, `mov dword ptr [esp+4], offset Callback`) is lifted as the
// address of a global, A(Mem{Global: true, Disp: rva}), instead of a bare
// constant. Without it immediates stay constants. Call before using the
// decoder from several goroutines.
func (d *Decoder) SetRelocated(f func(rva uint32) bool) { d.relocated = f }

// Static clobber lists. Slices handed out in Insn.Regs are cut with a full
// slice expression so that an append by the engine cannot write into them.
var (
	gprList           = [NumRegs]ir.Reg{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	clobberAllButSP64 = []ir.Reg{RAX, RCX, RDX, RBX, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15}
	clobberAllButSP32 = []ir.Reg{EAX, ECX, EDX, EBX, EBP, ESI, EDI}
	clobberAXDX       = []ir.Reg{RAX, RDX}
	clobberAXCXDX     = []ir.Reg{RAX, RCX, RDX}
	clobberAXBXCXDX   = []ir.Reg{RAX, RBX, RCX, RDX}
	clobberSyscall    = []ir.Reg{RAX, RCX, RDX, R8, R9, R10, R11}
)

func one(r ir.Reg) []ir.Reg {
	if int(r) < NumRegs {
		return gprList[r : r+1 : r+1]
	}
	return nil
}

func fixed(s []ir.Reg) []ir.Reg { return s[:len(s):len(s)] }

// gpr describes an x86asm register as a general-purpose register.
type gpr struct {
	n    ir.Reg // full register, RegNone when not a GPR
	w    uint8  // width in bytes, 0 when not a GPR
	high bool   // ah, ch, dh, bh
}

var gprs [256]gpr

func init() {
	for i := range gprs {
		gprs[i] = gpr{n: ir.RegNone}
	}
	for i := 0; i < 20; i++ { // AL CL DL BL AH CH DH BH SPB BPB SIB DIB R8B..R15B
		r := x86asm.AL + x86asm.Reg(i)
		switch {
		case i < 4:
			gprs[r] = gpr{n: ir.Reg(i), w: 1}
		case i < 8:
			gprs[r] = gpr{n: ir.Reg(i - 4), w: 1, high: true}
		default:
			gprs[r] = gpr{n: ir.Reg(i - 4), w: 1}
		}
	}
	for i := 0; i < 16; i++ {
		gprs[x86asm.AX+x86asm.Reg(i)] = gpr{n: ir.Reg(i), w: 2}
		gprs[x86asm.EAX+x86asm.Reg(i)] = gpr{n: ir.Reg(i), w: 4}
		gprs[x86asm.RAX+x86asm.Reg(i)] = gpr{n: ir.Reg(i), w: 8}
	}
}

// Lift decodes the instruction at code[0] (whose RVA is rva), appends its
// lifted form to out and returns its length. On error nothing is appended.
func (d *Decoder) Lift(code []byte, rva uint32, out []ir.Insn) ([]ir.Insn, int, error) {
	if len(code) == 0 {
		return out, 0, ErrTruncated
	}
	if len(code) > maxInsnLen {
		code = code[:maxInsnLen]
	}
	var l lifter
	l.d, l.out, l.start, l.rva = d, out, len(out), rva
	if n, ok := l.special(code); ok {
		return l.finish(n), n, nil
	}
	if !d.noFast {
		if n, ok := l.fast(code); ok {
			return l.finish(n), n, nil
		}
	}
	return l.slow(code)
}

// slow decodes with x86asm. It is a function of its own so that the large
// x86asm.Inst (which must be zeroed) is not in Lift's frame.
//
//go:noinline
func (l *lifter) slow(code []byte) ([]ir.Insn, int, error) {
	d := l.d
	inst, err := x86asm.Decode(code, d.mode)
	if err != nil || inst.Op == 0 || inst.Len <= 0 || inst.Len > len(code) || inst.Len > maxInsnLen {
		if err == x86asm.ErrTruncated {
			return l.out, 0, ErrTruncated
		}
		return l.out, 0, &DecodeError{RVA: l.rva, Byte: code[0], Prefix: err == nil}
	}
	for _, p := range inst.Prefix {
		if p == 0 {
			break
		}
		if p&x86asm.PrefixInvalid != 0 { // e.g. lock on an instruction that cannot take it: #UD
			return l.out, 0, &DecodeError{RVA: l.rva, Byte: code[0]}
		}
	}
	if vexTruncated(code, &inst) {
		return l.out, 0, ErrTruncated
	}
	l.n = inst.Len
	l.inst.fromInst(&inst, d.mode)
	l.lift()
	return l.finish(inst.Len), inst.Len, nil
}

// vexTruncated reports a VEX or EVEX instruction whose ModRM byte lies past
// the end of the bytes: x86asm then decodes a zero ModRM instead of failing.
// Every VEX/EVEX instruction but vzeroupper/vzeroall has a ModRM byte.
func vexTruncated(code []byte, inst *x86asm.Inst) bool {
	if inst.Op == x86asm.VZEROUPPER || inst.Op == x86asm.VZEROALL {
		return false
	}
	vex := false
	for _, p := range inst.Prefix {
		if p == 0 {
			break
		}
		if p.IsVEX() || p.IsEVEX() {
			vex = true
			break
		}
	}
	if !vex {
		return false
	}
	i := 0
	for i < len(code) && isLegacyPrefix(code[i]) {
		i++
	}
	if i >= len(code) {
		return true
	}
	switch code[i] {
	case 0xC5:
		i += 2
	case 0xC4:
		i += 3
	case 0x62:
		i += 4
	default:
		return false
	}
	return inst.Len <= i+1 // the opcode is at i, the ModRM at i+1
}

func isLegacyPrefix(b byte) bool {
	switch b {
	case 0x66, 0x67, 0xF0, 0xF2, 0xF3, 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65:
		return true
	}
	return false
}
