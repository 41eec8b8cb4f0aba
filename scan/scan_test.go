package scan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/peimage"
	"github.com/hvcicheck/hvcicheck/scan/scantest"
)

// imageRules are the image-layout rules, whose findings the synthetic
// images of scantest are built to trigger.
func imageRules(t *testing.T) []*checks.Analyzer {
	t.Helper()
	var out []*checks.Analyzer
	for _, name := range []string{"writable-executable-section", "unaligned-section", "iat-in-executable-section", "page-crossing-relocation"} {
		a := checks.Lookup(name)
		if a == nil {
			t.Fatalf("no rule %s", name)
		}
		out = append(out, a)
	}
	return out
}

// writeFiles creates files (path relative to dir -> contents) and returns dir.
func writeFiles(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// scanAll runs a scan and returns its results keyed by path relative to
// base (slash-separated) and the summary.
func scanAll(t *testing.T, s *Scanner, base string, roots ...string) (map[string]FileResult, Summary) {
	t.Helper()
	got := map[string]FileResult{}
	sum, err := s.Scan(context.Background(), roots, func(r FileResult) {
		rel, err := filepath.Rel(base, r.Path)
		if err != nil {
			rel = r.Path
		}
		rel = filepath.ToSlash(rel)
		if _, dup := got[rel]; dup {
			t.Errorf("%s emitted twice", rel)
		}
		got[rel] = r
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return got, sum
}

func codes(r FileResult) []string {
	var out []string
	for _, f := range r.Findings {
		c := f.Code
		if c == "" {
			c = f.Rule
		}
		out = append(out, c)
	}
	return out
}

func TestScanFolder(t *testing.T) {
	dir := writeFiles(t, map[string][]byte{
		"clean.sys":          scantest.Driver().Bytes(),
		"rwx.sys":            scantest.WritableExecutable().Bytes(),
		"sub/align.sys":      scantest.Unaligned().Bytes(),
		"sub/iat.sys":        scantest.IATInCode().Bytes(),
		"sub/deep/reloc.sys": scantest.PageCrossingReloc().Bytes(),
		"init.sys":           scantest.ToleratedINIT().Bytes(),
		"readme.txt":         []byte("not a driver"),
		"empty.sys":          nil,
		"mz.bin":             []byte("MZ but nothing else"),
	})
	for _, workers := range []int{1, 3, 0} {
		s := &Scanner{Analyzers: imageRules(t), Workers: workers}
		got, sum := scanAll(t, s, dir, dir)
		want := map[string][]string{
			"clean.sys":          nil,
			"rwx.sys":            {"0x2003"},
			"sub/align.sys":      {"0x2004", "0x2004", "0x2004"},
			"sub/iat.sys":        {"0x2005"},
			"sub/deep/reloc.sys": {"page-crossing-relocation"},
			"init.sys":           {"0x2003"},
		}
		if len(got) != len(want) {
			t.Errorf("workers=%d: got results for %v, want %d files", workers, keys(got), len(want))
		}
		for name, wantCodes := range want {
			r, ok := got[name]
			if !ok {
				t.Errorf("workers=%d: no result for %s", workers, name)
				continue
			}
			if r.Error != "" || r.Machine != "x64" || r.Kind != "kernel-driver" || !slices.Equal(codes(r), wantCodes) {
				t.Errorf("workers=%d: %s: error %q machine %q kind %q codes %v, want codes %v", workers, name, r.Error, r.Machine, r.Kind, codes(r), wantCodes)
			}
			if r.Findings == nil {
				t.Errorf("%s: Findings is nil", name)
			}
		}
		checkFolderSummary(t, sum, dir)
	}
}

func checkFolderSummary(t *testing.T, sum Summary, dir string) {
	t.Helper()
	if sum.FilesSeen != 9 || sum.PEImages != 6 || sum.NonPESkipped != 3 || sum.Errors != 0 || sum.KernelDrivers != 6 {
		t.Errorf("summary counts: %+v", sum)
	}
	wantPaths := []string{
		filepath.Join(dir, "rwx.sys"),
		filepath.Join(dir, "sub", "align.sys"),
		filepath.Join(dir, "sub", "iat.sys"),
	}
	sort.Strings(wantPaths)
	if sum.Incompatible != 3 || !slices.Equal(sum.IncompatiblePaths, wantPaths) {
		t.Errorf("incompatible %d %v, want %v", sum.Incompatible, sum.IncompatiblePaths, wantPaths)
	}
	wantRules := []RuleCount{
		{Code: "0x2003", Rule: "writable-executable-section", Findings: 2, Files: 2},
		{Code: "0x2004", Rule: "unaligned-section", Findings: 3, Files: 1},
		{Code: "0x2005", Rule: "iat-in-executable-section", Findings: 1, Files: 1},
		{Rule: "page-crossing-relocation", Findings: 1, Files: 1},
	}
	if !slices.Equal(sum.ByRule, wantRules) || sum.Findings != 7 {
		t.Errorf("by rule %+v (total %d), want %+v", sum.ByRule, sum.Findings, wantRules)
	}
	if sum.Kinds["kernel-driver"] != 6 {
		t.Errorf("kinds %v", sum.Kinds)
	}
}

func keys(m map[string]FileResult) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestScanExplicitFiles(t *testing.T) {
	clean := scantest.Driver().Bytes()
	dir := writeFiles(t, map[string][]byte{
		"notes.txt": []byte("hello"),
		"clean.sys": clean,
		"trunc.sys": clean[:0x60],
		"empty.sys": nil,
	})
	s := &Scanner{Analyzers: checks.All()}
	roots := []string{
		filepath.Join(dir, "notes.txt"), filepath.Join(dir, "clean.sys"), filepath.Join(dir, "trunc.sys"),
		filepath.Join(dir, "empty.sys"), filepath.Join(dir, "missing.sys"), filepath.Join(dir, "clean.sys"),
	}
	got, sum := scanAll(t, s, dir, roots...)
	tests := []struct {
		name, errPrefix string
		hashed          bool
	}{
		{"notes.txt", "not a PE image: ", true},
		{"empty.sys", "not a PE image: ", true},
		{"trunc.sys", "damaged PE image: ", true},
		{"missing.sys", "stat ", false},
		{"clean.sys", "", true},
	}
	for _, tt := range tests {
		r := got[tt.name]
		if !strings.HasPrefix(r.Error, tt.errPrefix) || (tt.errPrefix == "" && r.Error != "") {
			t.Errorf("%s: error %q, want prefix %q", tt.name, r.Error, tt.errPrefix)
		}
		if (r.SHA256 != "") != tt.hashed {
			t.Errorf("%s: sha256 %q, hashed want %v", tt.name, r.SHA256, tt.hashed)
		}
	}
	sha := sha256.Sum256(clean)
	if got["clean.sys"].SHA256 != hex.EncodeToString(sha[:]) || got["clean.sys"].Size != int64(len(clean)) {
		t.Errorf("clean.sys: sha %s size %d", got["clean.sys"].SHA256, got["clean.sys"].Size)
	}
	if sum.FilesSeen != 5 || sum.Errors != 4 || sum.PEImages != 1 || sum.NonPESkipped != 0 {
		t.Errorf("summary %+v", sum)
	}
}

func TestScanSymlinks(t *testing.T) {
	outside := writeFiles(t, map[string][]byte{"ext.sys": scantest.WritableExecutable().Bytes()})
	dir := writeFiles(t, map[string][]byte{"in/a.sys": scantest.Driver().Bytes()})
	links := map[string]string{
		"in/ext.sys":  filepath.Join(outside, "ext.sys"),
		"in/extdir":   outside,
		"in/loop":     dir,
		"in/dangling": filepath.Join(dir, "nowhere"),
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			t.Skipf("symbolic links unavailable: %v", err)
		}
	}
	root := filepath.Join(dir, "in")
	got, sum := scanAll(t, &Scanner{Analyzers: checks.All()}, root, root)
	if len(got) != 1 || sum.SymlinksSkipped != 4 {
		t.Errorf("without following: results %v, summary %+v", keys(got), sum)
	}
	got, sum = scanAll(t, &Scanner{Analyzers: checks.All(), FollowSymlinks: true}, root, root)
	want := []string{"a.sys", "dangling", "ext.sys", "extdir/ext.sys"}
	if !slices.Equal(keys(got), want) || sum.SymlinksSkipped != 1 { // the loop
		t.Errorf("following: results %v, want %v; summary %+v", keys(got), want, sum)
	}
	if !strings.HasPrefix(got["dangling"].Error, "broken symbolic link") || !got["extdir/ext.sys"].Blocking() {
		t.Errorf("following: dangling %+v; extdir/ext.sys %+v", got["dangling"], got["extdir/ext.sys"])
	}
	// A root that is itself a link to a folder is walked, and paths stay
	// under the link.
	link := filepath.Join(dir, "rootlink")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	got, _ = scanAll(t, &Scanner{Analyzers: checks.All()}, link, link)
	if r, ok := got["ext.sys"]; !ok || r.Path != filepath.Join(link, "ext.sys") {
		t.Errorf("root link: %v", got)
	}
}

func TestScanUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: permissions do not stop reads")
	}
	dir := writeFiles(t, map[string][]byte{"locked/a.sys": scantest.Driver().Bytes(), "secret.sys": scantest.Driver().Bytes()})
	locked, secret := filepath.Join(dir, "locked"), filepath.Join(dir, "secret.sys")
	if err := os.Chmod(secret, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(locked, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(locked, 0o755) })
	got, sum := scanAll(t, &Scanner{Analyzers: checks.All()}, dir, dir)
	if got["locked"].Error == "" || got["secret.sys"].Error == "" || sum.Errors != 2 {
		t.Errorf("results %+v summary %+v", got, sum)
	}
}

