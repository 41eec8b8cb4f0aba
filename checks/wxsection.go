package checks

import (
	"fmt"
	"strings"
)

// WritableExecutableSection is Driver Verifier's 0x2003: a section that is
// both executable and writable.
var WritableExecutableSection = &Analyzer{
	Rule: Rule{
		Code:  "0x2003",
		Name:  "writable-executable-section",
		Title: "section is both executable and writable",
		Doc: "A section header has both IMAGE_SCN_MEM_EXECUTE and IMAGE_SCN_MEM_WRITE. Memory integrity never lets a " +
			"kernel page be writable and executable at once, so Windows refuses to load such a driver with memory " +
			"integrity on, and Driver Verifier's code-integrity option bug-checks with 0xC4/0x2003. The one tolerated " +
			"case is a discardable section named INIT (Visual Studio 2013 and older marked it RWX): Windows 10 strips " +
			"its write permission at load, so it is reported but does not block memory integrity.",
		Fix: "Remove the linker option or #pragma that made the section RWE (/SECTION:name,RWE, " +
			"#pragma section(\"name\", execute, write)); keep code in read-execute sections and data in read-write ones.",
	},
	Run: runWritableExecutable,
}

func runWritableExecutable(p *Pass) error {
	const wx = 0x20000000 | 0x80000000
	for i := range p.File.Sections {
		s := &p.File.Sections[i]
		if s.Characteristics&wx != wx {
			continue
		}
		f := sectionFinding(p, i)
		f.Discardable = s.Discardable()
		f.Blocking = !isToleratedINIT(s.Name, s.Discardable())
		f.Message = fmt.Sprintf("section %q is executable and writable (characteristics 0x%08x)", s.Name, s.Characteristics)
		switch {
		case !f.Blocking:
			f.Message += "; it is the discardable INIT section, whose write permission Windows 10 removes at load, so it does not block memory integrity"
			f.Fix = "INIT was marked RWX by an old toolchain (Visual Studio 2013 or older): rebuild with a current WDK"
		case s.Discardable():
			f.Message += ", and discardable"
			f.Fix = fmt.Sprintf("linked with /SECTION:%s,RWE or a #pragma section with execute and write: drop the write (or execute) permission", s.Name)
		default:
			f.Fix = fmt.Sprintf("linked with /SECTION:%s,RWE or a #pragma section with execute and write: drop it", s.Name)
		}
		p.Report(f)
	}
	return nil
}

// isToleratedINIT reports whether a W+X section is the discardable INIT
// section that Windows 10 makes read-execute at load.
func isToleratedINIT(name string, discardable bool) bool {
	return discardable && strings.EqualFold(name, "INIT")
}

// sectionFinding fills the location fields of a finding about section i.
func sectionFinding(p *Pass, i int) Finding {
	s := &p.File.Sections[i]
	return Finding{
		Section:      s.Name,
		SectionIndex: ptr(i),
		HeaderOffset: ptr(s.HeaderOffset),
		Attributes:   ptr(s.Characteristics),
		RVA:          ptr(s.VirtualAddress),
	}
}
