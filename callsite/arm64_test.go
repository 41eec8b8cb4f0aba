package callsite

import (
	"debug/pe"
	"encoding/binary"
	"os"
	"slices"
	"testing"

	"github.com/hvcicheck/hvcicheck/arch/arm64"
	"github.com/hvcicheck/hvcicheck/dataflow"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// armImage opens an ARM64 image as the analysis sees it, with its import
// slots named.
func armImage(t *testing.T, path string) *image {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Skipf("%s: %v", path, err)
	}
	t.Cleanup(func() { fh.Close() })
	st, err := fh.Stat()
	if err != nil {
		t.Fatal(err)
	}
	f, err := peimage.Parse(fh, st.Size(), peimage.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	ws := &Workspace{}
	im, err := newImage(f, arm64.New(f.Optional.ImageBase, f.Optional.SizeOfImage), Options{}.withDefaults(), ws, ws.begin())
	if err != nil {
		t.Fatal(err)
	}
	dlls, err := f.Imports()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dlls {
		for _, fn := range d.Functions {
			im.slotName[fn.SlotRVA] = fn.Name
		}
	}
	return im
}

// symRVA returns the RVA of a COFF symbol of the image at path.
func symRVA(t *testing.T, path, name string) uint32 {
	t.Helper()
	f, err := pe.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, s := range f.Symbols {
		if s.Name == name && s.SectionNumber > 0 && int(s.SectionNumber) <= len(f.Sections) {
			return f.Sections[s.SectionNumber-1].VirtualAddress + s.Value
		}
	}
	t.Fatalf("%s: no symbol %s", path, name)
	return 0
}

// slotOf returns the IAT slot of an import.
func slotOf(t *testing.T, im *image, name string) uint32 {
	t.Helper()
	for slot, n := range im.slotName {
		if n == name {
			return slot
		}
	}
	t.Fatalf("no import %s", name)
	return 0
}

const fltmgrARM64 = "../testdata/drivers/callsite_fltmgr/clang-arm64-O2.sys"

func TestARM64ImportThunk(t *testing.T) {
	im := armImage(t, fltmgrARM64)
	thunk := symRVA(t, fltmgrARM64, "FltAllocateContext")
	caller := symRVA(t, fltmgrARM64, "FilterAllocations")
	refs := im.referrers(slotOf(t, im, "FltAllocateContext"))
	if !slices.Contains(refs, thunk) {
		t.Errorf("referrers of the slot = %#x, want the thunk's adrp at %#x", refs, thunk)
	}
	if !im.starts[thunk] || len(im.callersOf(thunk)) == 0 {
		t.Errorf("thunk %#x: start %v, callers %#x; want a bl target", thunk, im.starts[thunk], im.callersOf(thunk))
	}
	if c := im.resolveCode(thunk, nil, 0); c.name != "FltAllocateContext" || c.function != 0 {
		t.Errorf("resolveCode(thunk) = %+v, want the import", c)
	}
	w := &walker{im: im}
	if got := w.withThunkCallers(refs); !slices.Contains(got, caller) {
		t.Errorf("withThunkCallers = %#x, want the caller %#x", got, caller)
	}
}

const nxOptInARM64 = "../testdata/drivers/callsite_nx_optin/clang-arm64-O2.sys"

func TestARM64PageReferences(t *testing.T) {
	im := armImage(t, nxOptInARM64)
	global := symRVA(t, nxOptInARM64, "ExDefaultNonPagedPoolType")
	got := im.functionsAt(im.referrers(global))
	want := []uint32{symRVA(t, nxOptInARM64, "UseDefaults"), symRVA(t, nxOptInARM64, "DriverEntry")}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("functions referencing ExDefaultNonPagedPoolType = %#x, want %#x", got, want)
	}
}

func TestARM64IndexPage(t *testing.T) {
	words := []uint32{
		0xd0000014, // adrp x20, #0x2000: the page at RVA 0x3000
		0x94000040, // bl #0x100: x20 survives a call
		0x14000002, // b #8: inside a .pdata function, the search goes on
		0xf9400a88, // ldr x8, [x20, #16]
		0x91010294, // add x20, x20, #0x40: x20 now holds 0x3040
		0xb9400680, // ldr w0, [x20, #4]
		0xaa0003f4, // mov x20, x0: the page is gone
		0xf9400681, // ldr x1, [x20, #8]
	}
	data := make([]byte, 4*len(words))
	for i, w := range words {
		binary.LittleEndian.PutUint32(data[4*i:], w)
	}
	for _, pdata := range []bool{true, false} {
		im := &image{base: 0x140000000, size: 0x10000, refs: map[uint32][]uint32{}, dataPage: make([]bool, 16)}
		im.dataPage[3] = true
		if pdata {
			im.funcs = []peimage.RuntimeFunction{{Start: 0x1000, End: 0x1000 + uint32(len(data))}}
		}
		im.indexPage(data, 0, 0x1000)
		var got []uint32
		for rva, sites := range im.refs {
			if !slices.Equal(sites, []uint32{0x1000}) {
				t.Errorf("refs[%#x] = %#x, want the adrp", rva, sites)
			}
			got = append(got, rva)
		}
		slices.Sort(got)
		want := []uint32{0x3010, 0x3040, 0x3044}
		if !pdata {
			want = nil // straight-line code ends at the b
		}
		if !slices.Equal(got, want) {
			t.Errorf("pdata %v: references %#x, want %#x", pdata, got, want)
		}
	}
}