func TestScanLimits(t *testing.T) {
	big := scantest.Driver().Bytes()
	dir := writeFiles(t, map[string][]byte{"big.sys": big, "big.txt": make([]byte, len(big))})
	s := &Scanner{Analyzers: checks.All(), Limits: peimage.Limits{MaxFileSize: 1024}}
	got, sum := scanAll(t, s, dir, dir)
	r := got["big.sys"]
	if !r.LimitReached || !strings.Contains(r.Error, "file size") || r.SHA256 != "" || r.Machine != "x64" || r.Kind != "" {
		t.Errorf("big.sys: %+v", r)
	}
	if len(got) != 1 || sum.NonPESkipped != 1 || sum.LimitReached != 1 || sum.Errors != 1 || sum.PEImages != 0 {
		t.Errorf("results %v summary %+v", keys(got), sum)
	}
	im := scantest.Driver()
	for range 10 {
		im.Sections = append(im.Sections, scantest.Section{Name: ".x", Characteristics: scantest.RData, Data: []byte{1}})
	}
	img := im.Bytes()
	r = (&Scanner{Analyzers: checks.All(), Limits: peimage.Limits{MaxSections: 4}}).Analyze(context.Background(), "many.sys", readerAt(img), int64(len(img)))
	if !r.LimitReached || !strings.Contains(r.Error, "section count") {
		t.Errorf("many.sys: %+v", r)
	}
}

