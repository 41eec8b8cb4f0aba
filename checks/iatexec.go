package checks

import (
	"fmt"

	"github.com/hvcicheck/hvcicheck/peimage"
)

// IATInExecutableSection is Driver Verifier's 0x2005: the import address
// table lies in an executable section.
var IATInExecutableSection = &Analyzer{
	Rule: Rule{
		Code:  "0x2005",
		Name:  "iat-in-executable-section",
		Title: "import address table is in an executable section",
		Doc: "The loader writes the import address table (data directory 12, or the import descriptors' FirstThunk " +
			"arrays where that directory is empty) while binding the driver, and memory integrity never lets a page " +
			"be writable and executable; an IAT inside an executable section therefore cannot be bound and Windows " +
			"refuses the driver. The IAT counts as inside a section when any of its bytes lies in a page the loader " +
			"maps for that section: from the section's VirtualAddress to VirtualSize (or SizeOfRawData where that is " +
			"zero) rounded up to the section alignment (the 4 KiB page), since page permissions are per page.",
		Fix: "Do not merge the import data into code: remove /MERGE:.rdata=.text (or /MERGE:.idata=.text, or a linker " +
			"script that puts .idata in .text) so the IAT stays in a read-only data section.",
	},
	Run: runIATExec,
}

func runIATExec(p *Pass) error {
	ranges, fromDir, err := p.File.IATRanges()
	reported := map[int]bool{}
	for _, r := range ranges {
		if r.End <= r.Start {
			r.End = r.Start + 1
		}
		for i := range p.File.Sections {
			s := &p.File.Sections[i]
			if !s.Executable() || reported[i] || !overlapsMapped(s, r, p.File.Optional.SectionAlignment) {
				continue
			}
			reported[i] = true
			f := sectionFinding(p, i)
			f.RVA, f.RVAEnd = ptr(r.Start), ptr(r.End)
			f.Blocking = true
			src := "IAT directory"
			if !fromDir {
				src = "import address table (from the import descriptors; data directory 12 is empty)"
			}
			f.Message = fmt.Sprintf("the %s [0x%x, 0x%x) lies in executable section %q", src, r.Start, r.End, s.Name)
			f.Fix = fmt.Sprintf("/MERGE:.rdata=%s (or .idata) puts the IAT in %s: remove it", s.Name, s.Name)
			p.Report(f)
		}
	}
	return err
}

// overlapsMapped reports whether r overlaps the memory the loader maps for
// s: its VirtualSize (SizeOfRawData where that is zero) rounded up to the
// section alignment, which is the page in a page-aligned image. In an image
// aligned below a page, sections share pages; that is 0x2004's finding, and
// this check then looks at the section's own bytes only.
func overlapsMapped(s *peimage.Section, r peimage.Range, align uint32) bool {
	start := uint64(s.VirtualAddress)
	end := start + uint64(s.MappedSize(align))
	return uint64(r.Start) < end && uint64(r.End) > start
}
