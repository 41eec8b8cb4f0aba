package callsite

import (
	"encoding/binary"
	"strings"
	"unicode/utf16"

	"github.com/hvcicheck/hvcicheck/dataflow"
	"github.com/hvcicheck/hvcicheck/ir"
)

// callee is what a call reaches.
type callee struct {
	api      *API   // a checked API (import, routine by name, KMDF DDI)
	name     string // the API's name, checked or not
	function uint32 // else a function of the image (0: unknown)
}

// maxHops bounds thunk and stub chains followed to reach a callee.
const maxHops = 4

// resolve names the target of a call event.
func (im *image) resolve(ev *callEvent) callee {
	return im.resolveValue(ev.target, ev.regs, 0)
}

func (im *image) resolveValue(v dataflow.Value, regs []dataflow.Value, hop int) callee {
	if hop > maxHops {
		return callee{}
	}
	if s, off, ok := v.Pointer(); ok && off == 0 {
		if info, ok := im.symInfo(s); ok && info.kind == symGlobal {
			return im.resolveValue(im.concrete(v), regs, hop+1)
		}
		return im.resolveSym(s)
	}
	c, ok := v.Const()
	if !ok || c < im.base || c-im.base >= uint64(im.size) {
		return callee{}
	}
	if regs == nil && hop == 0 {
		return im.codeCallee(uint32(c - im.base)).callee // the same, once per address
	}
	return im.resolveCode(uint32(c-im.base), regs, hop)
}

func (im *image) resolveSym(s dataflow.Sym) callee {
	info, ok := im.symInfo(s)
	if !ok {
		return callee{}
	}
	switch info.kind {
	case symAPI:
		return callee{api: im.table.Lookup(info.name), name: info.name}
	case symWDFFunc:
		if a := im.table.WDF(info.index); a != nil {
			return callee{api: a, name: a.Name}
		}
	}
	return callee{}
}

// codeTarget is what a direct call of some code reaches when no register
// values are known, and whether the code is a jump through a register (a
// dispatch stub, whose target only the values at the call tell).
type codeTarget struct {
	callee
	viaRegister bool
}

// codeCallee returns, once per address, what a direct call of rva reaches.
func (im *image) codeCallee(rva uint32) codeTarget {
	if c, ok := im.codeMemo[rva]; ok {
		return c
	}
	partial := im.partial
	c := codeTarget{callee: im.resolveCode(rva, nil, 0), viaRegister: im.jumpsThroughRegister(rva)}
	if im.partial == partial {
		im.codeMemo[rva] = c // not while a global it reads through is being resolved
	}
	return c
}

// resolveCode looks at the first instruction of the code at rva: a thunk
// (`jmp [slot]`), a jump stub (`jmp rel32`) or a CFG dispatch stub
// (`jmp rax`) is followed; anything else is a function of the image.
func (im *image) resolveCode(rva uint32, regs []dataflow.Value, hop int) callee {
	if c, ok := im.resolveStubARM64(rva, regs, hop); ok {
		return c
	}
	code := im.Code(rva)
	if code == nil {
		return callee{}
	}
	insns, _, err := im.dec.Lift(code, rva, nil)
	if err != nil || len(insns) == 0 {
		return callee{function: rva}
	}
	in := insns[len(insns)-1]
	if in.Kind != ir.Jump || len(insns) != 1 {
		return callee{function: rva}
	}
	switch in.Target.Kind {
	case ir.KImm:
		return im.resolveCode(uint32(in.Target.Imm), regs, hop+1)
	case ir.KMem:
		if in.Target.Mem.Global {
			return im.resolveValue(im.LoadGlobal(uint32(in.Target.Mem.Disp), uint8(im.arch.PtrSize)), regs, hop+1)
		}
	case ir.KReg:
		if int(in.Target.Reg) < len(regs) {
			return im.resolveValue(regs[in.Target.Reg], nil, hop+1)
		}
	}
	return callee{function: rva}
}

