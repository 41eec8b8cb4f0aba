package peimage_test

import (
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
