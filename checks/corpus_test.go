package checks_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"testing"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// factsFile is what /work/shared/corpus/facts.json records of one file,
// read with pefile (the fields this test compares).
type factsFile struct {
	Machine             string         `json:"machine"`
	PE32Plus            bool           `json:"pe32plus"`
	SectionAlignment    string         `json:"section_alignment"`
	FileAlignment       string         `json:"file_alignment"`
	NumberOfRvaAndSizes uint32         `json:"number_of_rva_and_sizes"`
	EntryRVA            string         `json:"entry_rva"`
	ImageBase           string         `json:"image_base"`
	Subsystem           string         `json:"subsystem"`
	WDMDriverFlag       bool           `json:"wdm_driver_flag"`
	IATRVA              *string        `json:"iat_rva"` // null where the directory array has no entry 12
	IATSize             uint32         `json:"iat_size"`
	IATSection          *string        `json:"iat_section"`
	ImportDLLs          map[string]int `json:"import_dlls"`
	Sections            []factsSection `json:"sections"`
	SectionFindings     []factsFinding `json:"section_findings"`
}

type factsSection struct {
	Name            string `json:"name"`
	RVA             string `json:"rva"`
	VirtualSize     string `json:"vsize"`
	RawSize         string `json:"raw_size"`
	Characteristics string `json:"characteristics"`
}

type factsFinding struct {
	Code    string `json:"code"`
	Section string `json:"section"`
}

func (f factsFinding) String() string { return f.Code + ":" + f.Section }

// corpusRoot returns the shared corpus folder, ../shared/corpus from the
// module root, or "" where it is absent.
func corpusRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "shared", "corpus")
	if _, err := os.Stat(filepath.Join(dir, "facts.json")); err != nil {
		return ""
	}
	return dir
}

// loadFacts reads facts.json or skips the test where the corpus is absent.
func loadFacts(t *testing.T) (string, map[string]factsFile) {
	t.Helper()
	dir := corpusRoot()
	if dir == "" {
		t.Skip("the shared corpus (../shared/corpus) is absent")
	}
	b, err := os.ReadFile(filepath.Join(dir, "facts.json"))
	if err != nil {
		t.Fatal(err)
	}
	var facts struct {
		Files map[string]factsFile `json:"files"`
	}
	if err := json.Unmarshal(b, &facts); err != nil {
		t.Fatal(err)
	}
	if len(facts.Files) == 0 {
		t.Fatal("facts.json lists no files")
	}
	return dir, facts.Files
}

// hex parses a facts.json "0x…" number; a malformed one fails the test.
func hex(t *testing.T, s string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		t.Fatalf("facts.json number %q: %v", s, err)
	}
	return v
}

// TestCorpusFacts compares, for every file of the shared corpus, the headers
// peimage reads and the 0x2003/0x2004/0x2005 findings with facts.json.
func TestCorpusFacts(t *testing.T) {
	dir, files := loadFacts(t)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			ff := files[name]
			f := openCorpusFile(t, filepath.Join(dir, name))
			compareHeaders(t, f, ff)
			compareImports(t, f, ff)
			compareFindings(t, f, ff)
		})
	}
}

func openCorpusFile(t *testing.T, path string) *peimage.File {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := peimage.Parse(bytesReader(b), int64(len(b)), peimage.Limits{})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return f
}

// factsMachines maps pefile's machine names to peimage.MachineName's.
var factsMachines = map[string]string{"AMD64": "x64", "I386": "x86", "ARM64": "arm64"}

// factsSubsystems maps pefile's subsystem names to their numbers.
var factsSubsystems = map[string]uint16{"NATIVE": 1, "WINDOWS_GUI": 2, "WINDOWS_CUI": 3, "EFI_APPLICATION": 10, "EFI_BOOT_SERVICE_DRIVER": 11, "EFI_RUNTIME_DRIVER": 12}

