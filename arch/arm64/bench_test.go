package arm64

import (
	"testing"

	"github.com/hvcicheck/hvcicheck/ir"
	"golang.org/x/arch/arm64/arm64asm"
)

// BenchmarkLift lifts every word of the corpus file's executable sections
// (code and the data GNU-EFI links into .text alike); arm64asm decoding the
// same words is the reference.
func BenchmarkLift(b *testing.B) {
	text := loadText(b)
	if len(text) == 0 {
		b.Skip("corpus file absent")
	}
	b.Run("lift", func(b *testing.B) {
		d := New(testBase, 0x1000000)
		out := make([]ir.Insn, 0, 16)
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		var insns, errs int
		for b.Loop() {
			insns, errs = 0, 0
			for pos := 0; pos+4 <= len(text); pos += 4 {
				var err error
				out, _, err = d.Lift(text[pos:], 0x1000+uint32(pos), out[:0])
				if err != nil {
					errs++
					continue
				}
				insns++
			}
		}
		b.ReportMetric(float64(insns)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Minsn/s")
		b.ReportMetric(float64(errs), "errors")
	})
	b.Run("arm64asm", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		for b.Loop() {
			for pos := 0; pos+4 <= len(text); pos += 4 {
				_, _ = arm64asm.Decode(text[pos:])
			}
		}
	})
}
