package checks_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/internal/pebuild"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// loc is the part of a finding the image-rule tests compare: rule,
// location, and the two verdict flags. -1 stands for an absent pointer.
type loc struct {
	Code, Section         string
	Index                 int
	RVA, RVAEnd           int64
	Blocking, Discardable bool
}

func (l loc) String() string {
	return fmt.Sprintf("{%s %q #%d [0x%x,0x%x) blocking=%v discardable=%v}", l.Code, l.Section, l.Index, l.RVA, l.RVAEnd, l.Blocking, l.Discardable)
}

// locOf projects f onto loc.
func locOf(f checks.Finding) loc {
	l := loc{Code: f.Code, Section: f.Section, Index: -1, RVA: -1, RVAEnd: -1, Blocking: f.Blocking, Discardable: f.Discardable}
	if f.SectionIndex != nil {
		l.Index = *f.SectionIndex
	}
	if f.RVA != nil {
		l.RVA = int64(*f.RVA)
	}
	if f.RVAEnd != nil {
		l.RVAEnd = int64(*f.RVAEnd)
	}
	return l
}

// imageRules are the analyzers of the image rules, in report order.
var imageRules = []*checks.Analyzer{
	checks.WritableExecutableSection,
	checks.UnalignedSection,
	checks.IATInExecutableSection,
	checks.PageCrossingRelocation,
}

// runOn builds im, parses it and runs the analyzers on it; a build or parse
// failure fails the test.
func runOn(t testing.TB, im *pebuild.Image, analyzers ...*checks.Analyzer) ([]checks.Finding, []error) {
	t.Helper()
	out, err := im.Build()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	f, err := peimage.Parse(bytes.NewReader(out.Bytes), int64(len(out.Bytes)), peimage.Limits{})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return checks.Run(f, analyzers)
}

// wantLocs runs one analyzer on im and compares the findings' locations
// with want; the analyzer must not fail.
func wantLocs(t *testing.T, a *checks.Analyzer, im *pebuild.Image, want ...loc) []checks.Finding {
	t.Helper()
	fs, errs := runOn(t, im, a)
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	var got []loc
	for _, f := range fs {
		got = append(got, locOf(f))
		if f.Rule != a.Name || f.Message == "" || f.Fix == "" {
			t.Errorf("finding %+v lacks its rule, message or fix", f)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings\n%v\nwant\n%v", got, want)
	}
	return fs
}

// driverWith is pebuild.Driver(machine) with extra sections after .data
// (each at the next page) and changed by edit (where not nil).
func driverWith(machine uint16, edit func(im *pebuild.Image), extra ...pebuild.Section) *pebuild.Image {
	im := pebuild.Driver(machine)
	im.Sections = append(im.Sections, extra...)
	if edit != nil {
		edit(im)
	}
	return im
}

// sec is a 0x100-byte section named name with characteristics c.
func sec(name string, c uint32) pebuild.Section {
	return pebuild.Section{Name: name, Characteristics: c, Data: make([]byte, 0x100)}
}

// secLoc is the location of a finding about section i at rva.
func secLoc(code, name string, i int, rva uint32, blocking, discardable bool) loc {
	return loc{Code: code, Section: name, Index: i, RVA: int64(rva), RVAEnd: -1, Blocking: blocking, Discardable: discardable}
}

// TestWritableExecutableSection covers 0x2003: W+X sections fire, W-only and
// X-only ones do not; a discardable INIT is reported without blocking, any
// other discardable W+X section blocks.
func TestWritableExecutableSection(t *testing.T) {
	a := checks.WritableExecutableSection
	const code = "0x2003"
	t.Run("clean driver", func(t *testing.T) { wantLocs(t, a, pebuild.Driver(pebuild.MachineAMD64)) })
	t.Run("W-only, X-only, CNT_CODE+W", func(t *testing.T) {
		wantLocs(t, a, driverWith(pebuild.MachineAMD64, nil,
			sec("WONLY", pebuild.ScnWrite), sec("XONLY", pebuild.ScnExecute),
			sec("CODEW", pebuild.ScnCode|pebuild.ScnRead|pebuild.ScnWrite)))
	})
	rwx := uint32(pebuild.RWX)
	fs := wantLocs(t, a, driverWith(pebuild.MachineAMD64, nil,
		sec("INIT", rwx|pebuild.ScnDiscardable), sec("PAGE", rwx|pebuild.ScnDiscardable),
		sec("RWX", rwx), sec("INIT", rwx), sec("", pebuild.ScnExecute|pebuild.ScnWrite)),
		secLoc(code, "INIT", 3, 0x4000, false, true),
		secLoc(code, "PAGE", 4, 0x5000, true, true),
		secLoc(code, "RWX", 5, 0x6000, true, false),
		secLoc(code, "INIT", 6, 0x7000, true, false), // not discardable: blocks
		secLoc(code, "", 7, 0x8000, true, false),
	)
	if len(fs) != 5 {
		return
	}
	wantText(t, fs[0].Message, `section "INIT" is executable and writable (characteristics 0xe2000020); it is the discardable INIT section`)
	wantText(t, fs[1].Message, `section "PAGE" is executable and writable (characteristics 0xe2000020), and discardable`)
	wantText(t, fs[2].Fix, "linked with /SECTION:RWX,RWE")
	if *fs[2].Attributes != rwx || *fs[2].HeaderOffset != 0x188+5*40 {
		t.Errorf("RWX finding: characteristics 0x%x, header offset 0x%x", *fs[2].Attributes, *fs[2].HeaderOffset)
	}
}

// wantText fails the test unless s contains sub.
func wantText(t *testing.T, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%q does not contain %q", s, sub)
	}
}

