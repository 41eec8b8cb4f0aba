package callsite_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hvcicheck/hvcicheck/callsite"
	"github.com/hvcicheck/hvcicheck/internal/pebuild"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// mutationGuard bounds the time one image may take in the mutation tests:
// far above what any takes, it only catches analyses that do not end.
const mutationGuard = 5 * time.Second

// codeMutantsPerImage is how many code mutants of each fixture are analysed.
const codeMutantsPerImage = 300

// mutationFixtures are the fixtures whose code is mutated: x64, x86 and
// ARM64, clang and mingw, with wrappers, switches, KMDF and CFG.
var mutationFixtures = []string{
	"callsite_wrapper/clang-x64-O2.sys",
	"callsite_switch/mingw-x64-O2.sys",
	"callsite_pool_types/clang-x86-O2.sys",
	"callsite_kmdf/mingw-x86-O0.sys",
	"callsite_cfg/clang-arm64-O2.sys",
	"callsite_static_wrapper/clang-arm64-O0.sys",
}

// TestCodeMutants analyses deterministic mutants of the code, .pdata and
// import table of a few fixtures (see codeLayout.mutate), with the default bounds:
// each must end within the guard, without a panic, in a report that keeps
// the invariants of checkReport or a per-file error. All go through one
// workspace, as a scan worker's files do; every tenth is analysed again
// with a fresh one and must give the same result.
func TestCodeMutants(t *testing.T) {
	counts := map[string]int{}
	ws := &callsite.Workspace{}
	for k, name := range mutationFixtures {
		data, err := os.ReadFile(filepath.Join("..", "testdata", "drivers", name))
		if err != nil {
			t.Fatal(err)
		}
		lay := layoutOf(t, data)
		r := rand.New(rand.NewPCG(uint64(k)+1, 0x5eed))
		for i := 0; i < codeMutantsPerImage; i++ {
			m, what := lay.mutate(r, data, 1+min(i%4, 2))
			rep, err := analyzeGuarded(m, callsite.Options{Workspace: ws}, mutationGuard)
			if isBroken(err) {
				t.Fatalf("%s mutant %d (%s): %v", name, i, what, err)
			}
			counts[outcomeOf(rep, err)]++
			if i%10 == 0 {
				again, err2 := analyzeGuarded(m, callsite.Options{}, mutationGuard)
				if a, b := summary(rep, err), summary(again, err2); a != b {
					t.Fatalf("%s mutant %d (%s): results differ between the shared workspace and a fresh one:\n%s\n%s", name, i, what, a, b)
				}
				full, err3 := analyzeGuarded(m, callsite.Options{FullDataFlow: true}, mutationGuard)
				if err == nil && err3 == nil && !rep.Stats.Truncated && !full.Stats.Truncated {
					if d := quickDiffers(full, rep); d != "" {
						t.Errorf("%s mutant %d (%s): with and without the quick pass: %s", name, i, what, d)
					}
				}
			}
		}
	}
	t.Logf("outcomes: %v", counts)
	for _, o := range []string{"findings", "none", "notes"} {
		if counts[o] < 10 {
			t.Errorf("outcome %q occurred %d times: the mutations do not reach every path", o, counts[o])
		}
	}
}

// outcomeOf classifies one analysis.
func outcomeOf(rep *callsite.Report, err error) string {
	switch {
	case err != nil:
		return "error"
	case len(rep.Findings) > 0:
		return "findings"
	case rep.Stats.Truncated:
		return "truncated"
	case len(rep.Stats.Notes) > 0:
		return "notes" // a directory unreadable
	}
	return "none"
}

// summary is what two analyses of the same image must agree on.
func summary(rep *callsite.Report, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	var b strings.Builder
	for _, f := range rep.Findings {
		v := "-"
		if f.Value != nil {
			v = fmt.Sprintf("%#x", *f.Value)
		}
		fmt.Fprintf(&b, "%#x %s %s %s %v|", f.Site, f.API, v, f.Certainty, f.Path)
	}
	fmt.Fprintf(&b, " %d functions, %d insns, truncated %v, %d unresolved", rep.Stats.Functions, rep.Stats.Instructions, rep.Stats.Truncated, len(rep.Stats.Unresolved))
	return b.String()
}

// span is a range of file offsets.
type span struct{ off, n int }

