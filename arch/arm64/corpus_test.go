package arm64

import (
	"debug/pe"
	"testing"
)

// corpusFile is an ARM64 EFI application of the shared corpus (rEFInd),
// used by the benchmark and the comparison with arm64asm when present.
const corpusFile = "/work/shared/corpus/efi/refind_aa64.efi"

// loadText returns the bytes of the corpus file's executable sections, or
// nil when it is absent.
func loadText(tb testing.TB) []byte {
	tb.Helper()
	f, err := pe.Open(corpusFile)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []byte
	for _, s := range f.Sections {
		if s.Characteristics&pe.IMAGE_SCN_MEM_EXECUTE == 0 {
			continue
		}
		b, err := s.Data()
		if err != nil {
			tb.Fatalf("%s: %v", s.Name, err)
		}
		out = append(out, b[:len(b)&^3]...)
	}
	return out
}