// lowAlign is an image aligned to align (sections and file) whose sections
// are .text at 0x1000 (0x80 bytes), .rdata (with the imports) right after
// it, .data, and one more page-aligned section at 0x4000.
func lowAlign(align uint32) *pebuild.Image {
	im := pebuild.Driver(pebuild.MachineAMD64)
	im.SectionAlignment, im.FileAlignment = align, align
	im.Relocs = nil
	im.Sections[0].VirtualAddress = 0x1000
	im.Sections[0].Data = im.Sections[0].Data[:0x80]
	im.Sections = append(im.Sections, pebuild.Section{Name: "PAGED", VirtualAddress: 0x4000, Characteristics: pebuild.Text, Data: make([]byte, 0x10)})
	return im
}

// TestUnalignedSection covers 0x2004: a section off a page boundary because
// of a low SectionAlignment, or placed there in a page-aligned image, and a
// low SectionAlignment whose sections all happen to start on a page (one
// image-level finding).
func TestUnalignedSection(t *testing.T) {
	a := checks.UnalignedSection
	const code = "0x2004"
	t.Run("clean driver", func(t *testing.T) { wantLocs(t, a, pebuild.Driver(pebuild.MachineAMD64)) })
	t.Run("SectionAlignment 0x2000", func(t *testing.T) {
		wantLocs(t, a, driverWith(pebuild.MachineAMD64, func(im *pebuild.Image) { im.SectionAlignment = 0x2000 }))
	})
	t.Run("VA 0x1080 with SectionAlignment 0x80", func(t *testing.T) {
		fs := wantLocs(t, a, lowAlign(0x80),
			secLoc(code, ".rdata", 1, 0x1080, true, false),
			secLoc(code, ".data", 2, 0x1200, true, false))
		if len(fs) > 0 {
			wantText(t, fs[0].Message, `section ".rdata" starts at RVA 0x1080, which is not a multiple of 0x1000, because the image's SectionAlignment is 0x80`)
			wantText(t, fs[0].Fix, "SectionAlignment 0x80")
		}
	})
	t.Run("SectionAlignment 0x200, every section on a page", func(t *testing.T) {
		im := driverWith(pebuild.MachineAMD64, func(im *pebuild.Image) { im.SectionAlignment = 0x200 })
		for i, va := range []uint32{0x1000, 0x2000, 0x3000} {
			im.Sections[i].VirtualAddress = va
		}
		im.Relocs = nil
		fs := wantLocs(t, a, im, loc{Code: code, Index: -1, RVA: -1, RVAEnd: -1, Blocking: true})
		if len(fs) > 0 {
			wantText(t, fs[0].Message, "the image's SectionAlignment is 0x200, below the 0x1000 page size")
		}
	})
	t.Run("section off a page in a page-aligned image", func(t *testing.T) {
		im := driverWith(pebuild.MachineAMD64, nil, pebuild.Section{Name: "ODD", VirtualAddress: 0x5080, Characteristics: pebuild.RData, Data: make([]byte, 16)})
		fs := wantLocs(t, a, im, secLoc(code, "ODD", 3, 0x5080, true, false))
		if len(fs) > 0 {
			wantText(t, fs[0].Fix, "the section header was placed off a page boundary")
		}
	})
	t.Run("no sections", func(t *testing.T) {
		wantLocs(t, a, &pebuild.Image{SectionAlignment: 0x200})
	})
}