// codeLayout is where a fixture keeps what the code mutations change.
type codeLayout struct {
	text      []span // raw data of the executable sections
	textHdr   []int  // their section headers
	textRVA   []uint32
	pdata     span   // the exception directory's entries
	pdataSize int    // its entry size (12 on x64, 8 on ARM64)
	pdataDir  int    // the file offset of data directory 3
	desc      []int  // import descriptors
	thunks    []span // lookup tables and IATs
	ptr       int    // pointer size
	checked   uint64 // a thunk naming a checked API (or WdfVersionBind)
	size      uint32 // SizeOfImage
}

// layoutOf finds a fixture's code, .pdata and import table.
func layoutOf(t *testing.T, data []byte) *codeLayout {
	t.Helper()
	f, err := peimage.Parse(strings.NewReader(string(data)), int64(len(data)), peimage.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	l := &codeLayout{ptr: 4, size: f.Optional.SizeOfImage}
	if f.Is64() {
		l.ptr = 8
	}
	for _, s := range f.Sections {
		if s.Executable() && s.SizeOfRawData > 0 {
			l.text = append(l.text, span{int(s.PointerToRawData), int(min(s.SizeOfRawData, max(s.VirtualSize, 1)))})
			l.textHdr = append(l.textHdr, int(s.HeaderOffset))
			l.textRVA = append(l.textRVA, s.VirtualAddress)
		}
	}
	if len(l.text) == 0 {
		t.Fatal("no code")
	}
	dirs := int(f.Optional.Offset) + 96
	if f.Is64() {
		dirs += 16
	}
	l.pdataDir = dirs + 8*peimage.DirException
	if d := f.Optional.DataDirectories[peimage.DirException]; d.Size > 0 {
		off, ok := f.FileOffset(d.RVA)
		if !ok {
			t.Fatal("exception directory has no file backing")
		}
		l.pdata = span{int(off), int(d.Size)}
		l.pdataSize = 12
		if f.Machine == peimage.MachineARM64 {
			l.pdataSize = 8
		}
	}
	imp := f.Optional.DataDirectories[peimage.DirImport]
	dlls, err := f.Imports()
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range dlls {
		if off, ok := f.FileOffset(imp.RVA + uint32(20*i)); ok {
			l.desc = append(l.desc, int(off))
		}
		n := (len(d.Functions) + 1) * l.ptr
		for j, rva := range []uint32{d.OriginalFirstThunk, d.FirstThunk} {
			if off, ok := f.FileOffset(rva); ok && rva != 0 {
				l.thunks = append(l.thunks, span{int(off), n})
				for k, fn := range d.Functions {
					// A checked API, else (a KMDF driver) WdfVersionBind.
					if j == 0 && fn.Name != "" && (callsite.NewTable().Lookup(fn.Name) != nil || l.checked == 0) {
						l.checked = le(data[int(off)+k*l.ptr:], l.ptr)
					}
				}
			}
		}
	}
	if l.checked == 0 {
		t.Fatal("no named import")
	}
	return l
}

// le reads a little-endian value of n (4 or 8) bytes.
func le(b []byte, n int) uint64 {
	if n == 8 {
		return binary.LittleEndian.Uint64(b)
	}
	return uint64(binary.LittleEndian.Uint32(b))
}

// put writes v as a little-endian value of n (4 or 8) bytes, as much as fits.
func put(d []byte, off int, v uint64, n int) {
	for i := 0; i < n && off+i < len(d); i++ {
		if off+i >= 0 {
			d[off+i] = byte(v >> (8 * i))
		}
	}
}

// mutate returns a copy of data with k random code mutations and what they
// were: bytes of the code flipped, runs of it overwritten with 0xFF, 0xCC or
// random bytes or with a copy of other code, the code section's raw data
// cut (in its header or by truncating the file), .pdata entries pointing
// anywhere, and import thunks and descriptors changed so that slots lie
// anywhere or name a checked API.
func (l *codeLayout) mutate(r *rand.Rand, data []byte, k int) ([]byte, string) {
	d := append([]byte(nil), data...)
	var what []string
	for ; k > 0; k-- {
		what = append(what, l.mutateOnce(r, &d))
	}
	return d, strings.Join(what, "; ")
}

func (l *codeLayout) mutateOnce(r *rand.Rand, data *[]byte) string {
	d := *data
	ti := r.IntN(len(l.text))
	text := l.text[ti]
	text.n = max(min(text.n, len(d)-text.off), 0) // cut by an earlier mutation
	at := func(n int) int { return text.off + r.IntN(max(text.n-n, 1)) }
	c := r.IntN(10)
	if text.n < 64 && c <= 5 {
		c = 6 + r.IntN(4) // too little code left to mutate
	}
	switch c {
	case 0: // flip bytes
		s := "flip"
		for n := 1 + r.IntN(8); n > 0; n-- {
			o := at(1)
			x := byte(1 + r.IntN(255))
			d[o] ^= x
			s += fmt.Sprintf(" @%#x^%#x", o, x)
		}
		return s
	case 1, 2, 3: // overwrite a run
		n := 1 + r.IntN(64)
		o := at(n)
		fillByte := []byte{0xFF, 0xCC}
		for i := o; i < o+n && i < text.off+text.n; i++ {
			if c == 3 {
				d[i] = byte(r.Uint32())
			} else {
				d[i] = fillByte[c-1]
			}
		}
		return fmt.Sprintf("overwrite%d @%#x+%d", c, o, n)
	case 4: // copy other code over a run
		n := 1 + r.IntN(64)
		src, dst := at(n), at(n)
		end := text.off + text.n
		copy(d[dst:min(dst+n, end)], d[src:min(src+n, end)])
		return fmt.Sprintf("copy %#x→%#x+%d", src, dst, n)
	case 5: // cut the raw data
		cut := r.IntN(text.n + 1)
		if r.IntN(2) == 0 {
			put(d, l.textHdr[ti]+16, uint64(cut), 4)
			return fmt.Sprintf("SizeOfRawData=%#x", cut)
		}
		*data = d[:text.off+cut]
		return fmt.Sprintf("truncate@%#x", text.off+cut)
	case 6, 7: // .pdata entries pointing anywhere
		if l.pdataSize == 0 || l.pdata.n < l.pdataSize {
			return l.mutateOnce(r, data)
		}
		if r.IntN(8) == 0 {
			v := uint64(l.anyRVA(r, d))
			put(d, l.pdataDir+4, v, 4)
			return fmt.Sprintf("pdata size=%#x", v)
		}
		s := "pdata"
		for n := 1 + r.IntN(4); n > 0; n-- {
			e := l.pdata.off + l.pdataSize*r.IntN(l.pdata.n/l.pdataSize)
			field := 4 * r.IntN(l.pdataSize/4)
			v := l.anyRVA(r, d)
			if field == 4 && l.pdataSize == 8 && r.IntN(2) == 0 {
				v = uint32(r.IntN(0x800))<<2 | 1 // a packed record of any length
			}
			put(d, e+field, uint64(v), 4)
			s += fmt.Sprintf(" @%#x+%d=%#x", e, field, v)
		}
		return s
	default: // imports
		if len(l.thunks) == 0 || len(l.desc) == 0 {
			return l.mutateOnce(r, data)
		}
		switch r.IntN(3) {
		case 0: // a descriptor's IAT anywhere: its slots lie there
			o := l.desc[r.IntN(len(l.desc))] + 16
			v := l.anyRVA(r, d)
			put(d, o, uint64(v), 4)
			return fmt.Sprintf("FirstThunk@%#x=%#x", o, v)
		case 1: // thunks name a checked API
			th := l.thunks[r.IntN(len(l.thunks))]
			s := "thunk→checked"
			for n := 1 + r.IntN(4); n > 0; n-- {
				o := th.off + l.ptr*r.IntN(max(th.n/l.ptr-1, 1))
				put(d, o, l.checked, l.ptr)
				s += fmt.Sprintf(" @%#x", o)
			}
			return s
		default: // a thunk anywhere
			th := l.thunks[r.IntN(len(l.thunks))]
			o := th.off + l.ptr*r.IntN(max(th.n/l.ptr, 1))
			v := uint64(l.anyRVA(r, d))
			put(d, o, v, l.ptr)
			return fmt.Sprintf("thunk@%#x=%#x", o, v)
		}
	}
}

// anyRVA returns an RVA in the code, next to one, anywhere in the image,
// or an extreme value.
func (l *codeLayout) anyRVA(r *rand.Rand, d []byte) uint32 {
	switch r.IntN(5) {
	case 0, 1:
		i := r.IntN(len(l.textRVA))
		return l.textRVA[i] + uint32(r.IntN(max(l.text[i].n, 1)))
	case 2:
		return uint32(r.IntN(int(max(l.size, 1))))
	case 3:
		return l.size - uint32(r.IntN(16))
	}
	ext := []uint32{0, 1, 0xfff, 0x1000, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff}
	return ext[r.IntN(len(ext))]
}

// Pathological images, built with pebuild around hand-assembled code.

// asm assembles machine code at a known RVA, with labels resolved at the end.
type asm struct {
	base   uint32
	b      []byte
	labels map[string]uint32
	fixups []fixup
}

type fixup struct {
	at    int    // offset of the field in b
	label string // its target
	kind  byte   // 'd': rel32 after the field; 'b': rel8 after the field; 'a': ARM64 imm26
}

func newAsm(base uint32) *asm { return &asm{base: base, labels: map[string]uint32{}} }

func (a *asm) pc() uint32 { return a.base + uint32(len(a.b)) }

func (a *asm) emit(bs ...byte) { a.b = append(a.b, bs...) }

func (a *asm) u32(v uint32) { a.b = binary.LittleEndian.AppendUint32(a.b, v) }

func (a *asm) label(name string) { a.labels[name] = a.pc() }

// rel32 emits op and a rel32 to label (call E8, jmp E9, jcc 0F 8x).
func (a *asm) rel32(label string, op ...byte) {
	a.emit(op...)
	a.fixups = append(a.fixups, fixup{len(a.b), label, 'd'})
	a.u32(0)
}

// rel8 emits op and a rel8 to label (jmp EB, jcc 7x).
func (a *asm) rel8(label string, op byte) {
	a.emit(op, 0)
	a.fixups = append(a.fixups, fixup{len(a.b) - 1, label, 'b'})
}

// ripCall emits call [rip+slot] (x64).
func (a *asm) ripCall(slot uint32) {
	a.emit(0xFF, 0x15)
	a.u32(slot - (a.pc() + 4))
}

// arm emits an ARM64 instruction word.
func (a *asm) arm(w uint32) { a.u32(w) }

// armBranch emits b (0x14000000) or bl (0x94000000) to label.
func (a *asm) armBranch(op uint32, label string) {
	a.fixups = append(a.fixups, fixup{len(a.b), label, 'a'})
	a.u32(op)
}

// armCallSlot emits adrp x16, slot; ldr x16, [x16, slot&0xfff]; blr x16.
func (a *asm) armCallSlot(slot uint32) {
	page := int64(slot&^0xfff) - int64(a.pc()&^0xfff)
	imm := uint32(page>>12) & 0x1fffff
	a.arm(0x90000010 | (imm&3)<<29 | (imm>>2)<<5)
	a.arm(0xF9400210 | (slot&0xfff)/8<<10)
	a.arm(0xD63F0200)
}

// align pads with b to a multiple of n.
func (a *asm) align(n int, b byte) {
	for len(a.b)%n != 0 {
		a.emit(b)
	}
}

func (a *asm) finish(t *testing.T) []byte {
	t.Helper()
	for _, f := range a.fixups {
		target, ok := a.labels[f.label]
		if !ok {
			t.Fatalf("no label %q", f.label)
		}
		switch f.kind {
		case 'd':
			binary.LittleEndian.PutUint32(a.b[f.at:], target-(a.base+uint32(f.at)+4))
		case 'b':
			a.b[f.at] = byte(target - (a.base + uint32(f.at) + 1))
		case 'a':
			w := binary.LittleEndian.Uint32(a.b[f.at:])
			off := (target - (a.base + uint32(f.at))) / 4
			binary.LittleEndian.PutUint32(a.b[f.at:], w|off&0x3ffffff)
		}
	}
	return a.b
}

// The layout of a synthetic image: the imports at the start of .rdata (the
// first section), the code at textRVA, .pdata after it.
const (
	textRVA   = 0x2000
	synthTag  = 0x74736554 // 'Test'
	x86Base   = 0x10000
	synthName = "ExAllocatePoolWithTag"
)

// synthImports are the imports of every synthetic image, from ntoskrnl.exe.
var synthImports = []string{synthName, "MmMapIoSpace", "ExAllocatePool2", "MmGetSystemRoutineAddress"}

// slotRVA is the IAT slot of synthImports[i] (the IAT starts .rdata at 0x1000).
func slotRVA(machine uint16, i int) uint32 {
	if machine == pebuild.MachineI386 {
		return 0x1000 + 4*uint32(i)
	}
	return 0x1000 + 8*uint32(i)
}

// synthImage builds an image of machine around code at textRVA, with a
// .pdata entry per function extent (x64 and ARM64; none when funcs is nil).
func synthImage(t *testing.T, machine uint16, code []byte, funcs [][2]uint32) []byte {
	t.Helper()
	im := &pebuild.Image{Machine: machine, ImportSection: ".rdata",
		Imports: []pebuild.Import{{DLL: "ntoskrnl.exe", Functions: synthImports}}}
	im.Sections = []pebuild.Section{
		{Name: ".rdata", Characteristics: pebuild.RData},
		{Name: ".text", VirtualAddress: textRVA, Characteristics: pebuild.Text, Data: code},
	}
	if len(funcs) > 0 {
		var pdata []byte
		for _, f := range funcs {
			pdata = binary.LittleEndian.AppendUint32(pdata, f[0])
			if machine == pebuild.MachineARM64 {
				pdata = binary.LittleEndian.AppendUint32(pdata, (f[1]-f[0])/4<<2|1)
				continue
			}
			pdata = binary.LittleEndian.AppendUint32(pdata, f[1])
			pdata = binary.LittleEndian.AppendUint32(pdata, 0x1000) // unwind info (not read)
		}
		va := (textRVA + uint32(len(code)) + 0xfff) &^ 0xfff
		im.Sections = append(im.Sections, pebuild.Section{Name: ".pdata", VirtualAddress: va, Characteristics: pebuild.RData, Data: pdata})
		im.Directories[pebuild.DirException] = pebuild.DataDirectory{RVA: va, Size: uint32(len(pdata))}
	}
	if machine == pebuild.MachineI386 {
		im.ImageBase = x86Base
	}
	out, err := im.Build()
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Imports.IAT.Start; got != slotRVA(machine, 0) || out.Sections[1].VirtualAddress != textRVA {
		t.Fatalf("layout: IAT at %#x, .text at %#x", got, out.Sections[1].VirtualAddress)
	}
	return out.Bytes
}

// recursive returns n functions of machine that each forward their first
// argument to ExAllocatePoolWithTag, call themselves with it, and call the
// next function (the last calls the first) with NonPagedPool (0): every
// function is a wrapper, every call a recursion.
func recursive(t *testing.T, machine uint16, n int) ([]byte, [][2]uint32) {
	a := newAsm(textRVA)
	var funcs [][2]uint32
	slot := slotRVA(machine, 0)
	for i := 0; i < n; i++ {
		self, next := fmt.Sprintf("f%d", i), fmt.Sprintf("f%d", (i+1)%n)
		start := a.pc()
		a.label(self)
		switch machine {
		case pebuild.MachineAMD64:
			a.emit(0x89, 0xCB)             // mov ebx, ecx
			a.emit(0x48, 0x83, 0xEC, 0x28) // sub rsp, 0x28
			a.emit(0xBA)                   // mov edx, 0x100
			a.u32(0x100)
			a.emit(0x41, 0xB8) // mov r8d, tag
			a.u32(synthTag)
			a.ripCall(slot)
			a.emit(0x89, 0xD9) // mov ecx, ebx
			a.rel32(self, 0xE8)
			a.emit(0x31, 0xC9) // xor ecx, ecx
			a.rel32(next, 0xE8)
			a.emit(0x48, 0x83, 0xC4, 0x28, 0xC3) // add rsp, 0x28; ret
		case pebuild.MachineI386:
			a.emit(0x55, 0x8B, 0xEC) // push ebp; mov ebp, esp
			a.emit(0x68)             // push tag
			a.u32(synthTag)
			a.emit(0x68) // push 0x100
			a.u32(0x100)
			a.emit(0xFF, 0x75, 0x08) // push [ebp+8]
			a.emit(0xFF, 0x15)       // call [slot]
			a.u32(x86Base + slot)
			a.emit(0xFF, 0x75, 0x08) // push [ebp+8]
			a.rel32(self, 0xE8)
			a.emit(0x6A, 0x00) // push 0
			a.rel32(next, 0xE8)
			a.emit(0x5D, 0xC2, 0x04, 0x00) // pop ebp; ret 4
		case pebuild.MachineARM64:
			a.arm(0xA9BE53F3) // stp x19, x20, [sp, #-32]!
			a.arm(0xF9000BFE) // str x30, [sp, #16]
			a.arm(0xAA0003F3) // mov x19, x0
			a.arm(movz(1, 0x100))
			a.arm(movz(2, synthTag&0xffff)) // the tag's low half
			a.armCallSlot(slot)
			a.arm(0xAA1303E0) // mov x0, x19
			a.armBranch(0x94000000, self)
			a.arm(movz(0, 0))
			a.armBranch(0x94000000, next)
			a.arm(0xF9400BFE) // ldr x30, [sp, #16]
			a.arm(0xA8C253F3) // ldp x19, x20, [sp], #32
			a.arm(0xD65F03C0) // ret
		}
		funcs = append(funcs, [2]uint32{start, a.pc()})
		a.align(16, padByte(machine))
	}
	return a.finish(t), funcs
}

// movz returns mov wD, #imm16.
func movz(d, imm uint32) uint32 { return 0x52800000 | imm<<5 | d }

func padByte(machine uint16) byte {
	if machine == pebuild.MachineARM64 {
		return 0 // udf #0 words
	}
	return 0xCC
}

// selfJumps returns x64 functions that jump into their own middle:
// overlapping instructions, a jump to itself, a jump into its own rel32, a
// conditional jump into the displacement of a call, a loop back into the
// middle of an instruction.
func selfJumps(t *testing.T) ([]byte, [][2]uint32) {
	a := newAsm(textRVA)
	slot := slotRVA(pebuild.MachineAMD64, 0)
	var funcs [][2]uint32
	begin := func() { funcs = append(funcs, [2]uint32{a.pc(), 0}) }
	end := func() {
		a.ripCall(slot)
		a.emit(0xC3)
		funcs[len(funcs)-1][1] = a.pc()
		a.align(16, 0xCC)
	}
	begin() // jmp to its own second byte: EB FF C1 is jmp; inc ecx
	a.emit(0xB9, 0, 0, 0, 0, 0xEB, 0xFF, 0xC1)
	end()
	begin() // a conditional jump to itself, then jmp rel32 into its own offset
	a.emit(0x85, 0xC9, 0x74, 0xFE, 0xE9, 0xFC, 0xFF, 0xFF, 0xFF, 0x31, 0xC9)
	end()
	begin() // jz into the disp32 of the call that follows
	a.emit(0x31, 0xC9, 0x74, 0x02)
	end()
	// A loop back into the middle of add ecx, 1.
	begin()
	a.emit(0xB9, 0, 2, 0, 0) // mov ecx, 0x200
	a.emit(0x83, 0xC1, 0x01, 0x75, 0xFC)
	end()
	begin() // jmp $: nothing after it is reached
	a.emit(0xEB, 0xFE, 0x31, 0xC9)
	end()
	begin() // call into its own middle
	a.emit(0x31, 0xC9, 0xE8, 0xFC, 0xFF, 0xFF, 0xFF)
	end()
	return a.finish(t), funcs
}

// straightLine returns one x64 function of 64 KiB of straight-line code
// (mov ecx, imm32 repeated, or nop) ending with a checked call, with a
// .pdata entry over it, and the same for x86 without .pdata.
func straightLine(t *testing.T, machine uint16, insn []byte) ([]byte, [][2]uint32) {
	a := newAsm(textRVA)
	for len(a.b) < 64<<10 {
		a.emit(insn...)
	}
	a.emit(0xB9, 0, 0, 0, 0) // mov ecx, 0
	if machine == pebuild.MachineI386 {
		a.emit(0x68, 0, 0, 0, 0, 0x6A, 0x00, 0xFF, 0x15) // push 0; push 0; call [slot]
		a.u32(x86Base + slotRVA(machine, 0))
	} else {
		a.ripCall(slotRVA(machine, 0))
	}
	a.emit(0xC3)
	return a.finish(t), [][2]uint32{{textRVA, a.pc()}}
}

// switches returns one x64 function of n switch cases, each of which sets
// a pool type, calls the API and dispatches again through a register or a
// jump table (every case is an indirect jump, so every case may follow
// every other).
func switches(t *testing.T, n int, table bool) ([]byte, [][2]uint32) {
	a := newAsm(textRVA)
	slot := slotRVA(pebuild.MachineAMD64, 0)
	dispatch := func() {
		if table {
			a.emit(0xFF, 0x24, 0xC5) // jmp [rax*8 + 0x1000]
			a.u32(0x1000)
		} else {
			a.emit(0xFF, 0xE0) // jmp rax
		}
	}
	a.emit(0x48, 0x83, 0xEC, 0x28) // sub rsp, 0x28
	dispatch()
	for i := 0; i < n; i++ {
		a.emit(0xB9) // mov ecx, i
		a.u32(uint32(i) & 0x201)
		a.ripCall(slot)
		dispatch()
	}
	return a.finish(t), [][2]uint32{{textRVA, a.pc()}}
}

// TestPathologicalImages analyses hand-built images that stress the
// bounds: recursion everywhere, jumps into instructions, a 64 KiB function,
// thousands of indirect jumps. Each must end within the guard with a
// report that keeps the invariants.
func TestPathologicalImages(t *testing.T) {
	cases := []struct {
		name    string
		machine uint16
		build   func(*testing.T) ([]byte, [][2]uint32)
		check   func(*testing.T, result)
	}{
		{"recursive-x64", pebuild.MachineAMD64, func(t *testing.T) ([]byte, [][2]uint32) { return recursive(t, pebuild.MachineAMD64, 64) }, wantFindings},
		{"recursive-x86", pebuild.MachineI386, func(t *testing.T) ([]byte, [][2]uint32) {
			code, _ := recursive(t, pebuild.MachineI386, 64)
			return code, nil
		}, wantFindings},
		{"recursive-arm64", pebuild.MachineARM64, func(t *testing.T) ([]byte, [][2]uint32) { return recursive(t, pebuild.MachineARM64, 64) }, wantFindings},
		{"self-jumps-x64", pebuild.MachineAMD64, selfJumps, wantFindings},
		{"self-jumps-x64-no-pdata", pebuild.MachineAMD64, func(t *testing.T) ([]byte, [][2]uint32) {
			code, _ := selfJumps(t)
			return code, nil
		}, nil},
		{"straight-64k-x64", pebuild.MachineAMD64, func(t *testing.T) ([]byte, [][2]uint32) {
			return straightLine(t, pebuild.MachineAMD64, []byte{0xB9, 0x00, 0x02, 0, 0})
		}, wantFindings},
		{"straight-64k-nops-x64", pebuild.MachineAMD64, func(t *testing.T) ([]byte, [][2]uint32) {
			return straightLine(t, pebuild.MachineAMD64, []byte{0x90})
		}, wantTruncated},
		{"straight-64k-x86", pebuild.MachineI386, func(t *testing.T) ([]byte, [][2]uint32) {
			code, _ := straightLine(t, pebuild.MachineI386, []byte{0xB9, 0x00, 0x02, 0, 0})
			return code, nil
		}, nil},
		{"switch-jmp-reg-x64", pebuild.MachineAMD64, func(t *testing.T) ([]byte, [][2]uint32) { return switches(t, 3000, false) }, nil},
		{"switch-jmp-table-x64", pebuild.MachineAMD64, func(t *testing.T) ([]byte, [][2]uint32) { return switches(t, 3000, true) }, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, funcs := c.build(t)
			data := synthImage(t, c.machine, code, funcs)
			start := time.Now()
			rep, err := analyzeGuarded(data, callsite.Options{}, mutationGuard)
			if err != nil {
				t.Fatalf("%v", err)
			}
			t.Logf("%d findings, %+v in %v", len(rep.Findings), rep.Stats, time.Since(start).Round(time.Millisecond))
			if c.check != nil {
				c.check(t, result{len(rep.Findings), rep.Stats})
			}
		})
	}
}

// result is what the checks of TestPathologicalImages look at.
type result struct {
	findings int
	stats    callsite.Stats
}

func wantFindings(t *testing.T, r result) {
	t.Helper()
	if r.findings == 0 {
		t.Errorf("no findings: %+v", r.stats)
	}
}

func wantTruncated(t *testing.T, r result) {
	t.Helper()
	if !r.stats.Truncated {
		t.Errorf("not truncated: %+v", r.stats)
	}
}
