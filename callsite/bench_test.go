package callsite_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/hvcicheck/hvcicheck/arch/x86"
	"github.com/hvcicheck/hvcicheck/callsite"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// BenchmarkAnalyze runs the call-site analysis alone (no hashing, no other
// rule) on the x64 and x86 images of the committed fixtures and of the
// shared corpus's vulnerable drivers (../../shared/corpus/byovd or
// $HVCICHECK_CORPUS/byovd; skipped when absent), one image after another on
// one goroutine. It reports MB/s of executable code (b.SetBytes), files/s,
// and the instructions decoded per second and per file (Stats.Instructions):
// the analysis decodes only the functions that can reach a checked call, so
// insns/file, not the code size, is its cost. The images share one
// Workspace, as the files of a scan's worker do.
//
//	go test ./callsite -run '^$' -bench Analyze -cpuprofile cpu.out
func BenchmarkAnalyze(b *testing.B) {
	corpus := os.Getenv("HVCICHECK_CORPUS")
	if corpus == "" {
		corpus = filepath.Join("..", "..", "shared", "corpus")
	}
	for _, set := range []struct{ name, root string }{
		{"fixtures", filepath.Join("..", "testdata", "drivers")},
		{"byovd", filepath.Join(corpus, "byovd")},
	} {
		b.Run(set.name, func(b *testing.B) {
			images := loadImages(b, set.root)
			if len(images) == 0 {
				b.Skipf("no x64 or x86 images under %s", set.root)
			}
			var code int64
			for _, im := range images {
				code += im.code
			}
			b.SetBytes(code)
			b.ReportAllocs()
			insns := 0
			ws := &callsite.Workspace{} // as a scan's worker does
			for b.Loop() {
				for _, im := range images {
					rep, err := callsite.Analyze(im.f, x86.New(im.mode, im.f.Optional.ImageBase, im.f.Optional.SizeOfImage), callsite.Options{Workspace: ws})
					if err != nil {
						b.Fatalf("%s: %v", im.path, err)
					}
					insns += rep.Stats.Instructions
				}
			}
			s := b.Elapsed().Seconds()
			b.ReportMetric(float64(len(images)*b.N)/s, "files/s")
			b.ReportMetric(float64(insns)/s, "insns/s")
			b.ReportMetric(float64(insns)/float64(len(images)*b.N), "insns/file")
		})
	}
}

type benchImage struct {
	path string
	f    *peimage.File
	mode int
	code int64
}

// loadImages parses the x64 and x86 PE images under root, from memory.
func loadImages(b *testing.B, root string) []benchImage {
	b.Helper()
	var out []benchImage
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		f, err := peimage.Parse(bytes.NewReader(data), int64(len(data)), peimage.Limits{})
		if err != nil {
			return nil
		}
		im := benchImage{path: p, f: f}
		switch f.Machine {
		case peimage.MachineAMD64:
			im.mode = 64
		case peimage.MachineI386:
			im.mode = 32
		default:
			return nil
		}
		for i := range f.Sections {
			if s := &f.Sections[i]; s.Executable() {
				im.code += int64(s.MappedSize(1))
			}
		}
		out = append(out, im)
		return nil
	})
	return out
}