func compareHeaders(t *testing.T, f *peimage.File, ff factsFile) {
	t.Helper()
	o := &f.Optional
	got := fmt.Sprintf("%s pe32+=%v align=0x%x/0x%x dirs=%d entry=0x%x base=0x%x subsystem=%d wdm=%v sections=%d",
		peimage.MachineName(f.Machine), f.Is64(), o.SectionAlignment, o.FileAlignment, o.NumberOfRvaAndSizes,
		o.AddressOfEntryPoint, o.ImageBase, o.Subsystem, o.DllCharacteristics&0x2000 != 0, len(f.Sections))
	want := fmt.Sprintf("%s pe32+=%v align=0x%x/0x%x dirs=%d entry=0x%x base=0x%x subsystem=%d wdm=%v sections=%d",
		factsMachines[ff.Machine], ff.PE32Plus, hex(t, ff.SectionAlignment), hex(t, ff.FileAlignment), ff.NumberOfRvaAndSizes,
		hex(t, ff.EntryRVA), hex(t, ff.ImageBase), factsSubsystems[ff.Subsystem], ff.WDMDriverFlag, len(ff.Sections))
	if got != want {
		t.Errorf("headers\n got %s\nwant %s", got, want)
	}
	for i := range min(len(f.Sections), len(ff.Sections)) {
		s, fs := &f.Sections[i], ff.Sections[i]
		got := fmt.Sprintf("%q va=0x%x vs=0x%x raw=0x%x c=0x%x", s.Name, s.VirtualAddress, s.VirtualSize, s.SizeOfRawData, s.Characteristics)
		want := fmt.Sprintf("%q va=0x%x vs=0x%x raw=0x%x c=0x%x", fs.Name, hex(t, fs.RVA), hex(t, fs.VirtualSize), hex(t, fs.RawSize), hex(t, fs.Characteristics))
		if got != want {
			t.Errorf("section %d\n got %s\nwant %s", i, got, want)
		}
	}
	compareIATDirectory(t, f, ff)
}

// compareIATDirectory compares data directory 12 and the section holding
// its start. facts.json has a null RVA where the array has no entry 12.
func compareIATDirectory(t *testing.T, f *peimage.File, ff factsFile) {
	t.Helper()
	d := f.Optional.DataDirectories[peimage.DirIAT]
	if ff.IATRVA == nil {
		if f.Optional.DirectoryCount > peimage.DirIAT || d != (peimage.DataDirectory{}) {
			t.Errorf("IAT directory %+v (count %d), facts.json has none", d, f.Optional.DirectoryCount)
		}
		return
	}
	if uint64(d.RVA) != hex(t, *ff.IATRVA) || d.Size != ff.IATSize {
		t.Errorf("IAT directory 0x%x+%d, facts.json 0x%s+%d", d.RVA, d.Size, *ff.IATRVA, ff.IATSize)
	}
	var got, want string
	if s := f.SectionOf(d.RVA); s != nil && d.RVA != 0 {
		got = s.Name
	}
	if ff.IATSection != nil {
		want = *ff.IATSection
	}
	if got != want {
		t.Errorf("IAT section %q, facts.json %q", got, want)
	}
}

// compareImports compares the imported DLLs and the functions per DLL.
func compareImports(t *testing.T, f *peimage.File, ff factsFile) {
	t.Helper()
	dlls, err := f.Imports()
	if err != nil {
		t.Errorf("imports: %v", err)
	}
	got := map[string]int{}
	for _, d := range dlls {
		got[d.Name] += len(d.Functions)
	}
	if fmt.Sprint(got) != fmt.Sprint(ff.ImportDLLs) {
		t.Errorf("imports\n got %v\nwant %v", got, ff.ImportDLLs)
	}
}

// compareFindings compares our 0x2003/0x2004/0x2005 findings (code and
// section name) with facts.json's section_findings, after the differences
// between facts.json's rules and ours, each derived from facts.json's own
// header data (see ourFindings).
func compareFindings(t *testing.T, f *peimage.File, ff factsFile) {
	t.Helper()
	fs, errs := checks.Run(f, []*checks.Analyzer{checks.WritableExecutableSection, checks.UnalignedSection, checks.IATInExecutableSection})
	if len(errs) != 0 {
		t.Errorf("errors: %v", errs)
	}
	var got []string
	for _, x := range fs {
		got = append(got, factsFinding{x.Code, x.Section}.String())
	}
	sort.Strings(got)
	if want := ourFindings(t, ff); !slices.Equal(got, want) {
		t.Errorf("findings\n got %q\nwant %q (facts.json: %q)", got, want, ff.SectionFindings)
	}
}

// ourFindings returns facts.json's findings adjusted to our rules, sorted.
// Where facts.json's rule differs from ours by design it first checks that
// facts.json's findings follow facts.json's stated rule, then replaces them
// by ours, computed from the same section table:
//
//   - 0x2004 in an image whose SectionAlignment is below 0x1000: facts.json
//     lists every section ("defensible", its description says); we list the
//     sections that are off a page boundary, or, where every section happens
//     to start on a page, one image-level finding (no section name).
//   - 0x2005: facts.json asks whether the IAT directory's first byte lies in
//     [VirtualAddress, VirtualAddress+max(VirtualSize, SizeOfRawData)) of an
//     executable section; we ask whether any byte of it lies in the pages
//     the loader maps for the section (VirtualSize rounded up to the section
//     alignment), since page permissions are per page. Where directory 12
//     is empty we fall back to the descriptors' FirstThunk arrays, which
//     facts.json does not record; its files without directory 12 import
//     nothing, which the test checks.
func ourFindings(t *testing.T, ff factsFile) []string {
	t.Helper()
	var stated, ours []string
	for _, x := range ff.SectionFindings {
		if x.Code == "0x2003" {
			stated, ours = append(stated, x.String()), append(ours, x.String())
		}
	}
	s04, o04 := unalignedByRules(t, ff)
	s05, o05 := iatExecByRules(t, ff)
	stated = append(append(stated, s04...), s05...)
	ours = append(append(ours, o04...), o05...)
	var listed []string
	for _, x := range ff.SectionFindings {
		listed = append(listed, x.String())
	}
	sort.Strings(listed)
	sort.Strings(stated)
	if !slices.Equal(listed, stated) {
		t.Errorf("facts.json's findings %q do not follow its stated rules (%q)", listed, stated)
	}
	sort.Strings(ours)
	return ours
}

