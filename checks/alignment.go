package checks

import (
	"fmt"

	"github.com/hvcicheck/hvcicheck/peimage"
)

// UnalignedSection is Driver Verifier's 0x2004: a section that does not
// start on a page boundary.
var UnalignedSection = &Analyzer{
	Rule: Rule{
		Code:  "0x2004",
		Name:  "unaligned-section",
		Title: "section is not page aligned",
		Doc: "A section's VirtualAddress is not a multiple of the 4 KiB page size (the same on x86, x64 and ARM64). " +
			"Memory integrity sets permissions per page, so a page shared by code and data cannot be both " +
			"non-writable and non-executable; Windows refuses such a driver with memory integrity on. The usual cause " +
			"is a SectionAlignment below 0x1000 (old /DRIVER defaults, /ALIGN:0x80, FileAlignment equal to SectionAlignment).",
		Fix: "Link with the default section alignment (/ALIGN:0x1000 or none; DRIVER_ALIGNMENT=0x1000; for GNU ld " +
			"--section-alignment=0x1000).",
	},
	Run: runUnaligned,
}

func runUnaligned(p *Pass) error {
	align := p.File.Optional.SectionAlignment
	lowAlign := align < peimage.PageSize
	found := false
	for i := range p.File.Sections {
		s := &p.File.Sections[i]
		if s.VirtualAddress%peimage.PageSize == 0 {
			continue
		}
		found = true
		f := sectionFinding(p, i)
		f.Blocking = true
		f.Message = fmt.Sprintf("section %q starts at RVA 0x%x, which is not a multiple of 0x1000", s.Name, s.VirtualAddress)
		if lowAlign {
			f.Message += fmt.Sprintf(", because the image's SectionAlignment is 0x%x", align)
			f.Fix = fmt.Sprintf("SectionAlignment 0x%x: link with the default /ALIGN or 0x1000", align)
		} else {
			f.Fix = "the section header was placed off a page boundary: relink with a standard linker and the default /ALIGN"
		}
		p.Report(f)
	}
	if lowAlign && !found && len(p.File.Sections) > 0 {
		p.Report(Finding{
			Blocking: true,
			Message:  fmt.Sprintf("the image's SectionAlignment is 0x%x, below the 0x1000 page size (every section happens to start on a page, but the loader maps the image by its alignment)", align),
			Fix:      fmt.Sprintf("SectionAlignment 0x%x: link with the default /ALIGN or 0x1000", align),
		})
	}
	return nil
}
