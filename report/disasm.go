package report

import (
	"encoding/hex"
	"fmt"
	"strings"

	"golang.org/x/arch/arm64/arm64asm"
	"golang.org/x/arch/x86/x86asm"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// Disassembly around a call: a few instructions before it, the call, a few
// after, decoded from the file's bytes. x86 has no fixed instruction
// boundaries, so the window starts at the function's start where it is
// near, else at the earliest byte before the call from which decoding lands
// exactly on the call.
const (
	disasmBefore    = 5
	disasmAfter     = 3
	disasmLookback  = 48  // bytes tried before the call when the function start is far
	disasmFuncReach = 512 // farthest function start decoded from
)

// symbols names IAT slots, for operands that read them.
type symbols struct {
	base  uint64
	slots map[uint32]string
}

func importSymbols(f *peimage.File) *symbols {
	s := &symbols{base: f.Optional.ImageBase, slots: map[uint32]string{}}
	dlls, _ := f.Imports()
	for _, d := range dlls {
		for _, fn := range d.Functions {
			name := fn.Name
			if name == "" {
				name = fmt.Sprintf("#%d", fn.Ordinal)
			}
			s.slots[fn.SlotRVA] = "__imp_" + name
		}
	}
	return s
}

// lookup resolves an address the disassembler computed: an RVA (x64
// RIP-relative operands, with pc counted in RVAs) or a virtual address
// (x86 absolute operands).
func (s *symbols) lookup(addr uint64) (string, uint64) {
	if s == nil {
		return "", 0
	}
	// x86asm does not sign-extend a RIP-relative displacement, so an RVA
	// below the instruction comes out 2^32 too high: compare 32 bits.
	if n, ok := s.slots[uint32(addr)]; ok {
		return n, addr
	}
	if addr >= s.base && addr-s.base <= 0xFFFFFFFF {
		if n, ok := s.slots[uint32(addr-s.base)]; ok {
			return n, addr
		}
	}
	return "", 0
}

// disassemble decodes the instructions around f's call. It returns a note
// instead where the machine is not supported or the bytes do not decode.
func disassemble(img *image, f checks.Finding, syms *symbols) ([]htmlInsn, string) {
	rva := *f.RVA
	switch img.pe.Machine {
	case peimage.MachineAMD64, peimage.MachineI386:
		return disasmX86(img, f, rva, syms)
	case peimage.MachineARM64:
		return disasmARM64(img, rva)
	}
	return nil, "no disassembler for machine " + peimage.MachineName(img.pe.Machine)
}

// read returns the image bytes of [start, end) as mapped, bounded by the
// section holding rva.
func readRange(img *image, start, end uint32) ([]byte, uint32) {
	s := img.pe.SectionOf(end - 1)
	if s == nil {
		return nil, 0
	}
	start = max(start, s.VirtualAddress)
	if end <= start {
		return nil, 0
	}
	b, err := img.pe.ReadRVA(start, int(end-start))
	if err != nil {
		return nil, 0
	}
	return b, start
}

func disasmX86(img *image, f checks.Finding, rva uint32, syms *symbols) ([]htmlInsn, string) {
	mode := 32
	if img.pe.Machine == peimage.MachineAMD64 {
		mode = 64
	}
	sec := img.pe.SectionOf(rva)
	if sec == nil {
		return nil, "the call lies in no section"
	}
	secEnd := sec.VirtualAddress + sec.MappedSize(1)
	tailEnd := min(uint64(rva)+uint64(15*(disasmAfter+1)), uint64(secEnd))
	decodeFrom := func(start uint32) ([]htmlInsn, bool) {
		code, base := readRange(img, start, uint32(tailEnd))
		if code == nil || base != start {
			return nil, false
		}
		var out []htmlInsn
		at := -1
		for off := 0; off < len(code); {
			pc := uint64(start) + uint64(off)
			inst, err := x86asm.Decode(code[off:], mode)
			if err != nil {
				if pc < uint64(rva) {
					return nil, false
				}
				break
			}
			if pc > uint64(rva) && at < 0 {
				return nil, false // stepped over the call: not in sync
			}
			if pc == uint64(rva) {
				at = len(out)
			}
			out = append(out, htmlInsn{
				Addr:    fmt.Sprintf("%08x", pc),
				Bytes:   hex.EncodeToString(code[off : off+inst.Len]),
				Text:    x86asm.IntelSyntax(inst, rvaPC(img, pc, mode), syms.lookup),
				Current: pc == uint64(rva),
			})
			off += inst.Len
			if at >= 0 && len(out)-at > disasmAfter {
				break
			}
		}
		if at < 0 {
			return nil, false
		}
		lo := max(at-disasmBefore, 0)
		return out[lo:], true
	}
	if f.Function != nil && *f.Function <= rva && rva-*f.Function <= disasmFuncReach {
		if out, ok := decodeFrom(*f.Function); ok {
			return out, ""
		}
	}
	for back := uint32(disasmLookback); back > 0; back-- {
		if back > rva-sec.VirtualAddress {
			continue
		}
		if out, ok := decodeFrom(rva - back); ok && len(out) > 1 {
			return out, ""
		}
	}
	if out, ok := decodeFrom(rva); ok {
		return out, ""
	}
	return nil, "the bytes at the call do not decode"
}

// rvaPC is the pc handed to the formatter: RVAs for x64, so RIP-relative
// operands come out as RVAs; virtual addresses for x86, whose absolute
// operands are virtual addresses.
func rvaPC(img *image, pc uint64, mode int) uint64 {
	if mode == 32 {
		return pc + img.pe.Optional.ImageBase
	}
	return pc
}

func disasmARM64(img *image, rva uint32) ([]htmlInsn, string) {
	if rva%4 != 0 {
		return nil, "the call is not 4-byte aligned"
	}
	sec := img.pe.SectionOf(rva)
	if sec == nil {
		return nil, "the call lies in no section"
	}
	start := rva - min(uint32(4*disasmBefore), rva-sec.VirtualAddress)&^3
	end := min(uint64(rva)+uint64(4*(disasmAfter+1)), uint64(sec.VirtualAddress)+uint64(sec.MappedSize(1)))
	code, base := readRange(img, start, uint32(end))
	if code == nil {
		return nil, "the bytes at the call cannot be read"
	}
	var out []htmlInsn
	for off := 0; off+4 <= len(code); off += 4 {
		pc := uint64(base) + uint64(off)
		text := "(undecodable)"
		if inst, err := arm64asm.Decode(code[off : off+4]); err == nil {
			text = strings.ToLower(arm64asm.GNUSyntax(inst))
		}
		out = append(out, htmlInsn{Addr: fmt.Sprintf("%08x", pc), Bytes: hex.EncodeToString(code[off : off+4]), Text: text, Current: pc == uint64(rva)})
	}
	return out, ""
}
