package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/checks.md")

// TestChecksMarkdownUpToDate fails when docs/checks.md differs from what
// `hvcicheck rules --markdown` prints, e.g. after a rule's text changed.
func TestChecksMarkdownUpToDate(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "checks.md")
	want := rulesMarkdown()
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("docs/checks.md is out of date; regenerate it with\n\tgo run ./cmd/hvcicheck rules --markdown > docs/checks.md")
	}
}

func TestMarkdownHasEveryRuleAndExample(t *testing.T) {
	md := rulesMarkdown()
	for _, h := range []string{"## 0x2003 writable-executable-section", "## 0x2004 unaligned-section", "## 0x2005 iat-in-executable-section", "## page-crossing-relocation"} {
		i := strings.Index(md, h)
		if i < 0 {
			t.Errorf("no heading %q", h)
			continue
		}
		section := md[i:]
		if j := strings.Index(section[len(h):], "\n## "); j >= 0 {
			section = section[:len(h)+j]
		}
		if !strings.Contains(section, "```text\n") {
			t.Errorf("%s has no example output", h)
		}
	}
}

func TestWindowsDefaultRoots(t *testing.T) {
	var out, errb bytes.Buffer
	c := &cli{stdout: &out, stderr: &errb, goos: "windows", getenv: func(k string) string {
		if k == "SystemRoot" {
			return `Z:\Win`
		}
		return ""
	}}
	code := c.run(context.Background(), []string{"scan"})
	// Off Windows the folders do not exist: each is reported as an error.
	if code != exitError || !strings.Contains(out.String(), `Z:\Win\System32\drivers`) || !strings.Contains(out.String(), `Z:\Win\System32\DriverStore\FileRepository`) {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, &out, &errb)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"1024", 1024}, {"1K", 1 << 10}, {"512M", 512 << 20}, {"2G", 2 << 30}, {"3kb", 3 << 10}, {"4MiB", 4 << 20},
		{"", 0}, {"0", 0}, {"-1", 0}, {"1T", 0}, {"M", 0}, {"99999999999G", 0},
	}
	for _, tt := range tests {
		got, err := parseSize(tt.in)
		if got != tt.want || (err != nil) != (tt.want == 0) {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestParseInterleaved(t *testing.T) {
	tests := []struct {
		args      []string
		wantPaths []string
		wantFmt   string
		wantV     bool
	}{
		{[]string{"a", "b"}, []string{"a", "b"}, "text", false},
		{[]string{"--format", "json", "a"}, []string{"a"}, "json", false},
		{[]string{"a", "--format=jsonl", "b", "-v"}, []string{"a", "b"}, "jsonl", true},
		{[]string{"a", "--", "-v", "--format=json"}, []string{"a", "-v", "--format=json"}, "text", false},
		{[]string{"--", "-v"}, []string{"-v"}, "text", false},
		{nil, nil, "text", false},
	}
	for _, tt := range tests {
		var f scanFlags
		fs := (&cli{stderr: &bytes.Buffer{}}).scanFlagSet(&f)
		paths, err := parseInterleaved(fs, tt.args)
		if err != nil || !slices.Equal(paths, tt.wantPaths) || f.format != tt.wantFmt || f.verbose != tt.wantV {
			t.Errorf("%q: paths %q format %q v %v err %v", tt.args, paths, f.format, f.verbose, err)
		}
	}
}

func TestSplitListAndWrap(t *testing.T) {
	if got := splitList(" 0x2003, ,unaligned-section,"); !slices.Equal(got, []string{"0x2003", "unaligned-section"}) {
		t.Errorf("splitList: %q", got)
	}
	if got := wrap("aaa bbb ccc  ddd", 7); got != "aaa bbb\nccc ddd" {
		t.Errorf("wrap: %q", got)
	}
}

func TestHostileFileName(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "evil\x1b[2J\r.sys")
	if err := os.WriteFile(name, []byte("MZ junk"), 0o644); err != nil {
		t.Skipf("cannot create such a file name here: %v", err)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"scan", name}, &out, &errb)
	if code != exitError || strings.ContainsAny(out.String(), "\x1b\r") || !strings.Contains(out.String(), `evil\x1b[2J\r.sys`) {
		t.Errorf("exit %d, stdout %q", code, out.String())
	}
}

// TestTuneHeapPages checks that GODEBUG's disablethp=1 keeps the command
// from asking for huge pages, wherever it stands in the list.
func TestTuneHeapPages(t *testing.T) {
	for _, godebug := range []string{"disablethp=1", "gctrace=0,disablethp=1", "madvdontneed=1, disablethp=1"} {
		if tuneHeapPages(func(k string) string {
			if k == "GODEBUG" {
				return godebug
			}
			return ""
		}) {
			t.Errorf("GODEBUG=%q: asked for huge pages", godebug)
		}
	}
	asked := tuneHeapPages(func(string) string { return "" })
	if runtime.GOOS != "linux" && asked {
		t.Errorf("%s: want no huge-page advice outside Linux", runtime.GOOS)
	}
}