// iatLoc is the location of a 0x2005 finding about section i for IAT range r.
func iatLoc(name string, i int, r pebuild.Range) loc {
	return loc{Code: "0x2005", Section: name, Index: i, RVA: int64(r.Start), RVAEnd: int64(r.End), Blocking: true}
}

// withIAT is the x64 driver whose IAT directory is [rva, rva+size).
func withIAT(rva, size uint32) *pebuild.Image {
	return driverWith(pebuild.MachineAMD64, func(im *pebuild.Image) {
		im.Directories[pebuild.DirIAT] = pebuild.DataDirectory{RVA: rva, Size: size}
	})
}

// TestIATInExecutableSection covers 0x2005: the IAT in .text or .rdata,
// from directory 12 or from the descriptors, and the page-extent rule at
// the end of .text (VirtualSize 0x180, raw data 0x200, its page ends at
// 0x2000): any IAT byte in [0x1000, 0x2000) counts as inside .text.
func TestIATInExecutableSection(t *testing.T) {
	a := checks.IATInExecutableSection
	inText := func(noDir bool) *pebuild.Image {
		return driverWith(pebuild.MachineAMD64, func(im *pebuild.Image) { im.ImportSection, im.NoIATDirectory = ".text", noDir })
	}
	// .text holds 0x180 bytes, so the IAT moved there starts at 0x1180.
	iat := pebuild.Range{Start: 0x1180, End: 0x11b0}
	cases := []struct {
		name string
		im   *pebuild.Image
		want []loc
		msg  string
	}{
		{name: "IAT in .rdata", im: pebuild.Driver(pebuild.MachineAMD64)},
		{name: "IAT in .rdata, PE32", im: pebuild.Driver(pebuild.MachineI386)},
		{name: "IAT in .text", im: inText(false), want: []loc{iatLoc(".text", 0, iat)}, msg: `the IAT directory [0x1180, 0x11b0) lies in executable section ".text"`},
		{
			name: "IAT directory empty: the descriptors' IAT in .text", im: inText(true),
			want: []loc{iatLoc(".text", 0, pebuild.Range{Start: 0x1180, End: 0x11a0})}, // one finding per section
			msg:  `the import address table (from the import descriptors; data directory 12 is empty) [0x1180, 0x11a0) lies in executable section ".text"`,
		},
		{name: "IAT directory empty: the descriptors' IAT in .rdata", im: driverWith(pebuild.MachineAMD64, func(im *pebuild.Image) { im.NoIATDirectory = true })},
		{name: "last byte of VirtualSize", im: withIAT(0x1178, 8), want: []loc{iatLoc(".text", 0, pebuild.Range{Start: 0x1178, End: 0x1180})}},
		{name: "just past VirtualSize", im: withIAT(0x1180, 8), want: []loc{iatLoc(".text", 0, pebuild.Range{Start: 0x1180, End: 0x1188})}},
		{name: "past the raw data, inside the last page", im: withIAT(0x1800, 8), want: []loc{iatLoc(".text", 0, pebuild.Range{Start: 0x1800, End: 0x1808})}},
		{name: "last byte of the page", im: withIAT(0x1fff, 8), want: []loc{iatLoc(".text", 0, pebuild.Range{Start: 0x1fff, End: 0x2007})}},
		{name: "first byte of the next page", im: withIAT(0x2000, 8)},
		{name: "ends where .text starts", im: withIAT(0xff8, 8)},
		{name: "ends on .text's first byte", im: withIAT(0xff8, 9), want: []loc{iatLoc(".text", 0, pebuild.Range{Start: 0xff8, End: 0x1001})}},
		{
			name: "spans two executable sections",
			im: driverWith(pebuild.MachineAMD64, func(im *pebuild.Image) {
				im.Directories[pebuild.DirIAT] = pebuild.DataDirectory{RVA: 0x2ff0, Size: 0x1020}
			}, sec("INIT", pebuild.Text|pebuild.ScnDiscardable)),
			// .text is not touched; .data is not executable; the INIT at 0x4000 is.
			want: []loc{iatLoc("INIT", 3, pebuild.Range{Start: 0x2ff0, End: 0x4010})},
		},
		{
			// Below a page the sections share pages (0x2004's finding);
			// this rule looks at .text's own bytes [0x1000, 0x1080).
			name: "SectionAlignment 0x80: IAT right after .text", im: lowAlign(0x80),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := wantLocs(t, a, c.im, c.want...)
			if c.msg != "" && len(fs) > 0 {
				wantText(t, fs[0].Message, c.msg)
			}
		})
	}
}

