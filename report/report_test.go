package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/scan"
)

func ptr[T any](v T) *T { return &v }

// results are a scan's results in the order they finished.
func results() []scan.FileResult {
	return []scan.FileResult{
		{Path: "z/rwx.sys", Machine: "x64", Kind: "kernel-driver", Findings: []checks.Finding{{
			Code: "0x2003", Rule: "writable-executable-section", Message: "section \"RWX\" is executable and writable", Fix: "drop it",
			Blocking: true, Section: "RWX", SectionIndex: ptr(3), HeaderOffset: ptr(int64(0x1c0)), RVA: ptr(uint32(0x4000)),
		}}},
		{Path: "a/clean.sys", Machine: "x64", Kind: "kernel-driver", Findings: []checks.Finding{}, SHA256: strings.Repeat("ab", 32), Size: 2048},
		{Path: "m/pool.sys", Machine: "arm64", Kind: "kernel-driver", Findings: []checks.Finding{{
			Code: "0x2001", Rule: "executable-pool", Message: "allocates executable pool",
			Function: ptr(uint32(0x1400)), Source: &checks.Source{File: `src\driver.c`, Line: 42}, RVA: ptr(uint32(0x1450)),
			API: "ExAllocatePoolWithTag", Value: ptr(uint64(0)), Certainty: "definite", Path: []string{"DriverEntry", "Init"},
		}}},
		{Path: "b/junk.bin", Findings: []checks.Finding{}, Error: "not a PE image: no MZ header"},
		{Path: "c/reloc.sys", Machine: "x86", Kind: "kernel-driver", Findings: []checks.Finding{{
			Rule: "page-crossing-relocation", Message: "4-byte relocation crosses", RVA: ptr(uint32(0x1ffe)), RVAEnd: ptr(uint32(0x2002)),
		}}, Anomalies: []string{"data-directory array has 6 entries"}},
	}
}

// imageRules are the image-layout rules, by name.
func imageRules() []*checks.Analyzer {
	var out []*checks.Analyzer
	for _, name := range []string{"writable-executable-section", "unaligned-section", "iat-in-executable-section", "page-crossing-relocation"} {
		if a := checks.Lookup(name); a != nil {
			out = append(out, a)
		}
	}
	return out
}

func summaryOf(rs []scan.FileResult, analyzers []*checks.Analyzer) scan.Summary {
	s := scan.NewSummary(analyzers)
	for _, r := range rs {
		s.Add(r)
	}
	return s
}

func runHandler(t *testing.T, h Handler, rs []scan.FileResult, s scan.Summary) {
	t.Helper()
	for _, r := range rs {
		if err := h.File(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Finish(s); err != nil {
		t.Fatal(err)
	}
}

func TestText(t *testing.T) {
	var b bytes.Buffer
	rs := results()
	runHandler(t, NewText(&b, TextOptions{}), rs, summaryOf(rs, imageRules()))
	out := b.String()
	wantLines := []string{
		"b/junk.bin: not analysed\n  error: not a PE image: no MZ header\n",
		"c/reloc.sys (x86, kernel-driver): 1 finding\n  - page-crossing-relocation at rva 0x1ffe-0x2002: 4-byte relocation crosses\n      fix: Keep pointers naturally aligned",
		"  note: data-directory array has 6 entries\n",
		"m/pool.sys (arm64, kernel-driver): 1 finding\n  0x2001 executable-pool at function 0x1400 (src\\driver.c:42), call 0x1450, api ExAllocatePoolWithTag, value 0x0, certainty definite, via DriverEntry > Init: allocates executable pool\n",
		"z/rwx.sys (x64, kernel-driver): incompatible with memory integrity, 1 finding\n  0x2003 writable-executable-section at section[3] \"RWX\", header 0x1c0, rva 0x4000: section \"RWX\" is executable and writable [blocks memory integrity]\n      fix: drop it\n",
		"Scanned 5 files: 4 PE images, 0 non-PE files skipped, 1 file could not be analysed.\n",
		"  0x2003  writable-executable-section  1 in 1 file\n",
		"  -       page-crossing-relocation     1 in 1 file\n",
		"  0x2001  executable-pool              1 in 1 file\n",
		"4 kernel-mode drivers scanned; 1 is incompatible with memory integrity:\n  z/rwx.sys\n",
		"1 kernel-mode driver has call-site findings (codes 0x2000-0x2002).\n",
	}
	for _, w := range wantLines {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q\noutput:\n%s", w, out)
		}
	}
	if strings.Contains(out, "clean.sys") || strings.Contains(out, "\x1b") {
		t.Errorf("clean file listed or colour used:\n%s", out)
	}
	if strings.Index(out, "b/junk.bin") > strings.Index(out, "c/reloc.sys") || strings.Index(out, "m/pool.sys") > strings.Index(out, "z/rwx.sys") {
		t.Errorf("files not sorted by path:\n%s", out)
	}
}

func TestTextVerboseAndColor(t *testing.T) {
	var b bytes.Buffer
	rs := results()
	runHandler(t, NewText(&b, TextOptions{Verbose: true, Color: true}), rs, summaryOf(rs, imageRules()[:1]))
	out := b.String()
	for _, w := range []string{
		"\x1b[1ma/clean.sys\x1b[0m (x64, kernel-driver): no findings\n  sha256 abab",
		"\x1b[31mincompatible with memory integrity\x1b[0m",
		"\x1b[31m0x2003 writable-executable-section\x1b[0m",
		"\x1b[2mfix: drop it\x1b[0m",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q\noutput:\n%s", w, out)
		}
	}
}