type readerAt []byte

func (b readerAt) ReadAt(p []byte, off int64) (int, error) {
	return strings.NewReader(string(b)).ReadAt(p, off)
}

// stuckReader blocks every read until release is closed.
type stuckReader struct{ release chan struct{} }

func (s stuckReader) ReadAt(p []byte, off int64) (int, error) {
	<-s.release
	return 0, os.ErrClosed
}

func TestAnalyzeTimeout(t *testing.T) {
	r := stuckReader{release: make(chan struct{})}
	defer close(r.release)
	s := &Scanner{Analyzers: checks.All(), PerFileTimeout: 50 * time.Millisecond}
	start := time.Now()
	res := s.Analyze(context.Background(), "stuck.sys", r, 4096)
	if res.Error != ErrTextTimeout || res.Path != "stuck.sys" || res.Findings == nil {
		t.Errorf("result %+v", res)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

// TestScanTimeoutReplacesWorker: a file whose analysis never ends is
// reported as timed out, and the scan goes on with the others on a worker
// that takes the stuck one's place.
func TestScanTimeoutReplacesWorker(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var calls atomic.Int32
	stuckOnce := &checks.Analyzer{Rule: checks.Rule{Name: "stuck-once"}, Run: func(*checks.Pass) error {
		if calls.Add(1) == 1 {
			<-release
		}
		return nil
	}}
	files := map[string][]byte{}
	for i := range 5 {
		files[fmt.Sprintf("d%d.sys", i)] = scantest.Driver().Bytes()
	}
	dir := writeFiles(t, files)
	s := &Scanner{Analyzers: []*checks.Analyzer{stuckOnce}, Workers: 1, PerFileTimeout: 50 * time.Millisecond}
	got, sum := scanAll(t, s, dir, dir)
	timedOut := 0
	for name, r := range got {
		switch {
		case r.Error == ErrTextTimeout && r.LimitReached && r.Kind == "kernel-driver":
			timedOut++
		case r.Error != "":
			t.Errorf("%s: %+v", name, r)
		}
	}
	if len(got) != 5 || timedOut != 1 || sum.LimitReached != 1 {
		t.Errorf("%d results, %d timed out; summary %+v", len(got), timedOut, sum)
	}
}

// TestScanCancelledWhileStuck: cancelling a scan returns at once, even
// while an analysis without a time limit is stuck.
func TestScanCancelledWhileStuck(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	stuck := &checks.Analyzer{Rule: checks.Rule{Name: "stuck"}, Run: func(*checks.Pass) error {
		<-release
		return nil
	}}
	dir := writeFiles(t, map[string][]byte{"a.sys": scantest.Driver().Bytes()})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := (&Scanner{Analyzers: []*checks.Analyzer{stuck}, PerFileTimeout: -1}).Scan(ctx, []string{dir}, nil)
	if err != context.DeadlineExceeded || time.Since(start) > 5*time.Second {
		t.Errorf("err %v after %v", err, time.Since(start))
	}
}

func TestAnalyzeCancelled(t *testing.T) {
	r := stuckReader{release: make(chan struct{})}
	defer close(r.release)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := (&Scanner{PerFileTimeout: -1}).Analyze(ctx, "stuck.sys", r, 4096)
	if !strings.Contains(res.Error, "cancelled") {
		t.Errorf("result %+v", res)
	}
}

func TestScanCancelled(t *testing.T) {
	dir := writeFiles(t, map[string][]byte{"a.sys": scantest.Driver().Bytes()})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (&Scanner{}).Scan(ctx, []string{dir}, nil); err != context.Canceled {
		t.Errorf("err %v", err)
	}
	if _, err := (&Scanner{}).Scan(context.Background(), nil, nil); err == nil {
		t.Error("no roots: no error")
	}
}

// testRule makes an analyzer that reports n findings, then returns err or
// panics with panicValue.
func testRule(name string, n int, err error, panicValue any) *checks.Analyzer {
	return &checks.Analyzer{
		Rule: checks.Rule{Name: name},
		Run: func(p *checks.Pass) error {
			for range n {
				p.Report(checks.Finding{Message: "found"})
			}
			if panicValue != nil {
				panic(panicValue)
			}
			return err
		},
	}
}

func TestAnalyzerErrorsAndPanics(t *testing.T) {
	img := scantest.Driver().Bytes()
	boom := os.ErrInvalid
	tests := []struct {
		name      string
		analyzers []*checks.Analyzer
		errSub    string
		anomaly   string
		findings  int
	}{
		{"error, no findings", []*checks.Analyzer{testRule("a", 0, boom, nil)}, "analysis incomplete: a: invalid argument", "", 0},
		{"error, other findings", []*checks.Analyzer{testRule("a", 0, boom, nil), testRule("b", 2, nil, nil)}, "", "rule a: invalid argument", 2},
		{"unsupported", []*checks.Analyzer{testRule("a", 0, fmt.Errorf("arm64: %w", errors.ErrUnsupported), nil)}, "", "rule skipped: a: arm64: unsupported operation", 0},
		{"limit error", []*checks.Analyzer{testRule("a", 0, &peimage.LimitError{What: "x", Limit: 1}, nil)}, "limit reached", "", 0},
		{"panic", []*checks.Analyzer{testRule("b", 1, nil, "kaboom")}, "panic while analysing drv.sys: kaboom", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := (&Scanner{Analyzers: tt.analyzers}).Analyze(context.Background(), "drv.sys", readerAt(img), int64(len(img)))
			if (tt.errSub == "") != (r.Error == "") || !strings.Contains(r.Error, tt.errSub) {
				t.Errorf("error %q, want %q", r.Error, tt.errSub)
			}
			if tt.anomaly != "" && !slices.Contains(r.Anomalies, tt.anomaly) {
				t.Errorf("anomalies %q, want %q", r.Anomalies, tt.anomaly)
			}
			if len(r.Findings) != tt.findings || r.Findings == nil {
				t.Errorf("findings %v", r.Findings)
			}
			if r.Kind == "" && !strings.Contains(tt.name, "panic") {
				t.Errorf("kind empty")
			}
		})
	}
}

func TestFileResultJSON(t *testing.T) {
	b, err := json.Marshal(FileResult{Path: "a"})
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"path":"a","sha256":"","size":0,"machine":"","kind":"","findings":null}`
	if string(b) != want {
		t.Errorf("got %s\nwant %s", b, want)
	}
	b, _ = json.Marshal(errorOutcome("x", os.ErrNotExist).res)
	if !strings.Contains(string(b), `"findings":[]`) || !strings.Contains(string(b), `"error":"file does not exist"`) {
		t.Errorf("got %s", b)
	}
}

func TestIsCallSite(t *testing.T) {
	for code, want := range map[string]bool{"0x2000": true, "0x2001": true, "0x2002": true, "0X2002": true, "2001": true, "0x2003": false, "": false, "0x1fff": false, "junk": false} {
		if got := IsCallSite(checks.Finding{Code: code}); got != want {
			t.Errorf("IsCallSite(%q) = %v", code, got)
		}
	}
}

// TestHashMode: HashAuto hashes a scan that runs a call-site rule (the full
// job) and not one of image rules only; HashAlways and HashNever force it.
func TestHashMode(t *testing.T) {
	img := scantest.WritableExecutable().Bytes()
	sum := sha256.Sum256(img)
	sha := hex.EncodeToString(sum[:])
	dir := writeFiles(t, map[string][]byte{"rwx.sys": img})
	pool := checks.Lookup("0x2000")
	tests := []struct {
		name      string
		analyzers []*checks.Analyzer
		mode      HashMode
		hashed    bool
	}{
		{"auto, every rule", checks.All(), HashAuto, true},
		{"auto, image rules", imageRules(t), HashAuto, false},
		{"auto, image rules and a call-site rule", append(imageRules(t), pool), HashAuto, true},
		{"auto, no rule", nil, HashAuto, true},
		{"always, image rules", imageRules(t), HashAlways, true},
		{"never, every rule", checks.All(), HashNever, false},
	}
	for _, tt := range tests {
		s := &Scanner{Analyzers: tt.analyzers, Hash: tt.mode}
		if s.Hashing() != tt.hashed {
			t.Errorf("%s: Hashing() = %v", tt.name, !tt.hashed)
		}
		got, _ := scanAll(t, s, dir, dir)
		r := got["rwx.sys"]
		want := ""
		if tt.hashed {
			want = sha
		}
		if r.SHA256 != want || (r.Authenticode != nil) != tt.hashed || r.Error != "" || r.Kind != "kernel-driver" {
			t.Errorf("%s: sha256 %q authenticode %+v error %q kind %q; want sha256 %q", tt.name, r.SHA256, r.Authenticode, r.Error, r.Kind, want)
		}
		if tt.analyzers != nil && !slices.ContainsFunc(r.Findings, func(f checks.Finding) bool { return f.Rule == "writable-executable-section" }) {
			t.Errorf("%s: findings %+v", tt.name, r.Findings)
		}
	}
}

func TestSummaryAdd(t *testing.T) {
	s := NewSummary(imageRules(t))
	kernel := string(peimage.KindKernelDriver)
	s.Add(FileResult{Path: "z.sys", Kind: kernel, Findings: []checks.Finding{{Code: "0x2003", Rule: "writable-executable-section", Blocking: true}}})
	s.Add(FileResult{Path: "a.sys", Kind: kernel, Findings: []checks.Finding{{Code: "0x2001", Rule: "exec-pool", Blocking: false}, {Code: "0x2004", Rule: "unaligned-section", Blocking: true}}})
	s.Add(FileResult{Path: "b.sys", Kind: kernel, Error: "analysis incomplete"})
	s.Add(FileResult{Path: "u.dll", Kind: string(peimage.KindUserMode), Findings: []checks.Finding{{Code: "0x2003", Rule: "writable-executable-section", Blocking: true}}})
	s.Add(FileResult{Path: "junk", Error: "not a PE image"})
	if s.FilesSeen != 5 || s.PEImages != 4 || s.Errors != 2 || s.KernelDrivers != 3 || s.KernelDriversWithErrors != 1 {
		t.Errorf("counts %+v", s)
	}
	if s.Incompatible != 2 || !slices.Equal(s.IncompatiblePaths, []string{"a.sys", "z.sys"}) || s.CallSiteDrivers != 1 {
		t.Errorf("incompatible %d %v call-site %d", s.Incompatible, s.IncompatiblePaths, s.CallSiteDrivers)
	}
	if s.Findings != 4 || len(s.ByRule) != 5 || s.ByRule[0].Findings != 2 || s.ByRule[0].Files != 2 || s.ByRule[4].Rule != "exec-pool" || s.ByRule[4].Findings != 1 {
		t.Errorf("by rule %+v", s.ByRule)
	}
}

func TestDefaultRoots(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		goos string
		env  map[string]string
		want []string
	}{
		{"windows", map[string]string{"SystemRoot": `D:\Win\`}, []string{`D:\Win\System32\drivers`, `D:\Win\System32\DriverStore\FileRepository`}},
		{"windows", map[string]string{"windir": `E:\W`}, []string{`E:\W\System32\drivers`, `E:\W\System32\DriverStore\FileRepository`}},
		{"windows", nil, []string{`C:\Windows\System32\drivers`, `C:\Windows\System32\DriverStore\FileRepository`}},
		{"linux", map[string]string{"SystemRoot": `C:\Windows`}, nil},
	}
	for _, tt := range tests {
		got, err := DefaultRoots(tt.goos, env(tt.env))
		if !slices.Equal(got, tt.want) || (tt.want == nil) != (err == ErrNoPaths) {
			t.Errorf("%s %v: %v, %v", tt.goos, tt.env, got, err)
		}
	}
}

// TestScanCallSiteExamples scans the call-site examples of scantest with
// every rule: each has a finding of its rule, found by the call-site
// analysis, and counts as a call-site driver.
func TestScanCallSiteExamples(t *testing.T) {
	files := map[string][]byte{}
	want := map[string]string{}
	for _, ex := range scantest.Examples() {
		a := checks.Lookup(ex.Rule)
		if a == nil || !IsCallSite(checks.Finding{Code: a.Code}) {
			continue
		}
		files[ex.File] = ex.Image.Bytes()
		want[ex.File] = a.Code
	}
	if len(files) == 0 {
		t.Skip("no call-site rules")
	}
	dir := writeFiles(t, files)
	got, sum := scanAll(t, &Scanner{Analyzers: checks.All()}, dir, dir)
	for name, code := range want {
		r := got[name]
		if r.Error != "" || !slices.Equal(codes(r), []string{code}) || r.Findings[0].Function == nil || r.Findings[0].API == "" {
			t.Errorf("%s: error %q, findings %+v; want one %s", name, r.Error, r.Findings, code)
		}
	}
	if sum.CallSiteDrivers != len(want) {
		t.Errorf("call-site drivers %d, want %d", sum.CallSiteDrivers, len(want))
	}
}

func TestSkippedRules(t *testing.T) {
	img := scantest.Driver().Bytes()
	unsupported := testRule("decoder", 0, fmt.Errorf("machine arm64: %w", errors.ErrUnsupported), nil)
	r := (&Scanner{Analyzers: []*checks.Analyzer{unsupported, testRule("other", 0, nil, nil)}}).Analyze(context.Background(), "a.sys", readerAt(img), int64(len(img)))
	if r.Error != "" || !slices.Equal(r.SkippedRules, []string{"decoder"}) {
		t.Errorf("result %+v", r)
	}
	s := NewSummary(nil)
	s.Add(r)
	if s.FilesWithSkippedRules != 1 || s.Errors != 0 {
		t.Errorf("summary %+v", s)
	}
}

// failingReader reads the first n bytes of b, then fails.
type failingReader struct {
	b []byte
	n int64
}

func (f failingReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.n {
		return 0, errors.New("device error")
	}
	return readerAt(f.b).ReadAt(p, off)
}

func TestAnalyzeReadError(t *testing.T) {
	img := scantest.Driver().Bytes()
	r := (&Scanner{Analyzers: imageRules(t), Hash: HashAlways}).Analyze(context.Background(), "a.sys", failingReader{img, 0x400}, int64(len(img)))
	if r.Error != "read: device error" || r.Machine != "x64" || r.SHA256 != "" {
		t.Errorf("result %+v", r)
	}
}

// TestExplicitFileAfterItsFolder: a file named on the command line is
// reported as named even when a folder named before it holds it.
func TestExplicitFileAfterItsFolder(t *testing.T) {
	dir := writeFiles(t, map[string][]byte{"notpe.sys": []byte("hello")})
	s := &Scanner{Analyzers: checks.All()}
	got, sum := scanAll(t, s, dir, dir, filepath.Join(dir, "notpe.sys"))
	if r := got["notpe.sys"]; !strings.HasPrefix(r.Error, "not a PE image") {
		t.Errorf("notpe.sys: %+v; want the not-a-PE error", r)
	}
	if sum.NonPESkipped != 0 || sum.Errors != 1 {
		t.Errorf("summary %+v", sum)
	}
}