func TestARM64MayStore(t *testing.T) {
	im := armImage(t, nxOptInARM64)
	global := symRVA(t, nxOptInARM64, "ExDefaultNonPagedPoolType")
	for name, want := range map[string]bool{"DriverEntry": true, "UseDefaults": false} {
		fn, ok := im.funcAt(symRVA(t, nxOptInARM64, name))
		if !ok {
			t.Fatalf("%s: no function", name)
		}
		if got := im.mayStore(fn, global, 4); got != want {
			t.Errorf("mayStore(%s) = %v, want %v", name, got, want)
		}
	}
}

func TestARM64PageOffset(t *testing.T) {
	for _, c := range []struct {
		word uint32
		reg  uint32
		off  int64
		ok   bool
		ends bool
	}{
		{0xf9406108, 8, 192, true, true},  // ldr x8, [x8, #192]: the use, then x8 is the loaded value
		{0x91020000, 0, 128, true, true},  // add x0, x0, #128
		{0xb9014109, 8, 320, true, false}, // str w9, [x8, #320]
		{0xb9414100, 8, 320, true, false}, // ldr w0, [x8, #320]
		{0xf85f8100, 8, -8, true, false},  // ldur x0, [x8, #-8]
		{0xa9410500, 8, 16, true, false},  // ldp x0, x1, [x8, #16]
		{0xb9414109, 10, 0, false, false}, // ldr w9, [x8, #320]: another base
		{0x52804008, 8, 0, false, true},   // mov w8, #512: x8 written
		{0xb9814108, 9, 0, false, false},  // ldrsw x8, [x8, #320] seen from x9
		{0xb9814109, 9, 0, false, true},   // ldrsw x9, [x8, #320]: x9 loaded
		{0x94000800, 8, 0, false, true},   // bl: x8 is caller-saved
		{0x94000800, 21, 0, false, false}, // bl: x21 survives
		{0xd65f03c0, 21, 0, false, true},  // ret
		{0xf8410d08, 8, 0, false, true},   // ldr x8, [x8, #16]!
		{0xf8008d09, 8, 0, false, true},   // str x9, [x8, #8]!: writeback
	} {
		off, ok := armPageOffset(c.word, c.reg)
		if off != c.off || ok != c.ok || armEndsPair(c.word, c.reg) != c.ends {
			t.Errorf("%08x x%d: offset %d, %v, ends %v; want %d, %v, %v", c.word, c.reg, off, ok, armEndsPair(c.word, c.reg), c.off, c.ok, c.ends)
		}
	}
}

const cfgARM64 = "../testdata/drivers/callsite_cfg/clang-arm64-O0.sys"

func TestARM64CFGCheck(t *testing.T) {
	im := armImage(t, cfgARM64)
	fn, ok := im.funcAt(symRVA(t, cfgARM64, "UsePointers"))
	if !ok {
		t.Fatal("no UsePointers")
	}
	var checks, calls int
	for pc := fn.Start; pc < fn.End; pc += 4 {
		code := im.Code(pc)
		if armWord(code, 0)&0xfffffc1f != 0xd63f0000 {
			continue
		}
		if im.isCFGCheck(code, pc) {
			checks++
		} else {
			calls++
		}
	}
	if checks != 4 || calls != 4 {
		t.Errorf("blr in UsePointers: %d checks, %d calls; want 4 and 4", checks, calls)
	}
	var code [12]byte
	copy(code[:], []byte{0x20, 0x01, 0x3f, 0xd6}) // blr x9 with no mov x15 before it
	if im.isCFGCheck(code[:], fn.Start) {
		t.Error("a blr at the function's start is a check")
	}
}

// TestARM64AnalyzeEFI analyses every function the index finds in the
// corpus's ARM64 EFI applications (no .pdata, code and data mixed): no
// panic, no limit reached.
func TestARM64AnalyzeEFI(t *testing.T) {
	for _, p := range []string{"/work/shared/corpus/efi/refind_aa64.efi", "/work/shared/corpus/efi/btrfs_aa64.efi"} {
		im := armImage(t, p)
		im.buildIndex()
		if len(im.startList) < 100 || len(im.refs) == 0 {
			t.Errorf("%s: %d starts, %d data references", p, len(im.startList), len(im.refs))
		}
		var res dataflow.Result
		for _, s := range im.startList {
			fi := im.analyze(s)
			res.Insns += fi.res.Insns
			res.Truncated = res.Truncated || fi.res.Truncated
		}
		if res.Truncated || res.Insns == 0 {
			t.Errorf("%s: %d instructions, truncated %v", p, res.Insns, res.Truncated)
		}
	}
}
