package checks

import (
	"fmt"

	"github.com/hvcicheck/hvcicheck/peimage"
)

// maxRelocFindings bounds the findings of PageCrossingRelocation per image;
// one more finding says how many were left out.
const maxRelocFindings = 64

// PageCrossingRelocation is Driver Verifier's seventh counter ("Unsupported
// Relocs Count"), which has no bug-check code of its own.
var PageCrossingRelocation = &Analyzer{
	Rule: Rule{
		Name:  "page-crossing-relocation",
		Title: "base relocation target straddles a page boundary",
		Doc: "A base relocation patches a value that starts in one 4 KiB page and ends in the next (an 8-byte DIR64 " +
			"at page offset above 0xFF8, a 4-byte HIGHLOW above 0xFFC). With memory integrity on, Windows 10 1507 to " +
			"1607 cannot apply such a relocation and refuses the driver; 1703 and later support it. Driver Verifier " +
			"counts it as \"Unsupported Relocs\" without a bug-check code.",
		Fix: "Keep pointers naturally aligned: avoid #pragma pack around structures holding pointers, and build " +
			"with /Gy so data is laid out per item.",
	},
	Run: runPageCrossing,
}

func runPageCrossing(p *Pass) error {
	n := 0
	var firstUnlisted uint32
	err := p.File.EachBaseReloc(func(r peimage.Reloc) {
		w := r.Width()
		if w == 0 || r.RVA&(peimage.PageSize-1)+w <= peimage.PageSize {
			return
		}
		n++
		if n > maxRelocFindings {
			if n == maxRelocFindings+1 {
				firstUnlisted = r.RVA
			}
			return
		}
		f := Finding{RVA: ptr(r.RVA), RVAEnd: ptr(r.RVA + w)}
		if s := p.File.SectionOf(r.RVA); s != nil {
			f.Section = s.Name
			f.SectionIndex = ptr(s.Index)
		}
		f.Message = fmt.Sprintf("%d-byte relocation at RVA 0x%x crosses into the next page (unsupported by memory integrity before Windows 10 1703)", w, r.RVA)
		f.Fix = "align the pointer field (no #pragma pack around pointers)"
		p.Report(f)
	})
	if n > maxRelocFindings {
		// The RVA of the first one left out sorts the summary after the
		// listed ones (a finding without a location would sort first).
		p.Report(Finding{
			RVA:     ptr(firstUnlisted),
			Message: fmt.Sprintf("%d more page-crossing relocations not listed, the first at RVA 0x%x", n-maxRelocFindings, firstUnlisted),
		})
	}
	return err
}
