package peimage_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hvcicheck/hvcicheck/internal/pebuild"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// fuzzLimits are the limits of the fuzz and mutation tests: the defaults,
// but single reads of at most 1 MiB, so that a mutated size field costs a
// small allocation and the limit paths are reached quickly.
var fuzzLimits = peimage.Limits{MaxReadBytes: 1 << 20}

// seedCorpusFiles are the shared-corpus files (small ones, one of each
// kind) that seed the fuzzer and the mutation test.
var seedCorpusFiles = []string{
	"byovd/Xkpsm-Killer_xkpsm.sys",
	"byovd/AppRemover-Killer_ardrv.sys",
	"efi/ext2_aa64.efi",
	"efi/gptsync_ia32.efi",
	"wine-x64/cng.sys",
}

// seedImages are hand-built images for the fuzzer and the mutation test:
// the driver on three machines, one aligned below a page, one with a
// 12-entry directory array, one with an exception directory.
func seedImages(t testing.TB) map[string][]byte {
	lowAlign := pebuild.Driver(pebuild.MachineAMD64)
	lowAlign.SectionAlignment, lowAlign.FileAlignment = 0x80, 0x80
	dirs12 := pebuild.Driver(pebuild.MachineI386)
	dirs12.NumberOfRvaAndSizes, dirs12.DirectorySlots = 12, 16
	return map[string][]byte{
		"driver-x64":   build(t, pebuild.Driver(pebuild.MachineAMD64)).Bytes,
		"driver-x86":   build(t, pebuild.Driver(pebuild.MachineI386)).Bytes,
		"driver-arm64": build(t, pdataImage(pebuild.MachineARM64, 0x1000, 5<<2|1, 0x1100, 0x5800)).Bytes,
		"align-0x80":   build(t, lowAlign).Bytes,
		"dirs-12":      build(t, dirs12).Bytes,
		"pdata-x64":    build(t, pdataImage(pebuild.MachineAMD64, 0x1000, 0x1010, 0x5800, 0x1020, 0x1030, 0x5800)).Bytes,
	}
}

// FuzzParse parses arbitrary bytes and runs every directory parser on what
// parses; exercise checks the invariants of each result.
func FuzzParse(f *testing.F) {
	for _, b := range seedImages(f) {
		f.Add(b)
	}
	for _, b := range corpusFiles(f, seedCorpusFiles...) {
		f.Add(b)
	}
	f.Add([]byte("MZ"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pf, err := peimage.Parse(bytesReader(data), int64(len(data)), fuzzLimits)
		if err != nil {
			if pf != nil || err.Error() == "" {
				t.Fatalf("Parse returned %v with error %q", pf, err)
			}
			return
		}
		exercise(t, pf)
	})
}

// fataler is the part of testing.TB that exercise uses; the mutation test
// passes panicker, which reports from any goroutine.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// panicker is a fataler that panics with the message.
type panicker struct{}

func (panicker) Helper() {}

func (panicker) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

// exercise runs every parser of peimage on f, fails t where a result breaks
// an invariant, and returns a summary of the results (for determinism).
func exercise(t fataler, f *peimage.File) string {
	t.Helper()
	var sum strings.Builder
	fmt.Fprintf(&sum, "%s %d sections %q |", peimage.MachineName(f.Machine), len(f.Sections), f.Anomalies)
	checkHeaders(t, f)
	sum.WriteString(exerciseImports(t, f))
	sum.WriteString(exerciseRelocs(t, f))
	sum.WriteString(exercisePdata(t, f))
	sum.WriteString(exerciseSections(t, f))
	return sum.String()
}

func checkHeaders(t fataler, f *peimage.File) {
	t.Helper()
	o := &f.Optional
	if len(f.Sections) > int(f.NumberOfSections) || o.DirectoryCount > 16 || uint32(o.DirectoryCount) > o.NumberOfRvaAndSizes {
		t.Fatalf("%d sections of %d claimed, %d directories of %d", len(f.Sections), f.NumberOfSections, o.DirectoryCount, o.NumberOfRvaAndSizes)
	}
	for i, s := range f.Sections {
		if s.Index != i || s.HeaderOffset+40 > f.Size() || len(s.Name) > 8 {
			t.Fatalf("section %d: %+v", i, s)
		}
	}
}

func exerciseImports(t fataler, f *peimage.File) string {
	t.Helper()
	dlls, err := f.Imports()
	n := 0
	var names []string
	for _, d := range dlls {
		names = append(names, d.Name)
		for _, fn := range d.Functions {
			if fn.DLL != d.Name || len(fn.Name) > f.Limits().MaxStringSize || (fn.ByOrdinal && fn.Name != "") {
				t.Fatalf("function %+v of %q", fn, d.Name)
			}
		}
		n += len(d.Functions)
	}
	if n > f.Limits().MaxImports {
		t.Fatalf("%d imported functions over the limit", n)
	}
	ranges, _, rerr := f.IATRanges()
	for _, r := range ranges {
		if r.End < r.Start {
			t.Fatalf("IAT range %+v ends before it starts", r)
		}
	}
	kind := f.Classify(names, "x.sys")
	if !slices.Contains([]peimage.Kind{peimage.KindKernelDriver, peimage.KindEFIApplication, peimage.KindEFIDriver,
		peimage.KindEFIROM, peimage.KindNativeUser, peimage.KindUserMode}, kind) {
		t.Fatalf("unknown kind %q", kind)
	}
	return fmt.Sprintf(" imports %d/%d %v; iat %v %v; %s |", len(dlls), n, err, ranges, rerr, kind)
}

func exerciseRelocs(t fataler, f *peimage.File) string {
	t.Helper()
	relocs, err := f.BaseRelocs()
	if len(relocs) > f.Limits().MaxRelocs {
		t.Fatalf("%d relocations over the limit", len(relocs))
	}
	for _, r := range relocs {
		if r.Type == peimage.RelAbsolute {
			t.Fatalf("an ABSOLUTE padding entry was returned")
		}
	}
	return fmt.Sprintf(" relocs %d %v |", len(relocs), err)
}

func exercisePdata(t fataler, f *peimage.File) string {
	t.Helper()
	fns, err := f.RuntimeFunctions()
	for i, fn := range fns {
		if fn.Start == 0 || (f.Machine == peimage.MachineAMD64 && fn.End <= fn.Start) || (i > 0 && fns[i-1].Start > fn.Start) {
			t.Fatalf("function %d %+v (previous %+v)", i, fn, fns[max(i-1, 0)])
		}
	}
	return fmt.Sprintf(" pdata %d %v |", len(fns), err)
}

func exerciseSections(t fataler, f *peimage.File) string {
	t.Helper()
	var sum strings.Builder
	for i := range f.Sections {
		s := &f.Sections[i]
		want := s.VirtualSize
		if want == 0 {
			want = s.SizeOfRawData
		}
		b, err := f.SectionData(s)
		if err == nil && uint32(len(b)) != want {
			t.Fatalf("section %d: %d bytes of data, want %d", i, len(b), want)
		}
		str, serr := f.ReadCString(s.VirtualAddress)
		if serr == nil && len(str) >= f.Limits().MaxStringSize {
			t.Fatalf("section %d: string of %d bytes", i, len(str))
		}
		fmt.Fprintf(&sum, " %d:%v:%v", s.MappedSize(f.Optional.SectionAlignment), err != nil, serr != nil)
	}
	_, err := f.ReadCString(f.Optional.AddressOfEntryPoint)
	fmt.Fprintf(&sum, " entry %v", err != nil)
	return sum.String()
}