// unalignedByRules returns the 0x2004 findings under facts.json's rule and
// under ours.
func unalignedByRules(t *testing.T, ff factsFile) (stated, ours []string) {
	t.Helper()
	low := hex(t, ff.SectionAlignment) < peimage.PageSize
	for _, s := range ff.Sections {
		x := factsFinding{"0x2004", s.Name}.String()
		if hex(t, s.RVA)%peimage.PageSize != 0 {
			stated, ours = append(stated, x), append(ours, x)
		} else if low {
			stated = append(stated, x)
		}
	}
	if low && len(ours) == 0 && len(ff.Sections) > 0 {
		ours = append(ours, factsFinding{"0x2004", ""}.String())
	}
	return stated, ours
}

// iatExecByRules returns the 0x2005 findings under facts.json's rule and
// under ours.
func iatExecByRules(t *testing.T, ff factsFile) (stated, ours []string) {
	t.Helper()
	if ff.IATRVA == nil || hex(t, *ff.IATRVA) == 0 || ff.IATSize == 0 {
		if len(ff.ImportDLLs) != 0 {
			t.Errorf("no IAT directory but imports %v: our descriptor fallback cannot be derived from facts.json", ff.ImportDLLs)
		}
		return nil, nil
	}
	start := hex(t, *ff.IATRVA)
	end := start + uint64(ff.IATSize)
	align := uint32(hex(t, ff.SectionAlignment))
	for _, fs := range ff.Sections {
		s := peimage.Section{VirtualAddress: uint32(hex(t, fs.RVA)), VirtualSize: uint32(hex(t, fs.VirtualSize)),
			SizeOfRawData: uint32(hex(t, fs.RawSize)), Characteristics: uint32(hex(t, fs.Characteristics))}
		if !s.Executable() {
			continue
		}
		x := factsFinding{"0x2005", fs.Name}.String()
		va := uint64(s.VirtualAddress)
		if start >= va && start < va+uint64(max(s.VirtualSize, s.SizeOfRawData)) {
			stated = append(stated, x)
		}
		if start < va+uint64(s.MappedSize(align)) && end > va {
			ours = append(ours, x)
		}
	}
	return stated, ours
}

// TestFactsRuleDifferences pins the two places where facts.json's rules and
// ours part, on made-up facts (the corpus itself has no such file): a
// SectionAlignment of 0x200 whose sections all start on a page, and an IAT
// just past .text's VirtualSize but inside its last page.
func TestFactsRuleDifferences(t *testing.T) {
	iat := "0x1f00"
	ff := factsFile{
		SectionAlignment: "0x200",
		IATRVA:           &iat,
		IATSize:          8,
		ImportDLLs:       map[string]int{"ntoskrnl.exe": 1},
		Sections: []factsSection{
			{Name: ".text", RVA: "0x1000", VirtualSize: "0xe00", RawSize: "0xe00", Characteristics: "0x60000020"},
			{Name: ".rdata", RVA: "0x2000", VirtualSize: "0x100", RawSize: "0x200", Characteristics: "0x40000040"},
		},
	}
	s04, o04 := unalignedByRules(t, ff)
	if want := []string{"0x2004:.text", "0x2004:.rdata"}; !slices.Equal(s04, want) || !slices.Equal(o04, []string{"0x2004:"}) {
		t.Errorf("0x2004: facts.json's rule %q (want %q), ours %q (want one image-level finding)", s04, want, o04)
	}
	ff.SectionAlignment = "0x1000" // .text's last page is [0x1000, 0x2000)
	s05, o05 := iatExecByRules(t, ff)
	if len(s05) != 0 || !slices.Equal(o05, []string{"0x2005:.text"}) {
		t.Errorf("0x2005: facts.json's rule %q (want none), ours %q (want .text)", s05, o05)
	}
}