// TestIATInExecutableSectionError checks that an unreadable import table
// (with directory 12 empty) is reported as the rule's error, not as clean.
func TestIATInExecutableSectionError(t *testing.T) {
	im := driverWith(pebuild.MachineAMD64, func(im *pebuild.Image) {
		im.NoIATDirectory = true
		im.Directories[pebuild.DirImport] = pebuild.DataDirectory{RVA: 0x900000, Size: 40}
	})
	fs, errs := runOn(t, im, checks.IATInExecutableSection)
	if len(fs) != 0 || len(errs) != 1 {
		t.Fatalf("findings %v, errors %v", fs, errs)
	}
	wantText(t, errs[0].Error(), "iat-in-executable-section: import descriptor 0: RVA 0x900000 is in no section")
}

// relocLoc is the location of a page-crossing finding at rva, width w, in
// section i (-1 for none).
func relocLoc(name string, i int, rva, w uint32) loc {
	return loc{Section: name, Index: i, RVA: int64(rva), RVAEnd: int64(rva + w)}
}

// withRelocs is the driver for machine with .data mapped over a whole page
// (0x3000-0x3fff) and relocs.
func withRelocs(machine uint16, relocs ...pebuild.Reloc) *pebuild.Image {
	return driverWith(machine, func(im *pebuild.Image) {
		im.Sections[2].VirtualSize = 0x1000
		im.Relocs = relocs
	})
}

// TestPageCrossingRelocation covers relocations whose target straddles a
// page: DIR64 above page offset 0xFF8, HIGHLOW above 0xFFC.
func TestPageCrossingRelocation(t *testing.T) {
	a := checks.PageCrossingRelocation
	dir64, highlow := uint8(pebuild.RelDir64), uint8(pebuild.RelHighLow)
	t.Run("clean driver", func(t *testing.T) { wantLocs(t, a, pebuild.Driver(pebuild.MachineAMD64)) })
	t.Run("DIR64 at 0xFF8 and 0xFF9", func(t *testing.T) {
		fs := wantLocs(t, a, withRelocs(pebuild.MachineAMD64, pebuild.Reloc{RVA: 0x3ff8, Type: dir64}, pebuild.Reloc{RVA: 0x3ff9, Type: dir64}),
			relocLoc(".data", 2, 0x3ff9, 8))
		if len(fs) > 0 {
			wantText(t, fs[0].Message, "8-byte relocation at RVA 0x3ff9 crosses into the next page")
		}
	})
	t.Run("HIGHLOW at 0xFFC and 0xFFD", func(t *testing.T) {
		wantLocs(t, a, withRelocs(pebuild.MachineI386, pebuild.Reloc{RVA: 0x3ffc, Type: highlow}, pebuild.Reloc{RVA: 0x3ffd, Type: highlow}),
			relocLoc(".data", 2, 0x3ffd, 4))
	})
	t.Run("HIGHLOW at 0xFFF outside every section", func(t *testing.T) {
		wantLocs(t, a, withRelocs(pebuild.MachineI386, pebuild.Reloc{RVA: 0x1fff, Type: highlow}), relocLoc("", -1, 0x1fff, 4))
	})
	t.Run("more than 64", func(t *testing.T) {
		var relocs []pebuild.Reloc
		for page := uint32(0); page < 70; page++ {
			relocs = append(relocs, pebuild.Reloc{RVA: 0x10000 + page<<12 | 0xffc, Type: dir64})
		}
		fs, errs := runOn(t, withRelocs(pebuild.MachineAMD64, relocs...), a)
		if len(errs) != 0 || len(fs) != 65 {
			t.Fatalf("%d findings, errors %v; want 64 and a summary", len(fs), errs)
		}
		if fs[0].RVA == nil || *fs[0].RVA != 0x10ffc || fs[63].RVA == nil || *fs[63].RVA != 0x4fffc {
			t.Errorf("first and last listed: %v, %v", locOf(fs[0]), locOf(fs[63]))
		}
		if s := fs[64]; s.Message != "6 more page-crossing relocations not listed, the first at RVA 0x50ffc" || s.RVA == nil || *s.RVA != 0x50ffc {
			t.Errorf("summary %+v", s)
		}
	})
}

