package report

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/scan"
	"github.com/hvcicheck/hvcicheck/scan/scantest"
)

func TestFingerprintRecipe(t *testing.T) {
	call := checks.Finding{Code: "0x2000", Rule: "executable-pool-type", API: "ExAllocatePoolWithTag", Value: ref(uint64(0)),
		Function: ref(uint32(0x1400)), FunctionName: "Init", RVA: ref(uint32(0x1450)), FileOffset: ref(int64(0x850)),
		Message: "at 0x1450", Path: []string{"Init@1450", "sub_1200@1210", "ExAllocatePoolWithTag"}}
	base := Fingerprints(scan.FileResult{Findings: []checks.Finding{call}})[0]
	moved := call
	moved.Function, moved.RVA, moved.FileOffset, moved.Message = ref(uint32(0x2400)), ref(uint32(0x2470)), ref(int64(0x1870)), "at 0x2470"
	moved.Path = []string{"Init@2470", "sub_2200@2213", "ExAllocatePoolWithTag"}
	if got := Fingerprints(scan.FileResult{Findings: []checks.Finding{moved}})[0]; got != base {
		t.Errorf("moved call: %s, want %s", got, base)
	}
	for name, mut := range map[string]func(*checks.Finding){
		"value":    func(f *checks.Finding) { f.Value = ref(uint64(0x200)) },
		"api":      func(f *checks.Finding) { f.API = "ExAllocatePool" },
		"function": func(f *checks.Finding) { f.FunctionName = "Other" },
		"chain":    func(f *checks.Finding) { f.Path = []string{"Init@1450", "Wrap@1210", "ExAllocatePoolWithTag"} },
		"rule":     func(f *checks.Finding) { f.Rule = "executable-page-protection" },
	} {
		f := call
		mut(&f)
		if got := Fingerprints(scan.FileResult{Findings: []checks.Finding{f}})[0]; got == base {
			t.Errorf("%s changed but the fingerprint did not", name)
		}
	}
	sec := checks.Finding{Rule: "writable-executable-section", Section: "RWX", SectionIndex: ref(3), HeaderOffset: ref(int64(0x1c0)), RVA: ref(uint32(0x4000))}
	sec2 := sec
	sec2.SectionIndex, sec2.HeaderOffset, sec2.RVA = ref(5), ref(int64(0x210)), ref(uint32(0x9000))
	fs := Fingerprints(scan.FileResult{Findings: []checks.Finding{sec, sec2, call, call}})
	if fs[0] == fs[1] || strings.TrimSuffix(fs[0], ":1") != strings.TrimSuffix(fs[1], ":2") {
		t.Errorf("same section twice: %v", fs[:2])
	}
	if !strings.HasSuffix(fs[2], ":1") || !strings.HasSuffix(fs[3], ":2") {
		t.Errorf("same call twice: %v", fs[2:])
	}
}

// TestFingerprintStableAcrossRebuild scans a driver, then the same driver
// with code inserted before the call and another import added: the call
// moves, the fingerprint stays.
func TestFingerprintStableAcrossRebuild(t *testing.T) {
	s := &scan.Scanner{Analyzers: checks.All()}
	analyze := func(im scantest.Image) scan.FileResult {
		b := im.Bytes()
		return s.Analyze(context.Background(), "drv.sys", bytes.NewReader(b), int64(len(b)))
	}
	a := analyze(scantest.ExecutablePool())
	im := scantest.ExecutablePool()
	im.Imports[0].Functions = append([]string{"DbgPrint"}, im.Imports[0].Functions...)
	inner := im.Code
	im.Code = func(va uint32, slot func(string) uint32) []byte {
		pad := bytes.Repeat([]byte{0x90}, 0x40)
		return append(pad, inner(va+0x40, slot)...)
	}
	b := analyze(im)
	if len(a.Findings) != 1 || len(b.Findings) != 1 || *a.Findings[0].RVA == *b.Findings[0].RVA {
		t.Fatalf("findings %+v / %+v", a.Findings, b.Findings)
	}
	if fa, fb := Fingerprints(a), Fingerprints(b); fa[0] != fb[0] {
		t.Errorf("fingerprint changed when the call moved: %s -> %s", fa[0], fb[0])
	}
}

