package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/internal/pebuild"
	"github.com/hvcicheck/hvcicheck/peimage"
	"github.com/hvcicheck/hvcicheck/scan"
	"github.com/hvcicheck/hvcicheck/scan/scantest"
)

func htmlOf(t *testing.T, rs []scan.FileResult, s scan.Summary, opts HTMLOptions) string {
	t.Helper()
	var b bytes.Buffer
	runHandler(t, NewHTML(&b, Tool{Name: "hvcicheck", Version: "v1.2.3"}, opts), rs, s)
	return b.String()
}

// checkSelfContained fails the test if the page could fetch anything or run
// a script.
func checkSelfContained(t *testing.T, page string) {
	t.Helper()
	if !strings.Contains(page, `http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"`) {
		t.Error("no Content-Security-Policy")
	}
	for _, re := range []string{`(?i)<script`, `(?i)<link`, `(?i)<img`, `(?i)<iframe`, `(?i)<object`, `(?i)<embed`, `(?i)<[^>]*\ssrc=`, `(?i)href="(?:https?:|//|javascript:)`, `(?i)url\(`, `(?i)@import`, `(?i)<[^>]*\son[a-z]+=`} {
		if m := regexp.MustCompile(re).FindString(page); m != "" {
			t.Errorf("page has %q", m)
		}
	}
	if !utf8.ValidString(page) {
		t.Error("page is not valid UTF-8")
	}
}

func TestHTMLHostileStrings(t *testing.T) {
	evil := `<script>alert("x")</script>'"&` + "\xff\xfe\u202e\u2066\x1b[31m\x00"
	r := scan.FileResult{
		Path: "drivers/" + evil + ".sys", Machine: "x64", Kind: "kernel-driver", SHA256: strings.Repeat("ab", 32), Size: 4096,
		Version:      &peimage.VersionInfo{CompanyName: `"><img src=x onerror=alert(1)>`, ProductName: evil, FileDescription: "</dd></dl><script>", FileVersion: "1.0\u202e", OriginalFilename: "a\x00b", Error: "<b>bad</b>"},
		Authenticode: &peimage.AuthenticodeHashes{Error: "authenticode: <svg onload=alert(1)>"},
		Findings: []checks.Finding{
			{Code: "0x2003", Rule: "writable-executable-section", Message: "section " + evil, Fix: "<i>fix</i>" + evil, Blocking: true,
				Section: evil, SectionIndex: ref(0), HeaderOffset: ref(int64(0x178)), RVA: ref(uint32(0x1000))},
			{Code: "0x2000", Rule: "executable-pool-type", Message: "</pre><script>", API: "Ex<script>", FunctionName: "f\u202en", Function: ref(uint32(0x1000)),
				RVA: ref(uint32(0x1010)), FileOffset: ref(int64(0x410)), Tag: evil, Path: []string{"<a href=javascript:x>", "Ex" + evil}},
		},
		Anomalies: []string{"<style>body{display:none}</style>" + evil},
		Error:     "<marquee>",
	}
	rs := []scan.FileResult{r}
	page := htmlOf(t, rs, summaryOf(rs, checks.All()), HTMLOptions{})
	checkSelfContained(t, page)
	for _, bad := range []string{"<script>", "<img", "<svg onload", "<marquee>", "<style>body", "<i>fix", "\u202e", "\u2066", "\x1b", "\x00", "<a href=javascript", "</dd></dl><script>"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q unescaped", bad)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", `\xff\xfe\u202e\u2066\x1b[31m\x00`, "&lt;marquee&gt;", "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;", "&lt;i&gt;fix&lt;/i&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks the escaped %q", want)
		}
	}
	if strings.Count(page, "<section") != strings.Count(page, "</section>") || strings.Count(page, "<div") != strings.Count(page, "</div>") {
		t.Error("unbalanced sections or divs: something broke out of its element")
	}
}

