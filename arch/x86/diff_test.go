package x86

import (
	"debug/pe"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// corpusCode returns the executable sections of the corpus images of one
// machine type (pe.IMAGE_FILE_MACHINE_AMD64 or _I386), with their RVAs and
// image bases.
type codeBlob struct {
	name      string
	rva       uint32
	data      []byte
	imageBase uint64
	size      uint32
}

func corpusCode(tb testing.TB, machine uint16) []codeBlob {
	var out []codeBlob
	for _, dir := range []string{"wine-x64", "byovd", "efi"} {
		files, _ := filepath.Glob(filepath.Join("/work/shared/corpus", dir, "*"))
		for _, fn := range files {
			f, err := os.Open(fn)
			if err != nil {
				continue
			}
			pf, err := pe.NewFile(f)
			if err != nil || pf.Machine != machine {
				f.Close()
				continue
			}
			var base uint64
			var size uint32
			switch oh := pf.OptionalHeader.(type) {
			case *pe.OptionalHeader64:
				base, size = oh.ImageBase, oh.SizeOfImage
			case *pe.OptionalHeader32:
				base, size = uint64(oh.ImageBase), oh.SizeOfImage
			}
			for _, s := range pf.Sections {
				if s.Characteristics&pe.IMAGE_SCN_MEM_EXECUTE == 0 {
					continue
				}
				b, err := s.Data()
				if err != nil {
					continue
				}
				if s.VirtualSize > 0 && int(s.VirtualSize) < len(b) {
					b = b[:s.VirtualSize]
				}
				out = append(out, codeBlob{filepath.Base(fn) + ":" + s.Name, s.VirtualAddress, b, base, size})
			}
			f.Close()
		}
	}
	return out
}

// TestFastMatchesX86asm lifts every instruction of the corpus (linear sweep)
// and, at every byte offset of a sample, through both the fast decoder and
// x86asm, and requires the same result.
func TestFastMatchesX86asm(t *testing.T) {
	for _, mc := range []struct {
		machine uint16
		mode    int
	}{{pe.IMAGE_FILE_MACHINE_AMD64, 64}, {pe.IMAGE_FILE_MACHINE_I386, 32}} {
		blobs := corpusCode(t, mc.machine)
		if len(blobs) == 0 {
			t.Logf("no corpus for mode %d", mc.mode)
			continue
		}
		var compared, fastHits, mismatches int
		for _, b := range blobs {
			fast := New(mc.mode, b.imageBase, b.size)
			slow := New(mc.mode, b.imageBase, b.size)
			slow.noFast = true
			check := func(pos int) int {
				code := b.data[pos:]
				rva := b.rva + uint32(pos)
				o1, n1, e1 := fast.Lift(code, rva, nil)
				o2, n2, e2 := slow.Lift(code, rva, nil)
				compared++
				var l lifter
				l.d = fast
				if len(code) > 0 {
					if _, ok := l.fast(code); ok {
						fastHits++
					}
				}
				if n1 != n2 || (e1 == nil) != (e2 == nil) || !reflect.DeepEqual(o1, o2) {
					mismatches++
					if mismatches <= 20 {
						t.Errorf("%s+%#x % x: fast n=%d err=%v %s\nx86asm n=%d err=%v %s", b.name, pos, code[:min(len(code), 15)],
							n1, e1, dump(o1), n2, e2, dump(o2))
					}
				}
				return n2
			}
			for pos := 0; pos < len(b.data); {
				n := check(pos)
				if n <= 0 {
					n = 1
				}
				pos += n
			}
			// Misaligned starts exercise unusual byte patterns.
			for pos := 1; pos < len(b.data); pos += 7 {
				check(pos)
			}
		}
		t.Logf("mode %d: %d blobs, %d positions compared, %d by the fast path, %d mismatches", mc.mode, len(blobs), compared, fastHits, mismatches)
	}
}
