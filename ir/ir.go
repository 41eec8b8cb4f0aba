// Package ir is the small architecture-neutral instruction form the data-flow
// engine runs on. Each architecture's front end (arch/x64, …) decodes machine
// code and lifts every instruction into one or more ir.Insn; decoder quirks
// stay in the front end.
//
// Values are 64-bit. Registers are numbered by the front end (Reg); the
// engine knows only the roles the calling convention (Arch) gives them.
// Addresses are image-relative where the front end can resolve them
// (rip-relative, absolute with the preferred image base): Mem.Global is then
// set and Mem.Disp is an RVA.
package ir

import "fmt"

// Reg is a register number given by the front end. RegNone means "no
// register" in a Mem or an Operand.
type Reg uint8

// RegNone is the absent register.
const RegNone Reg = 0xff

// MaxRegs bounds register numbers: a front end numbers its registers below it.
const MaxRegs = 40

// Mem is a memory address: Base + Index*Scale + Disp. With Global set, Base
// and Index are RegNone and Disp is the RVA of the addressed byte.
type Mem struct {
	Disp   int64
	Base   Reg
	Index  Reg
	Scale  uint8
	Global bool
}

// OperandKind says what an Operand is.
type OperandKind uint8

// Operand kinds.
const (
	KNone OperandKind = iota
	KReg              // a register's value
	KImm              // a constant
	KMem              // the value loaded from memory at Mem (Width bytes)
	KAddr             // the address Mem computes (lea, adr/adrp)
)

// Operand is a source of a value.
type Operand struct {
	Imm  int64
	Mem  Mem
	Kind OperandKind
	Reg  Reg
}

// R, I, M and A build operands.
func R(r Reg) Operand   { return Operand{Kind: KReg, Reg: r} }
func I(v int64) Operand { return Operand{Kind: KImm, Imm: v} }
func M(m Mem) Operand   { return Operand{Kind: KMem, Mem: m} }
func A(m Mem) Operand   { return Operand{Kind: KAddr, Mem: m} }

// Op is an operation of an Assign.
type Op uint8

// Operations. Binary ones take A and B; unary ones A only.
const (
	OpMov     Op = iota // dst = A
	OpAdd               // dst = A + B
	OpSub               // dst = A - B
	OpAnd               // dst = A & B
	OpOr                // dst = A | B
	OpXor               // dst = A ^ B
	OpShl               // dst = A << B
	OpShr               // dst = A >> B (logical)
	OpSar               // dst = A >> B (arithmetic, at Width)
	OpNot               // dst = ^A
	OpNeg               // dst = -A
	OpMul               // dst = A * B
	OpSext              // dst = sign-extend A from SrcWidth bytes
	OpUnknown           // dst = unknown (an instruction not modelled)
	OpSelect            // dst = A or B, whichever a condition picks (cmov, csel; setcc as 0 or 1)
)

// WriteMode says how a write narrower than the register treats the rest.
type WriteMode uint8

// Write modes.
const (
	// ZeroExtend: the register becomes the Width-byte result, upper bytes 0
	// (x64 32-bit writes, ARM64 w-register writes, any full-width write).
	ZeroExtend WriteMode = iota
	// Merge: only the low Width bytes change (x86 8- and 16-bit writes).
	Merge
)

// Kind is what an instruction does.
type Kind uint8

// Instruction kinds.
const (
	Assign  Kind = iota // Dst = Op(A, B) at Width, Mode
	Store               // memory at Mem = A, Width bytes
	Call                // call Target; the convention's caller-saved registers die
	Jump                // unconditional jump to Target (a tail call when Target is not in the function)
	Branch              // conditional: Target or fall through
	Ret                 // return
	Clobber             // the registers in Regs become unknown
	Nop                 // nothing the engine tracks (compares, hints, prefetch)
	Halt                // the path ends here (int3, ud2, hlt, undecodable bytes)
)

// Insn is one lifted instruction (a machine instruction may lift to several,
// all with the same Addr).
//
// Its fields are ordered so that it packs into 152 bytes (it was 200): a
// block's lifted instructions are kept while its image is analysed.
type Insn struct {
	Addr uint32 // RVA of the machine instruction
	Kind Kind
	Len  uint8 // its length in bytes (on the last Insn of a sequence)
	Op   Op
	Dst  Reg
	// PopBytes is, on x86 Ret, the immediate of `ret N`.
	PopBytes uint16
	Width    uint8 // bytes written: 1, 2, 4 or 8
	// SrcWidth is the width of a memory load in A (bytes), or of OpSext's input.
	SrcWidth uint8
	Mode     WriteMode
	A, B     Operand
	// Mem is the address of a Store.
	Mem Mem
	// Target is a Call's, Jump's or Branch's destination: KImm (an RVA), KReg
	// or KMem (the target is loaded from memory).
	Target Operand
	// Regs lists the registers a Clobber kills.
	Regs []Reg
}

func (in Insn) String() string {
	return fmt.Sprintf("%#x kind=%d op=%d dst=%d a=%+v b=%+v w=%d target=%+v", in.Addr, in.Kind, in.Op, in.Dst, in.A, in.B, in.Width, in.Target)
}

// Arch describes an architecture's calling convention and register roles to
// the engine.
type Arch struct {
	Name string
	// PtrSize is 4 or 8.
	PtrSize int
	// NumRegs is how many registers the front end numbers (below MaxRegs;
	// 0 means MaxRegs).
	NumRegs int
	// SP is the stack pointer.
	SP Reg
	// Ret is the register holding a call's result.
	Ret Reg
	// ArgRegs are the registers of the first arguments, in order.
	ArgRegs []Reg
	// CallerSaved are the registers a call leaves unknown (Ret included).
	CallerSaved []Reg
	// RegInputs are registers, other than ArgRegs, whose values at a
	// function's entry are tracked as its inputs: compilers pass the
	// arguments of internal functions there (x86: LLVM's fastcc uses ecx and
	// edx, GCC's local regparm eax, edx and ecx).
	RegInputs []Reg
	// StackArgOffset is where stack argument slot 0 lies relative to SP at
	// the call instruction: x64 0x20 (after the home space), x86 0, ARM64 0.
	StackArgOffset int64
	// EntryStackArgOffset is where stack argument slot 0 lies relative to SP
	// at a function's first instruction (x64 0x28: return address and home
	// space; x86 4: the return address; ARM64 0).
	EntryStackArgOffset int64
	// RegName names a register for messages.
	RegName func(Reg) string
}

// ArgSlot locates argument slot i (C argument index on x64/ARM64; stack-slot
// index on x86) at a call: a register, or a stack offset from SP at the call.
func (a *Arch) ArgSlot(i int) (reg Reg, stackOff int64, inReg bool) {
	if i < len(a.ArgRegs) {
		return a.ArgRegs[i], 0, true
	}
	return RegNone, a.StackArgOffset + int64(i-len(a.ArgRegs))*int64(a.PtrSize), false
}

// EntryArgSlot locates argument slot i at a function's entry.
func (a *Arch) EntryArgSlot(i int) (reg Reg, stackOff int64, inReg bool) {
	if i < len(a.ArgRegs) {
		return a.ArgRegs[i], 0, true
	}
	return RegNone, a.EntryStackArgOffset + int64(i-len(a.ArgRegs))*int64(a.PtrSize), false
}

// Decoder lifts the machine instruction at rva, whose bytes start at code[0],
// into out (appending) and returns the instruction's length. An error means
// the bytes do not decode; the engine then ends that path.
type Decoder interface {
	Arch() *Arch
	Lift(code []byte, rva uint32, out []Insn) ([]Insn, int, error)
}