func TestHTMLSummaryAndDetails(t *testing.T) {
	rs := results()
	rs[1].Version = &peimage.VersionInfo{CompanyName: "Contoso Ltd.", FileVersion: "10.0.1"}
	rs[1].Authenticode = &peimage.AuthenticodeHashes{SHA1: strings.Repeat("1", 40), SHA256: strings.Repeat("2", 64), Signed: true}
	page := htmlOf(t, rs, summaryOf(rs, checks.All()), HTMLOptions{})
	checkSelfContained(t, page)
	// Every file in the table; details only for files with something to say.
	for _, r := range rs {
		if !strings.Contains(page, ">"+strings.ReplaceAll(r.Path, "/", "/<wbr>")+"<") {
			t.Errorf("table lacks %s", r.Path)
		}
	}
	if n := strings.Count(page, `<section class="file"`); n != 4 {
		t.Errorf("%d file sections, want 4 (not the clean one)", n)
	}
	for _, want := range []string{
		"Contoso Ltd.", "10.0.1",
		`<span class="verdict bad">incompatible with memory integrity</span>`,
		`<span class="verdict err">not analysed</span>`,
		`<span class="verdict ok">no findings</span>`,
		`<th class="num" title="writable-executable-section: section is both executable and writable">0x2003</th>`,
		`<th class="num" title="page-crossing-relocation: base relocation target straddles a page boundary">reloc</th>`,
		"<b>1 is incompatible with memory integrity</b>",
		`<span class="badge">blocks memory integrity</span>`,
		"<b>Fix:</b> drop it",
		`call chain: <span class="hop mono">DriverEntry</span> → <span class="hop mono">Init</span>`,
		"fingerprint <span class=\"mono\">",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestHTMLRealImages renders the synthetic images with their files read
// again: the layout picture and the disassembly around the calls.
func TestHTMLRealImages(t *testing.T) {
	dir := writeImages(t)
	rs, sum := scanPaths(t, dir)
	page := htmlOf(t, rs, sum, HTMLOptions{ReadFiles: true})
	checkSelfContained(t, page)
	for _, want := range []string{
		`<svg xmlns="http://www.w3.org/2000/svg"`,
		`<rect class="sec wx"`, // the RWX section of rwx.sys
		`<rect class="iat"`,
		"holds the IAT",
		`class="sec x unaligned"`,
		"not page aligned",
		`<pre class="disasm">`,
		`<span class="cur">`,
		"call qword ptr [__imp_ExAllocatePoolWithTag]",
		"xor ecx, ecx",
		"Authenticode SHA-256",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "layout and disassembly not shown") {
		t.Error("a file could not be read again")
	}
	// A file changed since the scan is not shown as if it were the same.
	rs[0].SHA256 = strings.Repeat("0", 64)
	page = htmlOf(t, rs[:1], sum, HTMLOptions{ReadFiles: true})
	if !strings.Contains(page, "layout and disassembly not shown: the file changed since it was scanned") {
		t.Error("changed file not noticed")
	}
}

func TestHTMLWriteError(t *testing.T) {
	rs := results()
	h := NewHTML(failWriter{}, Tool{}, HTMLOptions{})
	for _, r := range rs {
		h.File(r)
	}
	if err := h.Finish(summaryOf(rs, nil)); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("error %v", err)
	}
}

func TestHTMLCorpus(t *testing.T) {
	corpus := filepath.Join("..", "..", "shared", "corpus")
	if _, err := os.Stat(corpus); err != nil {
		t.Skip("no shared corpus")
	}
	rs, sum := scanPaths(t, corpus, filepath.Join("..", "testdata", "drivers"))
	page := htmlOf(t, rs, sum, HTMLOptions{ReadFiles: true})
	checkSelfContained(t, page)
	if strings.Contains(page, "layout and disassembly not shown") || !strings.Contains(page, "__imp_ExAllocatePool") || !strings.Contains(page, "Kingsoft Corporation") {
		t.Error("corpus page lacks layouts, disassembly or version resources")
	}
}

// TestReportsOnMutants renders SARIF and HTML, with the files read again,
// for damaged variants of a driver with a call site: no panic, and the
// SARIF still validates.
func TestReportsOnMutants(t *testing.T) {
	dir := t.TempDir()
	seed := scantest.ExecutablePool().Bytes()
	n := 300
	if testing.Short() {
		n = 50
	}
	i := 0
	for m := range pebuild.Mutants(seed, 7, n) {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("m%03d.sys", i)), m.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		i++
	}
	rs, sum := scanPaths(t, dir)
	checkSelfContained(t, htmlOf(t, rs, sum, HTMLOptions{ReadFiles: true}))
	validateSARIF(t, "mutants", sarifOf(t, rs, sum, SARIFOptions{BaseDir: dir, ReadFiles: true}))
}
