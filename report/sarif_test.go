package report

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/scan"
	"github.com/hvcicheck/hvcicheck/scan/scantest"
)

const sarifSchemaPath = "../testdata/sarif/sarif-2.1.0.json"

// scanPaths scans paths with every rule and returns the results and the
// summary.
func scanPaths(t testing.TB, paths ...string) ([]scan.FileResult, scan.Summary) {
	t.Helper()
	s := &scan.Scanner{Analyzers: checks.All()}
	var rs []scan.FileResult
	sum, err := s.Scan(context.Background(), paths, func(r scan.FileResult) { rs = append(rs, r) })
	if err != nil {
		t.Fatal(err)
	}
	return rs, sum
}

// writeImages writes the synthetic images of scantest into a folder.
func writeImages(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, ex := range scantest.Examples() {
		if err := os.WriteFile(filepath.Join(dir, ex.File), ex.Image.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func sarifOf(t *testing.T, rs []scan.FileResult, s scan.Summary, opts SARIFOptions) []byte {
	t.Helper()
	var b bytes.Buffer
	runHandler(t, NewSARIF(&b, Tool{Name: "hvcicheck", Version: "v1.2.3"}, opts), rs, s)
	return b.Bytes()
}

func validateSARIF(t *testing.T, name string, doc []byte) {
	t.Helper()
	schema := loadSchema(t, sarifSchemaPath)
	if errs := validateJSON(schema, doc); len(errs) > 0 {
		if len(errs) > 20 {
			errs = errs[:20]
		}
		t.Errorf("%s: SARIF does not validate against the schema:\n%s", name, strings.Join(errs, "\n"))
	}
	multitoolValidate(t, name, doc)
}

// multitool finds Microsoft's SARIF multitool: $HVCICHECK_SARIF_MULTITOOL,
// or sarif-multitool / Sarif.Multitool on PATH (npm
// @microsoft/sarif-multitool).
func multitool() string {
	if p := os.Getenv("HVCICHECK_SARIF_MULTITOOL"); p != "" {
		return p
	}
	for _, n := range []string{"sarif-multitool", "Sarif.Multitool"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// multitoolValidate runs `Sarif.Multitool validate` where it is installed:
// it checks the schema and Microsoft's own rules; errors fail the test
// (warnings, such as the missing informationUri, do not).
func multitoolValidate(t *testing.T, name string, doc []byte) {
	t.Helper()
	tool := multitool()
	if tool == "" {
		return
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.sarif"), filepath.Join(dir, "out.sarif")
	if err := os.WriteFile(in, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := exec.Command(tool, "validate", "--output", out, in).CombinedOutput()
	if err != nil || bytes.Contains(b, []byte(": error ")) {
		t.Errorf("%s: multitool validate: %v\n%s", name, err, b)
	}
}

func TestSARIFMultitoolPresent(t *testing.T) {
	if multitool() == "" {
		t.Skip("SARIF multitool not installed (npm @microsoft/sarif-multitool, or set HVCICHECK_SARIF_MULTITOOL); the Go schema validator still runs")
	}
}

func TestSARIFValidatesSynthetic(t *testing.T) {
	rs := results()
	validateSARIF(t, "synthetic results", sarifOf(t, rs, summaryOf(rs, checks.All()), SARIFOptions{}))
	validateSARIF(t, "synthetic results, base dir", sarifOf(t, rs, summaryOf(rs, checks.All()), SARIFOptions{BaseDir: "/work/tree"}))
	validateSARIF(t, "no files", sarifOf(t, nil, scan.NewSummary(checks.All()), SARIFOptions{}))
}

func TestSARIFValidatesFixtures(t *testing.T) {
	dir := writeImages(t)
	rs, sum := scanPaths(t, dir)
	doc := sarifOf(t, rs, sum, SARIFOptions{BaseDir: dir, ReadFiles: true})
	validateSARIF(t, "scantest images", doc)
	drivers := filepath.Join("..", "testdata", "drivers")
	if _, err := os.Stat(drivers); err == nil {
		rs, sum := scanPaths(t, drivers)
		wd, _ := os.Getwd()
		validateSARIF(t, "testdata/drivers", sarifOf(t, rs, sum, SARIFOptions{BaseDir: filepath.Dir(wd), ReadFiles: true}))
	}
}

func TestSARIFValidatesCorpus(t *testing.T) {
	corpus := filepath.Join("..", "..", "shared", "corpus")
	if _, err := os.Stat(corpus); err != nil {
		t.Skip("no shared corpus")
	}
	rs, sum := scanPaths(t, corpus)
	validateSARIF(t, "corpus", sarifOf(t, rs, sum, SARIFOptions{ReadFiles: true}))
}

// decodeSARIF reads a log back into the handler's own structures.
func decodeSARIF(t *testing.T, doc []byte) sarifLog {
	t.Helper()
	var log sarifLog
	if err := json.Unmarshal(doc, &log); err != nil {
		t.Fatal(err)
	}
	return log
}

func TestSARIFStructure(t *testing.T) {
	dir := writeImages(t)
	rs, sum := scanPaths(t, dir)
	log := decodeSARIF(t, sarifOf(t, rs, sum, SARIFOptions{BaseDir: dir, ReadFiles: true}))
	if log.Version != "2.1.0" || len(log.Runs) != 1 {
		t.Fatalf("log %+v", log)
	}
	run := log.Runs[0]
	if run.Tool.Driver.Name != "hvcicheck" || len(run.Tool.Driver.Rules) != len(checks.All()) {
		t.Fatalf("driver %+v", run.Tool.Driver)
	}
	for i, a := range checks.All() {
		r := run.Tool.Driver.Rules[i]
		if r.ID != a.Name || r.ShortDescription.Text != a.Title || r.FullDescription.Text != a.Doc ||
			!strings.Contains(r.Help.Text, a.Fix) || r.DefaultConfiguration == nil || len(r.Properties.Tags) == 0 || r.Properties.Code != a.Code {
			t.Errorf("rule %d: %+v", i, r)
		}
	}
	if got := run.OriginalURIBaseIDs[SARIFBaseID].URI; !strings.HasPrefix(got, "file:///") || !strings.HasSuffix(got, "/") {
		t.Errorf("originalUriBaseIds %q", got)
	}
	byRule := map[string]sarifResult{}
	n := 0
	for _, r := range rs {
		n += len(r.Findings)
	}
	if len(run.Results) != n {
		t.Errorf("%d results for %d findings", len(run.Results), n)
	}
	for _, res := range run.Results {
		byRule[res.RuleID] = res
		loc := res.Locations[0].PhysicalLocation
		if loc.ArtifactLocation.URIBaseID != SARIFBaseID || strings.Contains(loc.ArtifactLocation.URI, "/") ||
			!strings.HasSuffix(loc.ArtifactLocation.URI, ".sys") || loc.ArtifactLocation.Index == nil {
			t.Errorf("%s: artifact location %+v", res.RuleID, loc.ArtifactLocation)
		}
		if res.PartialFingerprints[FingerprintKey] == "" || res.Message.Text == "" || res.RuleIndex < 0 {
			t.Errorf("%s: result %+v", res.RuleID, res)
		}
		if run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID {
			t.Errorf("%s: ruleIndex %d names %s", res.RuleID, res.RuleIndex, run.Tool.Driver.Rules[res.RuleIndex].ID)
		}
	}
	// A section rule: the 40-byte section header, the section's RVA.
	wx := byRule["writable-executable-section"]
	reg := wx.Locations[0].PhysicalLocation.Region
	if reg == nil || reg.ByteOffset == nil || *reg.ByteLength != 40 || wx.Level != "error" ||
		wx.Locations[0].PhysicalLocation.Address.Kind != "section" || wx.Locations[0].LogicalLocations[0].Kind != "section" {
		t.Errorf("0x2003 location %+v", wx.Locations[0])
	}
	// A call site: the call instruction (decoded length), the function.
	pool := byRule["executable-pool-type"]
	pl := pool.Locations[0].PhysicalLocation
	if pl.Region == nil || pl.Region.ByteOffset == nil || pl.Region.ByteLength == nil || *pl.Region.ByteLength != 6 ||
		pl.Address.Kind != "instruction" || pl.Address.RelativeAddress == nil || pool.Level != "warning" {
		t.Errorf("0x2000 location %+v region %+v address %+v", pool.Locations[0], pl.Region, pl.Address)
	}
	if ll := pool.Locations[0].LogicalLocations; len(ll) != 1 || ll[0].Kind != "function" {
		t.Errorf("0x2000 logical locations %+v", ll)
	}
	// Every file is an artifact with its hashes.
	if len(run.Artifacts) != len(rs) {
		t.Errorf("%d artifacts for %d files", len(run.Artifacts), len(rs))
	}
	for _, a := range run.Artifacts {
		if len(a.Hashes["sha-256"]) != 64 || a.Properties == nil || a.Properties.Authenticode == nil || len(a.Properties.Authenticode.SHA256) != 64 {
			t.Errorf("artifact %+v", a)
		}
	}
	if !run.Invocations[0].ExecutionSuccessful {
		t.Error("execution not successful")
	}
}

func TestSARIFErrorsAndLevels(t *testing.T) {
	rs := results()
	rs = append(rs, scan.FileResult{Path: "user.exe", Machine: "x64", Kind: "user-mode", Findings: []checks.Finding{{
		Code: "0x2003", Rule: "writable-executable-section", Message: "rwx", Blocking: true, Section: ".x", SectionIndex: ref(0), HeaderOffset: ref(int64(0x178)),
	}}})
	log := decodeSARIF(t, sarifOf(t, rs, summaryOf(rs, checks.All()), SARIFOptions{}))
	run := log.Runs[0]
	inv := run.Invocations[0]
	if inv.ExecutionSuccessful || len(inv.ToolExecutionNotifications) != 1 || inv.ToolExecutionNotifications[0].Message.Text != "not a PE image: no MZ header" {
		t.Errorf("invocation %+v", inv)
	}
	levels := map[string]string{}
	for _, r := range run.Results {
		levels[r.Locations[0].PhysicalLocation.ArtifactLocation.URI] = r.Level
	}
	if levels["z/rwx.sys"] != "error" || levels["user.exe"] != "note" || levels["c/reloc.sys"] != "warning" {
		t.Errorf("levels %v", levels)
	}
}

func TestSARIFURIs(t *testing.T) {
	h := &SARIF{opts: SARIFOptions{BaseDir: "/work/tree"}}
	for path, want := range map[string]sarifArtifactLocation{
		"drivers/a b.sys":       {URI: "drivers/a%20b.sys", URIBaseID: SARIFBaseID},
		"/work/tree/x/y.sys":    {URI: "x/y.sys", URIBaseID: SARIFBaseID},
		"/elsewhere/z.sys":      {URI: "file:///elsewhere/z.sys"},
		"../up.sys":             {URI: "file:///work/up.sys"},
		"c:colon.sys":           {URI: "./c:colon.sys", URIBaseID: SARIFBaseID},
		"odd#?%.sys":            {URI: "odd%23%3F%25.sys", URIBaseID: SARIFBaseID},
		"bad\xff\u202ename.sys": {URI: "bad%FF%E2%80%AEname.sys", URIBaseID: SARIFBaseID},
	} {
		if got := h.artifactLocation(path); got != want {
			t.Errorf("%q: %+v, want %+v", path, got, want)
		}
		// And back, as a baseline reads it.
		loc := h.artifactLocation(path)
		back, err := pathFromURI(&loc)
		if !filepath.IsAbs(path) && !strings.HasPrefix(path, "..") && (err != nil || back != filepath.Clean(path)) {
			t.Errorf("%q: back %q, %v", path, back, err)
		}
	}
	h = &SARIF{}
	if got := h.artifactLocation("rel/x.sys"); got.URIBaseID != SARIFBaseID || got.URI != "rel/x.sys" {
		t.Errorf("no base dir: %+v", got)
	}
	if got := h.artifactLocation("/abs/x.sys"); got.URI != "file:///abs/x.sys" {
		t.Errorf("no base dir, absolute: %+v", got)
	}
}
