package arm64

import (
	"encoding/binary"
	"errors"
	"strconv"

	"github.com/hvcicheck/hvcicheck/ir"
)

// The registers: X0..X30 are 0..30 (W0..W30 name the same numbers), SP is 31.
// The zero register has no number: it reads as the constant 0 and a write to
// it is dropped.
const (
	X0  ir.Reg = 0
	X1  ir.Reg = 1
	X2  ir.Reg = 2
	X3  ir.Reg = 3
	X4  ir.Reg = 4
	X5  ir.Reg = 5
	X6  ir.Reg = 6
	X7  ir.Reg = 7
	X8  ir.Reg = 8
	X15 ir.Reg = 15
	X16 ir.Reg = 16
	X17 ir.Reg = 17
	X18 ir.Reg = 18
	X19 ir.Reg = 19
	X29 ir.Reg = 29 // the frame pointer
	X30 ir.Reg = 30 // the link register
	SP  ir.Reg = 31
)

// NumRegs is the number of registers the front end numbers (0..NumRegs-1).
const NumRegs = 32

// zr is the encoding's register 31 where it means the zero register.
const zr = 31

// ErrTruncated is returned when fewer than 4 bytes remain.
var ErrTruncated = errors.New("arm64: truncated instruction")

// DecodeError reports a word that is not an instruction the front end knows
// (unallocated, SVE/SME, or an extension a kernel driver does not use).
type DecodeError struct {
	RVA  uint32
	Word uint32
}

func (e *DecodeError) Error() string {
	return "arm64: undecodable instruction 0x" + strconv.FormatUint(uint64(e.Word), 16) +
		" at rva 0x" + strconv.FormatUint(uint64(e.RVA), 16)
}

// Decoder lifts ARM64 (A64) machine code. It is safe for concurrent use:
// Lift keeps no state in it.
type Decoder struct {
	imageBase   uint64
	sizeOfImage uint32
}

// New returns a decoder for an image loaded at imageBase with sizeOfImage
// bytes: a pc-relative address (adr, adrp, literal loads) inside the image
// becomes a Global RVA, one outside it an absolute address.
func New(imageBase uint64, sizeOfImage uint32) *Decoder {
	return &Decoder{imageBase: imageBase, sizeOfImage: sizeOfImage}
}

var arm64Arch = &ir.Arch{
	Name:                "arm64",
	PtrSize:             8,
	SP:                  SP,
	Ret:                 X0,
	NumRegs:             NumRegs,
	ArgRegs:             []ir.Reg{0, 1, 2, 3, 4, 5, 6, 7},
	CallerSaved:         []ir.Reg{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, X30},
	StackArgOffset:      0,
	EntryStackArgOffset: 0,
	RegName:             RegName,
}

// Arch returns the Windows ARM64 calling convention: arguments in x0..x7,
// then on the stack from SP at the call; the result in x0.
func (d *Decoder) Arch() *ir.Arch { return arm64Arch }

// RegName names a register: x0..x30, sp.
func RegName(r ir.Reg) string {
	switch {
	case r < SP:
		return "x" + strconv.Itoa(int(r))
	case r == SP:
		return "sp"
	case r == ir.RegNone:
		return "none"
	}
	return "reg" + strconv.Itoa(int(r))
}

// Static register lists handed out in Clobber.Regs, cut with a full slice
// expression so that an append by the engine copies.
var (
	gprList    = [NumRegs]ir.Reg{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31}
	clobberX17 = []ir.Reg{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}
)

// one returns the one-register list of r.
func one(r ir.Reg) []ir.Reg { return gprList[r : r+1 : r+1] }

// Lift decodes the instruction at code[0] (whose RVA is rva), appends its
// lifted form to out and returns its length, 4. On error nothing is
// appended.
func (d *Decoder) Lift(code []byte, rva uint32, out []ir.Insn) ([]ir.Insn, int, error) {
	if len(code) < 4 {
		return out, 0, ErrTruncated
	}
	l := lifter{d: d, out: out, start: len(out), rva: rva, w: binary.LittleEndian.Uint32(code)}
	if !l.lift() {
		return out[:l.start], 0, &DecodeError{RVA: rva, Word: l.w}
	}
	return l.finish(), 4, nil
}
