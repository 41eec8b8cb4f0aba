package peimage_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hvcicheck/hvcicheck/peimage"
)

// TestImportedDLLNamesMatchImports checks the names-only reader against the
// full import parser on every committed fixture.
func TestImportedDLLNamesMatchImports(t *testing.T) {
	paths, _ := filepath.Glob("../testdata/drivers/*/*.sys")
	if len(paths) == 0 {
		t.Fatal("no fixtures under testdata/drivers")
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := peimage.Parse(bytesReader(data), int64(len(data)), peimage.Limits{})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		dlls, err := f.Imports()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		var want []string
		for _, d := range dlls {
			want = append(want, d.Name)
		}
		got, err := f.ImportedDLLNames()
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%s: ImportedDLLNames = %v, %v; want %v", p, got, err, want)
		}
	}
}

// dllNamesOneByOne is ImportedDLLNames as it read the descriptors before
// they were read in batches: one 20-byte read each, through the public
// API. The batches must give the same names and the same error.
func dllNamesOneByOne(f *peimage.File) ([]string, error) {
	dir := f.Optional.DataDirectories[peimage.DirImport]
	if dir.RVA == 0 {
		return nil, nil
	}
	var names []string
	for i := 0; i < f.Limits().MaxImports; i++ {
		d, err := f.ReadRVA(dir.RVA+uint32(20*i), 20)
		if err != nil {
			return names, fmt.Errorf("import descriptor %d: %w", i, err)
		}
		ilt, nameRVA, iat := binary.LittleEndian.Uint32(d), binary.LittleEndian.Uint32(d[12:]), binary.LittleEndian.Uint32(d[16:])
		if ilt == 0 && nameRVA == 0 && iat == 0 {
			return names, nil
		}
		name, err := f.ReadCString(nameRVA)
		if err != nil {
			return names, fmt.Errorf("import descriptor %d name: %w", i, err)
		}
		names = append(names, name)
	}
	return names, &peimage.LimitError{What: "import descriptors", Limit: int64(f.Limits().MaxImports)}
}

func checkDLLNamesOneByOne(t *testing.T, what string, data []byte, lim peimage.Limits) {
	t.Helper()
	f, err := peimage.Parse(bytesReader(data), int64(len(data)), lim)
	if err != nil {
		return
	}
	got, gerr := f.ImportedDLLNames()
	want, werr := dllNamesOneByOne(f)
	if !slices.Equal(got, want) || fmt.Sprint(gerr) != fmt.Sprint(werr) {
		t.Errorf("%s: ImportedDLLNames = %q, %v; one by one %q, %v", what, got, gerr, want, werr)
	}
}

// TestImportedDLLNamesBatches checks the batched descriptor reads against
// reads one by one: on the fixtures, cut at every few bytes around their
// descriptors, under small read and import limits, and with a section that
// comes first in the table laid over the descriptors.
func TestImportedDLLNamesBatches(t *testing.T) {
	paths, _ := filepath.Glob("../testdata/drivers/*/*.sys")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := peimage.Parse(bytesReader(data), int64(len(data)), peimage.Limits{})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		rva := f.Optional.DataDirectories[peimage.DirImport].RVA
		off, ok := f.FileOffset(rva)
		if !ok {
			continue
		}
		for cut := off; cut < min(off+200, int64(len(data))); cut += 7 {
			checkDLLNamesOneByOne(t, fmt.Sprintf("%s cut at 0x%x", p, cut), data[:cut], peimage.Limits{})
		}
		for _, lim := range []peimage.Limits{{MaxReadBytes: 20}, {MaxReadBytes: 50}, {MaxImports: 1}, {MaxImports: 2}} {
			checkDLLNamesOneByOne(t, fmt.Sprintf("%s %+v", p, lim), data, lim)
		}
		// Section 0 moved over the second descriptor onwards: an earlier
		// section in the table wins for those RVAs.
		over := slices.Clone(data)
		s := f.Sections[0]
		if s.Index == 0 && f.SectionOf(rva).Index != 0 {
			binary.LittleEndian.PutUint32(over[s.HeaderOffset+12:], rva+20)
			checkDLLNamesOneByOne(t, p+" overlaid", over, peimage.Limits{})
		}
	}
}