// TestRunOrderAndErrors runs the image analyzers on an image with a finding for
// each and a broken relocation directory: findings come in rule order, and
// the broken directory is an error of its rule only.
func TestRunOrderAndErrors(t *testing.T) {
	im := withRelocs(pebuild.MachineAMD64, pebuild.Reloc{RVA: 0x3ffc, Type: pebuild.RelDir64})
	im.ImportSection = ".text"
	im.Sections[0].Characteristics |= pebuild.ScnWrite
	im.Sections = append(im.Sections, pebuild.Section{Name: "ODD", VirtualAddress: 0x8080, Characteristics: pebuild.RData, Data: make([]byte, 16)})
	fs, errs := runOn(t, im, imageRules...)
	var codes []string
	for _, f := range fs {
		codes = append(codes, f.Code+"/"+f.Rule)
	}
	want := []string{"0x2003/writable-executable-section", "0x2004/unaligned-section", "0x2005/iat-in-executable-section", "/page-crossing-relocation"}
	if len(errs) != 0 || !slices.Equal(codes, want) {
		t.Errorf("findings %q, errors %v; want %q", codes, errs, want)
	}

	bad := pebuild.Driver(pebuild.MachineAMD64)
	bad.Directories[pebuild.DirBaseReloc] = pebuild.DataDirectory{RVA: 0x2000, Size: 8} // .rdata's 0x11 bytes
	fs, errs = runOn(t, bad, imageRules...)
	if len(fs) != 0 || len(errs) != 1 {
		t.Fatalf("findings %v, errors %v", fs, errs)
	}
	wantText(t, errs[0].Error(), "page-crossing-relocation: base relocation block at directory offset 0x0 has size 286331153")
}

// bytesReader returns a reader of b.
func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// TestMalformedSampleFindings pins the image-rule findings and errors of
// the samples in testdata/malformed (listed in its README) that parse.
func TestMalformedSampleFindings(t *testing.T) {
	cases := map[string]struct {
		want []loc
		err  string
	}{
		"empty-name-rwx.sys":       {want: []loc{secLoc("0x2003", "", 0, 0x1000, true, false)}},
		"iat-past-virtualsize.sys": {want: []loc{iatLoc(".text", 0, pebuild.Range{Start: 0x1fff, End: 0x2007})}},
		"reloc-block-size-0.sys":   {err: "page-crossing-relocation: base relocation block at directory offset 0x0 has size 0"},
		"dirs-12-of-16.sys":        {},
		"pe32-magic-on-x64.sys":    {},
		"no-sections.sys":          {},
		"ilt-unterminated.sys":     {},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("..", "testdata", "malformed", name))
			if err != nil {
				t.Fatal(err)
			}
			f, err := peimage.Parse(bytesReader(b), int64(len(b)), peimage.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			fs, errs := checks.Run(f, imageRules)
			var got []loc
			for _, x := range fs {
				got = append(got, locOf(x))
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("findings %v, want %v", got, c.want)
			}
			if c.err == "" && len(errs) != 0 || c.err != "" && (len(errs) != 1 || !strings.Contains(errs[0].Error(), c.err)) {
				t.Errorf("errors %v, want %q", errs, c.err)
			}
		})
	}
}