func TestTextNoCallSiteLineWithoutCallSiteRules(t *testing.T) {
	var b bytes.Buffer
	rs := results()[:2]
	runHandler(t, NewText(&b, TextOptions{}), rs, summaryOf(rs, imageRules()))
	if strings.Contains(b.String(), "call-site") {
		t.Errorf("call-site line without call-site rules:\n%s", b.String())
	}
}

func TestTextControlCharacters(t *testing.T) {
	r := scan.FileResult{Path: "evil\x1b]0;title\a.sys", Machine: "x64", Kind: "kernel-driver", Findings: []checks.Finding{{
		Code: "0x2003", Rule: "writable-executable-section", Section: "\x1b[31m\n", SectionIndex: ptr(0),
		Message: "section \x1b[2J is bad \u202e", Fix: "fix\r\nit", Blocking: true,
	}}, Anomalies: []string{"odd\x00"}}
	var b bytes.Buffer
	runHandler(t, NewText(&b, TextOptions{}), []scan.FileResult{r}, summaryOf([]scan.FileResult{r}, nil))
	out := b.String()
	if strings.ContainsAny(out, "\x1b\a\r\x00\u202e") {
		t.Errorf("raw control characters in output: %q", out)
	}
	for _, w := range []string{`evil\x1b]0;title\a.sys`, `section[0] "\x1b[31m\n"`, `section \x1b[2J is bad \u202e`, `fix\r\nit`, `odd\x00`} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestClean(t *testing.T) {
	tests := map[string]string{
		"plain.sys":      "plain.sys",
		"tab\there":      `tab\there`,
		"caf\u00e9":      "caf\u00e9",
		"bad\xffutf8":    `bad\xffutf8`,
		"real \ufffd ok": "real \ufffd ok",
		"c1 \u0085":      `c1 \u0085`,
		"del \x7f":       `del \x7f`,
		"ls \u2028":      `ls \u2028`,
	}
	for in, want := range tests {
		if got := clean(in); got != want {
			t.Errorf("clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestJSON(t *testing.T) {
	rs := results()
	var b1, b2 bytes.Buffer
	runHandler(t, NewJSON(&b1, Tool{Name: "hvcicheck", Version: "v1"}), rs, summaryOf(rs, imageRules()))
	rev := append([]scan.FileResult(nil), rs...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	runHandler(t, NewJSON(&b2, Tool{Name: "hvcicheck", Version: "v1"}), rev, summaryOf(rev, imageRules()))
	if b1.String() != b2.String() {
		t.Errorf("output depends on the order files finished:\n%s\n---\n%s", &b1, &b2)
	}
	var doc struct {
		Tool    Tool              `json:"tool"`
		Files   []scan.FileResult `json:"files"`
		Summary scan.Summary      `json:"summary"`
	}
	if err := json.Unmarshal(b1.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tool.Version != "v1" || len(doc.Files) != 5 || doc.Files[0].Path != "a/clean.sys" || doc.Summary.Incompatible != 1 {
		t.Errorf("document %+v", doc)
	}
	if !strings.Contains(b1.String(), `"findings": []`) || strings.Contains(b1.String(), `\u003e`) {
		t.Errorf("findings not an array, or HTML escaping:\n%s", &b1)
	}
}

func TestJSONEmpty(t *testing.T) {
	var b bytes.Buffer
	runHandler(t, NewJSON(&b, Tool{Name: "hvcicheck"}), nil, scan.NewSummary(nil))
	if !strings.Contains(b.String(), `"files": []`) || !strings.Contains(b.String(), `"incompatible_paths": []`) {
		t.Errorf("got %s", &b)
	}
}

// flushRecorder counts Flush calls and the bytes written before each.
type flushRecorder struct {
	bytes.Buffer
	flushedAt []int
}

func (f *flushRecorder) Flush() error {
	f.flushedAt = append(f.flushedAt, f.Len())
	return nil
}

func TestJSONLStreams(t *testing.T) {
	var w flushRecorder
	h := NewJSONL(&w)
	for i, r := range results() {
		if err := h.File(r); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(w.String(), "\n"); n != i+1 || len(w.flushedAt) != i+1 {
			t.Fatalf("after %d files: %d lines, %d flushes", i+1, n, len(w.flushedAt))
		}
	}
	before := w.Len()
	if err := h.Finish(scan.Summary{Findings: 3}); err != nil || w.Len() != before {
		t.Errorf("Finish wrote %q, err %v", w.String()[before:], err)
	}
	for _, line := range strings.Split(strings.TrimSpace(w.String()), "\n") {
		var r scan.FileResult
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.Path == "" || r.Findings == nil {
			t.Errorf("line %q: %+v, %v", line, r, err)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteErrors(t *testing.T) {
	rs := results()
	for name, h := range map[string]Handler{
		"text":  NewText(failWriter{}, TextOptions{}),
		"json":  NewJSON(failWriter{}, Tool{}),
		"jsonl": NewJSONL(failWriter{}),
	} {
		var err error
		for _, r := range rs {
			if err = h.File(r); err != nil {
				break
			}
		}
		if err == nil {
			err = h.Finish(summaryOf(rs, nil))
		}
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

func TestUseColor(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if UseColor(&bytes.Buffer{}, env(nil)) {
		t.Error("colour on a buffer")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if UseColor(f, env(nil)) {
		t.Error("colour on a regular file")
	}
	tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		return // no terminal here: nothing more to test
	}
	defer tty.Close()
	if !UseColor(tty, env(nil)) || UseColor(tty, env(map[string]string{"NO_COLOR": "1"})) || UseColor(tty, env(map[string]string{"TERM": "dumb"})) {
		t.Error("terminal: NO_COLOR or TERM=dumb not honoured")
	}
}

func TestWriteTextFile(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTextFile(&b, results()[0]); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[2], "      fix: ") {
		t.Errorf("got %q", lines)
	}
}

func TestTextNonKernelImage(t *testing.T) {
	r := scan.FileResult{Path: "app.dll", Machine: "x64", Kind: "user-mode", Findings: []checks.Finding{{
		Code: "0x2003", Rule: "writable-executable-section", Message: "rwx", Blocking: true,
	}}}
	var b bytes.Buffer
	if err := WriteTextFile(&b, r); err != nil {
		t.Fatal(err)
	}
	want := "app.dll (x64, user-mode): 1 finding (not a kernel-mode image: memory integrity does not govern it)\n  0x2003 writable-executable-section: rwx\n"
	if !strings.HasPrefix(b.String(), want) {
		t.Errorf("got %q\nwant prefix %q", b.String(), want)
	}
}