func jsonReport(t *testing.T, rs []scan.FileResult) []byte {
	var b bytes.Buffer
	runHandler(t, NewJSON(&b, Tool{Name: "hvcicheck"}), rs, summaryOf(rs, checks.All()))
	return b.Bytes()
}

// filterRun runs rs through a baseline filter into a JSON handler and
// returns the filter and the JSON document.
func filterRun(t *testing.T, base *Baseline, rs []scan.FileResult) (*BaselineFilter, document) {
	var b bytes.Buffer
	f := NewBaselineFilter(NewJSON(&b, Tool{Name: "hvcicheck"}), base)
	runHandler(t, f, rs, summaryOf(rs, checks.All()))
	var doc document
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	return f, doc
}

func readBaselineBytes(t *testing.T, data []byte) *Baseline {
	t.Helper()
	b, err := ReadBaseline(bytes.NewReader(data), "base.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBaselineJSON(t *testing.T) {
	rs := results()
	base := readBaselineBytes(t, jsonReport(t, rs))
	f, doc := filterRun(t, base, results())
	if st := f.Stats(); st.New != 0 || st.Suppressed != 3 || st.Gone != 0 || st.FilesNotScanned != 0 {
		t.Errorf("same scan: %+v", st)
	}
	if doc.Summary.Findings != 0 || doc.Summary.Incompatible != 0 || doc.Baseline == nil || doc.Baseline.Suppressed != 3 {
		t.Errorf("summary %+v baseline %+v", doc.Summary, doc.Baseline)
	}
	if doc.Summary.FilesSeen != 5 || doc.Summary.KernelDrivers != 4 {
		t.Errorf("walk counts lost: %+v", doc.Summary)
	}

	// A new finding in z/rwx.sys, a fixed one in c/reloc.sys.
	now := results()
	now[0].Findings = append(now[0].Findings, checks.Finding{Code: "0x2004", Rule: "unaligned-section", Section: ".text", SectionIndex: ref(0), Blocking: true, Message: "unaligned"})
	now[4].Findings = nil
	f, doc = filterRun(t, base, now)
	if st := f.Stats(); st.New != 1 || st.Suppressed != 2 || st.Gone != 1 {
		t.Errorf("changed scan: %+v", st)
	}
	if doc.Summary.Findings != 1 || doc.Summary.Incompatible != 1 || len(doc.Files[4].Findings) != 1 || doc.Files[4].Findings[0].Rule != "unaligned-section" {
		t.Errorf("changed scan: summary %+v files %+v", doc.Summary, doc.Files)
	}
	if f.Summary().Findings != 1 {
		t.Errorf("filter summary %+v", f.Summary())
	}
}

func TestBaselineMatchesMovedFileBySHA256(t *testing.T) {
	rs := results()
	rs[0].SHA256 = strings.Repeat("cd", 32)
	base := readBaselineBytes(t, jsonReport(t, rs))
	moved := results()
	moved[0].SHA256 = rs[0].SHA256
	moved[0].Path = "renamed/rwx.sys"
	f, _ := filterRun(t, base, moved[:1])
	if st := f.Stats(); st.Suppressed != 1 || st.New != 0 || st.FilesNotScanned != 2 {
		t.Errorf("moved file: %+v", st)
	}
}

// TestBaselineWithoutHashes: a report without hashes (a scan of image rules
// only) is matched by path, as baseline and as new scan alike.
func TestBaselineWithoutHashes(t *testing.T) {
	hashed := results()
	for i := range hashed {
		hashed[i].SHA256 = strings.Repeat(string(rune('a'+i)), 64)
	}
	unhashed := results()
	for i := range unhashed {
		unhashed[i].SHA256 = ""
	}
	for name, run := range map[string][2][]scan.FileResult{"hashed baseline": {hashed, unhashed}, "unhashed baseline": {unhashed, hashed}, "neither": {unhashed, unhashed}} {
		base := readBaselineBytes(t, jsonReport(t, run[0]))
		f, _ := filterRun(t, base, run[1])
		if st := f.Stats(); st.New != 0 || st.Suppressed != 3 || st.Gone != 0 || st.FilesNotScanned != 0 {
			t.Errorf("%s: %+v", name, st)
		}
	}
}

func TestBaselineSARIF(t *testing.T) {
	rs := results()
	doc := sarifOf(t, rs, summaryOf(rs, checks.All()), SARIFOptions{BaseDir: "/work/tree"})
	base, err := ReadBaseline(bytes.NewReader(doc), "base.sarif")
	if err != nil {
		t.Fatal(err)
	}
	now := results()
	now[2].Findings = append(now[2].Findings, now[2].Findings[0]) // the same call twice: the second is new
	f, _ := filterRun(t, base, now)
	if st := f.Stats(); st.New != 1 || st.Suppressed != 3 || st.Gone != 0 {
		t.Errorf("SARIF baseline: %+v", st)
	}
}

// TestBaselineKeepsFingerprints checks that a filtered SARIF log gives each
// new finding the fingerprint it has in an unfiltered one (its rank among
// like findings counted before filtering).
func TestBaselineKeepsFingerprints(t *testing.T) {
	one := results()[2:3]
	base := readBaselineBytes(t, jsonReport(t, one))
	now := results()[2:3]
	now[0].Findings = append(now[0].Findings, now[0].Findings[0])
	want := Fingerprints(now[0])[1]
	var b bytes.Buffer
	sh := NewSARIF(&b, Tool{Name: "hvcicheck"}, SARIFOptions{})
	runHandler(t, NewBaselineFilter(sh, base), now, summaryOf(now, checks.All()))
	log := decodeSARIF(t, b.Bytes())
	res := log.Runs[0].Results
	if len(res) != 1 || res[0].PartialFingerprints[FingerprintKey] != want || res[0].BaselineState != "new" {
		t.Errorf("results %+v, want fingerprint %s", res, want)
	}
	if log.Runs[0].Properties["baseline"] == nil {
		t.Error("no baseline statistics in the run's properties")
	}
}

func TestBaselineText(t *testing.T) {
	rs := results()
	base := readBaselineBytes(t, jsonReport(t, rs[:2]))
	var b bytes.Buffer
	runHandler(t, NewBaselineFilter(NewText(&b, TextOptions{}), base), rs, summaryOf(rs, checks.All()))
	if !strings.Contains(b.String(), "Baseline base.json: 2 new findings, 1 finding suppressed (already in the baseline), 0 baseline findings gone since.") {
		t.Errorf("text:\n%s", &b)
	}
}

func TestReadBaselineErrors(t *testing.T) {
	for name, in := range map[string]string{
		"not JSON":          "hello",
		"neither":           `{"tool": {}}`,
		"other tool":        `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "binskim"}}, "results": []}]}`,
		"no fingerprint":    `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "hvcicheck"}}, "results": [{"message": {"text": "m"}, "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.sys"}}}]}]}]}`,
		"no location":       `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "hvcicheck"}}, "results": [{"message": {"text": "m"}, "partialFingerprints": {"hvcicheck/v1": "x:1"}}]}]}`,
		"files not a list":  `{"files": 3}`,
		"uri not a path":    `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "hvcicheck"}}, "results": [{"message": {"text": "m"}, "partialFingerprints": {"hvcicheck/v1": "x:1"}, "locations": [{"physicalLocation": {"artifactLocation": {"uri": "https://example.com/a.sys"}}}]}]}]}`,
		"truncated":         `{"files": [`,
		"artifact index -1": ``,
	} {
		if in == "" {
			continue
		}
		if _, err := ReadBaseline(strings.NewReader(in), name); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// A hostile artifact index is ignored, not a panic.
	in := `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "hvcicheck"}}, "results": [{"message": {"text": "m"}, "partialFingerprints": {"hvcicheck/v1": "x:1"}, "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.sys", "index": 99}}}]}]}]}`
	b, err := ReadBaseline(strings.NewReader(in), "x")
	if err != nil || b.byPath["a.sys"] == nil || !slices.Contains(mapKeys(b.byPath["a.sys"].prints), "x:1") {
		t.Errorf("hostile index: %v %+v", err, b)
	}
}

func mapKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
