package checks_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/peimage"
)

var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/corpus_callsites.golden from the current analysis")

// goldenPath holds the call-site findings on ../shared/corpus, one line per
// finding, reviewed by hand (spot-checked against llvm-objdump -d; see the
// note at its top). A change in the analysis that changes a line must be
// looked at, then accepted with -update-golden.
const goldenPath = "testdata/corpus_callsites.golden"

// TestCorpusCallSites runs the call-site rules over every corpus image and
// compares the findings with the golden file: no crash, no error, and no
// unreviewed change.
func TestCorpusCallSites(t *testing.T) {
	dir := corpusRoot()
	if dir == "" {
		t.Skip("the shared corpus (../shared/corpus) is absent")
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths)
	rules := []*checks.Analyzer{checks.ExecutablePoolType, checks.ExecutableProtection, checks.ExecutableMDLMapping}
	var lines []string
	for _, p := range paths {
		if strings.HasSuffix(p, ".json") || strings.HasSuffix(p, ".md") {
			continue
		}
		lines = append(lines, corpusFileLines(t, dir, p, rules)...)
	}
	got := strings.Join(lines, "\n") + "\n"
	if *updateGolden {
		if err := os.WriteFile(goldenPath, []byte(goldenHeader+got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	if w := strings.TrimPrefix(string(want), goldenHeader); w != got {
		t.Errorf("call-site findings on the corpus changed; review the difference, then run go test ./checks -run TestCorpusCallSites -update-golden\n%s", lineDiff(w, got))
	}
}

const goldenHeader = `# Call-site findings (0x2000-0x2002) of hvcicheck on ../shared/corpus:
# file code api rva value certainty [path]. Reviewed by hand; spot-checked
# against llvm-objdump -d (e.g. CcProtect ZwAllocateVirtualMemory 0xfd57:
# mov dword [rsp+0x28], 0x40; UnknownKiller MmMapLockedPagesSpecifyCache
# 0x3f1b: KernelMode, priority 16; K7RKScan_1516 ExAllocatePoolWithTag
# 0x1ae6: ecx = NonPagedPoolCacheAligned).
`

func corpusFileLines(t *testing.T, dir, path string, rules []*checks.Analyzer) []string {
	t.Helper()
	rel, _ := filepath.Rel(dir, path)
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		t.Fatal(err)
	}
	f, err := peimage.Parse(fh, st.Size(), peimage.Limits{})
	if err != nil {
		return []string{fmt.Sprintf("%s error %v", rel, err)}
	}
	findings, errs := checks.Run(f, rules)
	var out []string
	for _, e := range errs {
		out = append(out, fmt.Sprintf("%s error %v", rel, e))
	}
	for _, fd := range findings {
		v := "-"
		if fd.Value != nil {
			v = fmt.Sprintf("%#x", *fd.Value)
		}
		line := fmt.Sprintf("%s %s %s %#x %s %s", rel, fd.Code, fd.API, *fd.RVA, v, fd.Certainty)
		if len(fd.Path) > 0 {
			line += " " + strings.Join(fd.Path, ">")
		}
		out = append(out, line)
	}
	return out
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	return b.String()
}