// CallEffect implements dataflow.Env: it models the imports whose effect
// the analysis needs (RtlInitUnicodeString, MmGetSystemRoutineAddress) and
// the stack bytes a 32-bit stdcall API pops.
func (im *image) CallEffect(in *ir.Insn, st *dataflow.State) (dataflow.Value, int64) {
	x86 := im.arch.PtrSize == 4
	name := im.importCalled(in, st)
	var pop int64
	if x86 {
		pop = -1 // unknown: the engine infers it
		if a := im.table.Lookup(name); a != nil {
			pop = a.PopBytes()
		}
	}
	if name == "" {
		return dataflow.Unknown, pop
	}
	switch {
	case strings.EqualFold(name, "RtlInitUnicodeString"):
		im.initUnicodeString(st)
		if x86 {
			pop = 8
		}
	case strings.EqualFold(name, "MmGetSystemRoutineAddress"):
		if x86 {
			pop = 4
		}
		if routine := im.unicodeStringAt(st, st.Arg(0)); routine != "" {
			return dataflow.Symbol(im.sym(symInfo{kind: symAPI, name: routine})), pop
		}
	}
	return dataflow.Unknown, pop
}

// TargetOnly implements dataflow.ExactCalls: CallEffect's result depends
// on the arguments (and memory) only for the imports it models.
func (im *image) TargetOnly(in *ir.Insn, st *dataflow.State) bool {
	name := im.importCalled(in, st)
	return !strings.EqualFold(name, "RtlInitUnicodeString") && !strings.EqualFold(name, "MmGetSystemRoutineAddress")
}

// importCalled names the import a call instruction reaches directly (through
// its IAT slot, a register loaded from it, or a thunk), or "".
func (im *image) importCalled(in *ir.Insn, st *dataflow.State) string {
	var v dataflow.Value
	switch in.Target.Kind {
	case ir.KImm:
		v = dataflow.Const(im.base + uint64(uint32(in.Target.Imm)))
	case ir.KReg:
		v = st.Reg(in.Target.Reg)
	case ir.KMem:
		if !in.Target.Mem.Global {
			return ""
		}
		if name, ok := im.slotName[uint32(in.Target.Mem.Disp)]; ok {
			return name
		}
		return ""
	}
	return im.resolveValue(v, nil, 0).name
}

// initUnicodeString models RtlInitUnicodeString(&us, src): us.Buffer = src.
func (im *image) initUnicodeString(st *dataflow.State) {
	off, ok := st.Arg(0).Stack()
	if !ok {
		return
	}
	p := int64(im.arch.PtrSize)
	st.StoreStack(off, 4, dataflow.Unknown)
	st.StoreStack(off+p, uint8(p), st.Arg(1))
}

// unicodeStringAt reads the text of the UNICODE_STRING at v: on the stack
// (its Buffer field tracked) or in the image's data.
func (im *image) unicodeStringAt(st *dataflow.State, v dataflow.Value) string {
	p := uint8(im.arch.PtrSize)
	var buf dataflow.Value
	if off, ok := v.Stack(); ok {
		buf = st.LoadStack(off+int64(p), p)
	} else if c, ok := v.Const(); ok && c >= im.base && c-im.base < uint64(im.size) {
		buf = im.fileValue(uint32(c-im.base)+uint32(p), p)
	}
	c, ok := buf.Const()
	if !ok || c < im.base || c-im.base >= uint64(im.size) {
		return ""
	}
	return im.wideString(uint32(c - im.base))
}

// wideString reads a NUL-terminated UTF-16 string of at most 128 characters.
func (im *image) wideString(rva uint32) string {
	b, err := im.f.ReadRVA(rva, 256)
	if err != nil {
		return ""
	}
	var u []uint16
	for i := 0; i+2 <= len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			return string(utf16.Decode(u))
		}
		u = append(u, c)
	}
	return ""
}
