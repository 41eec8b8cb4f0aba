package checktest

import (
	"bufio"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/arch/x86/x86asm"

	"github.com/hvcicheck/hvcicheck/peimage"
)

const testdata = "../../testdata"

// importCall is a call (or tail-call jump) of an imported function found in
// an image's code: straight through its IAT slot, through a linker-made
// import thunk, or (ARM64) through a register loaded from the slot.
type importCall struct {
	rva  uint32
	name string
}

// fixture opens one image of the fixtures with its line table.
func fixture(t *testing.T, c, variant string) (*Image, *peimage.File, *LineTable) {
	t.Helper()
	images, err := Images(testdata)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range images {
		if im.Case == c && im.Variant.String() == variant {
			return im, openImage(t, im.Path), readTable(t, im.Path)
		}
	}
	t.Fatalf("no fixture %s/%s", c, variant)
	return nil, nil, nil
}

func openImage(t *testing.T, path string) *peimage.File {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fh.Close() })
	st, err := fh.Stat()
	if err != nil {
		t.Fatal(err)
	}
	f, err := peimage.Parse(fh, st.Size(), peimage.Limits{})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return f
}

func readTable(t *testing.T, path string) *LineTable {
	t.Helper()
	lt, err := ReadLineTable(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return lt
}

// sourceLine returns the 1-based number of the only line of the testdata
// file rel that contains marker.
func sourceLine(t *testing.T, rel, marker string) int {
	t.Helper()
	lines := sourceLines(t, rel)
	found := 0
	for i, l := range lines {
		if strings.Contains(l, marker) {
			if found != 0 {
				t.Fatalf("%s: %q occurs on lines %d and %d", rel, marker, found, i+1)
			}
			found = i + 1
		}
	}
	if found == 0 {
		t.Fatalf("%s: no line contains %q", rel, marker)
	}
	return found
}

func sourceLines(t *testing.T, rel string) []string {
	t.Helper()
	fh, err := os.Open(filepath.Join(testdata, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var out []string
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// slots maps IAT slot RVAs to imported function names.
func slots(t *testing.T, f *peimage.File) map[uint32]string {
	t.Helper()
	dlls, err := f.Imports()
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint32]string{}
	for _, d := range dlls {
		for _, fn := range d.Functions {
			out[fn.SlotRVA] = fn.Name
		}
	}
	return out
}

// importCalls finds the calls of imported functions in the functions the
// DWARF describes. x86/x64: call/jmp [slot] and call/jmp to a thunk
// "jmp [slot]"; ARM64: adrp+ldr of a slot into a register, then blr/br, and
// bl/b to a thunk (adrp x16; ldr x16; br x16). Calls through a register
// loaded elsewhere are not found; that is fine for these tests.
func importCalls(t *testing.T, f *peimage.File, lt *LineTable) []importCall {
	t.Helper()
	sl := slots(t, f)
	var out []importCall
	seen := map[uint32]bool{}
	for _, fn := range lt.Functions() {
		lo, hi := fn.Start, fn.End
		code, err := f.ReadRVA(lo, int(hi-lo))
		if err != nil {
			t.Fatalf("function %s [0x%x, 0x%x): %v", fn.Name, lo, hi, err)
		}
		var calls []importCall
		if f.Machine == peimage.MachineARM64 {
			calls = arm64Calls(f, code, lo, sl)
		} else {
			calls = x86Calls(f, code, lo, sl)
		}
		for _, c := range calls {
			if !seen[c.rva] {
				seen[c.rva] = true
				out = append(out, c)
			}
		}
	}
	return out
}

func x86Calls(f *peimage.File, code []byte, base uint32, sl map[uint32]string) []importCall {
	mode := 32
	if f.Machine == peimage.MachineAMD64 {
		mode = 64
	}
	// loaded maps a register to the IAT slot a "mov reg, [slot]" put in it
	// (mingw at -O0 and clang when an import is called twice); a later
	// write to the register, or a call for the volatile ones, forgets it.
	loaded := map[x86asm.Reg]uint32{}
	var out []importCall
	for off := 0; off < len(code); {
		inst, err := x86asm.Decode(code[off:], mode)
		if err != nil || inst.Len == 0 {
			off++
			continue
		}
		rva := base + uint32(off)
		next := rva + uint32(inst.Len)
		switch inst.Op {
		case x86asm.CALL, x86asm.JMP:
			if slot, ok := memSlot(f, inst.Args[0], next); ok && sl[slot] != "" {
				out = append(out, importCall{rva, sl[slot]})
			} else if rel, ok := inst.Args[0].(x86asm.Rel); ok {
				if name := x86Thunk(f, uint32(int64(next)+int64(rel)), mode, sl); name != "" {
					out = append(out, importCall{rva, name})
				}
			} else if r, ok := inst.Args[0].(x86asm.Reg); ok {
				if slot, ok := loaded[r]; ok {
					out = append(out, importCall{rva, sl[slot]})
				}
			}
			if inst.Op == x86asm.CALL {
				for _, r := range []x86asm.Reg{x86asm.RAX, x86asm.RCX, x86asm.RDX, x86asm.R8, x86asm.R9, x86asm.R10, x86asm.R11, x86asm.EAX, x86asm.ECX, x86asm.EDX} {
					delete(loaded, r)
				}
			}
		default:
			if r, ok := inst.Args[0].(x86asm.Reg); ok {
				delete(loaded, r)
				if inst.Op == x86asm.MOV {
					if slot, ok := memSlot(f, inst.Args[1], next); ok && sl[slot] != "" {
						loaded[r] = slot
					}
				}
			}
		}
		off += inst.Len
	}
	return out
}

// memSlot returns the RVA a [rip+disp] (x64) or [disp32] (x86) operand reads.
func memSlot(f *peimage.File, a x86asm.Arg, next uint32) (uint32, bool) {
	m, ok := a.(x86asm.Mem)
	if !ok || m.Index != 0 {
		return 0, false
	}
	switch m.Base {
	case x86asm.RIP:
		return uint32(int64(next) + m.Disp), true
	case 0:
		return f.VAToRVA(uint64(uint32(m.Disp)))
	}
	return 0, false
}

func x86Thunk(f *peimage.File, rva uint32, mode int, sl map[uint32]string) string {
	b, err := f.ReadRVA(rva, 6)
	if err != nil {
		return ""
	}
	inst, err := x86asm.Decode(b, mode)
	if err != nil || inst.Op != x86asm.JMP {
		return ""
	}
	if slot, ok := memSlot(f, inst.Args[0], rva+uint32(inst.Len)); ok {
		return sl[slot]
	}
	return ""
}

func arm64Calls(f *peimage.File, code []byte, base uint32, sl map[uint32]string) []importCall {
	var page [32]int64 // RVA of the page an adrp put in the register, or -1
	var slot [32]int64 // RVA of the IAT slot a ldr read into the register, or -1
	for i := range page {
		page[i], slot[i] = -1, -1
	}
	spill := map[int64]int64{} // sp offset -> slot RVA stored there
	var out []importCall
	for off := 0; off+4 <= len(code); off += 4 {
		w := binary.LittleEndian.Uint32(code[off:])
		rva := base + uint32(off)
		switch {
		case w&0x9F000000 == 0x90000000: // adrp xd, page
			rd := w & 31
			imm := int64(((w>>5)&0x7FFFF)<<2 | (w>>29)&3)
			imm = imm << 43 >> 43 // sign-extend 21 bits
			page[rd] = int64(rva&^0xFFF) + imm<<12
			slot[rd] = -1
		case w&0xFFC00000 == 0xF9400000: // ldr xt, [xn, #imm*8]
			rt, rn, imm := w&31, (w>>5)&31, int64((w>>10)&0xFFF)*8
			s := int64(-1)
			if rn == 31 { // a reload of a spilled slot address (-O0)
				if v, ok := spill[imm]; ok {
					s = v
				}
			} else if page[rn] >= 0 {
				s = page[rn] + imm
			}
			page[rt], slot[rt] = -1, s
		case w&0xFFC00000 == 0xF9000000: // str xt, [xn, #imm*8]
			rt, rn, imm := w&31, (w>>5)&31, int64((w>>10)&0xFFF)*8
			if rn == 31 {
				if slot[rt] >= 0 {
					spill[imm] = slot[rt]
				} else {
					delete(spill, imm)
				}
			}
		case w&0xFFFFFC1F == 0xD63F0000 || w&0xFFFFFC1F == 0xD61F0000: // blr/br xn
			if rn := (w >> 5) & 31; slot[rn] >= 0 && sl[uint32(slot[rn])] != "" {
				out = append(out, importCall{rva, sl[uint32(slot[rn])]})
			}
		case w&0x7C000000 == 0x14000000: // bl/b imm26
			imm := int64(w&0x3FFFFFF) << 38 >> 38
			if name := arm64Thunk(f, uint32(int64(rva)+imm*4), sl); name != "" {
				out = append(out, importCall{rva, name})
			}
		}
	}
	return out
}

func arm64Thunk(f *peimage.File, rva uint32, sl map[uint32]string) string {
	b, err := f.ReadRVA(rva, 12)
	if err != nil {
		return ""
	}
	calls := arm64Calls(f, b, rva, sl)
	if len(calls) == 1 && calls[0].rva == rva+8 {
		return calls[0].name
	}
	return ""
}

// TestLineTableBothWays maps a known call both ways in every build of one
// case: the line table's ranges for the source line hold exactly one call of
// the API through its IAT slot, and that call's RVA maps back to the line.
func TestLineTableBothWays(t *testing.T) {
	const src = "src/callsite_pool_types.c"
	line := sourceLine(t, src, "ExAllocatePoolWithTag(NonPagedPoolMustSucceed")
	images, err := Images(testdata)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, im := range images {
		if im.Case != "callsite_pool_types" {
			continue
		}
		n++
		t.Run(im.Variant.String(), func(t *testing.T) {
			f, lt := openImage(t, im.Path), readTable(t, im.Path)
			ranges := lt.Ranges(src, line)
			if len(ranges) == 0 {
				t.Fatalf("no code for %s:%d; files in the line table: %v", src, line, lt.Files())
			}
			var hits []importCall
			for _, c := range importCalls(t, f, lt) {
				for _, r := range ranges {
					if c.rva >= r.Start && c.rva < r.End && c.name == "ExAllocatePoolWithTag" {
						hits = append(hits, c)
					}
				}
			}
			if len(hits) != 1 {
				t.Fatalf("%d calls of ExAllocatePoolWithTag in the code of %s:%d (%v), want 1", len(hits), src, line, ranges)
			}
			pos := lt.Lookup(hits[0].rva)
			if len(pos) == 0 || !pos[0].Is(src, line) {
				t.Errorf("Lookup(0x%x) = %v, want %s:%d first", hits[0].rva, pos, src, line)
			}
			if fn := lt.Function(hits[0].rva); fn != "ExecutablePoolTypes" {
				t.Errorf("Function(0x%x) = %q, want ExecutablePoolTypes", hits[0].rva, fn)
			}
		})
	}
	if n != 10 {
		t.Errorf("callsite_pool_types has %d images, want 10 (clang x64/x86/arm64, mingw x64/x86, O0 and O2)", n)
	}
}

// TestLineTableInlined checks the inlined-call chain: the call of
// MmMapLockedPagesSpecifyCache inside the FORCEINLINE
// MmGetSystemAddressForMdlSafe has its line-table row in include/km.h and
// maps, through DW_TAG_inlined_subroutine, to the line of the source that
// calls MmGetSystemAddressForMdlSafe.
func TestLineTableInlined(t *testing.T) {
	const src = "src/callsite_mdl_safe.c"
	want := sourceLine(t, src, "want 0x2002")
	nx := sourceLine(t, src, "MdlMappingNoExecute);")
	header := "include/km.h"
	calls := sourceLine(t, header, "return MmMapLockedPagesSpecifyCache(Mdl, KernelMode, MmCached")
	images, err := Images(testdata)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range images {
		if im.Case != "callsite_mdl_safe" {
			continue
		}
		t.Run(im.Variant.String(), func(t *testing.T) {
			f, lt := openImage(t, im.Path), readTable(t, im.Path)
			seen := map[int]bool{}
			for _, c := range importCalls(t, f, lt) {
				if c.name != "MmMapLockedPagesSpecifyCache" {
					continue
				}
				pos := lt.Lookup(c.rva)
				if len(pos) < 2 || !pos[0].Is(header, calls) {
					t.Errorf("Lookup(0x%x) = %v, want %s:%d, then the caller's line", c.rva, pos, header, calls)
					continue
				}
				switch {
				case pos[1].Is(src, want):
					seen[want] = true
				case pos[1].Is(src, nx):
					seen[nx] = true
				default:
					t.Errorf("Lookup(0x%x) = %v: inlined at neither %s:%d nor :%d", c.rva, pos, src, want, nx)
				}
			}
			if !seen[want] {
				t.Errorf("no call of MmMapLockedPagesSpecifyCache maps to %s:%d (the want line)", src, want)
			}
		})
	}
}

// TestImportCallsMapToTheirLine checks every fixture's DWARF: each call of
// an imported function (found by decoding the code) maps to a source line
// that names that function (the call's own line, a wrapper's body, or an
// inline helper in include/). This is what call-site expectations rely on.
// callsOnlyThroughPointers lists the cases whose images call the checked
// imports only through function pointers (no call [slot] to find here).
var callsOnlyThroughPointers = map[string]bool{"callsite_cfg": true}

func TestImportCallsMapToTheirLine(t *testing.T) {
	images, err := Images(testdata)
	if err != nil {
		t.Fatal(err)
	}
	cache := map[string][]string{}
	text := func(p Pos) string {
		rel := p.File // "src/x.c", "include/km.h", or with a prefix
		for _, dir := range []string{"src/", "include/"} {
			if i := strings.LastIndex("/"+rel, "/"+dir); i >= 0 {
				rel = rel[i:]
				break
			}
		}
		lines, ok := cache[rel]
		if !ok {
			lines = sourceLines(t, rel)
			cache[rel] = lines
		}
		if p.Line < 1 || p.Line > len(lines) {
			return ""
		}
		return lines[p.Line-1]
	}
	total := 0
	for _, im := range images {
		t.Run(im.Name(), func(t *testing.T) {
			f, lt := openImage(t, im.Path), readTable(t, im.Path)
			calls := importCalls(t, f, lt)
			if len(calls) == 0 && !callsOnlyThroughPointers[im.Case] {
				t.Fatal("no import call found")
			}
			total += len(calls)
			for _, c := range calls {
				pos := lt.Lookup(c.rva)
				if len(pos) == 0 {
					t.Errorf("call of %s at RVA 0x%x maps to no line", c.name, c.rva)
					continue
				}
				if pos[0].Line == 0 {
					continue // code an optimiser merged from several lines (DWARF line 0)
				}
				if !strings.Contains(text(pos[0]), c.name) {
					t.Errorf("call of %s at RVA 0x%x maps to %v: %q", c.name, c.rva, pos, strings.TrimSpace(text(pos[0])))
				}
			}
		})
	}
	t.Logf("%d import calls in %d images", total, len(images))
}

// TestFixturesHaveDWARF checks that every image carries DWARF that names
// its case's sources.
func TestFixturesHaveDWARF(t *testing.T) {
	images, err := Images(testdata)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range images {
		lt, err := ReadLineTable(im.Path)
		if err != nil {
			t.Errorf("%s: %v", im.Path, err)
			continue
		}
		files := lt.Files()
		for _, s := range im.Sources {
			ok := false
			for _, f := range files {
				if f == s || strings.HasSuffix(f, "/"+s) {
					ok = true
				}
			}
			if !ok {
				t.Errorf("%s: the line table does not name %s (it names %v)", im.Path, s, files)
			}
		}
	}
}
