package scan

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hvcicheck/hvcicheck/arch/x86"
	"github.com/hvcicheck/hvcicheck/callsite"
	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/dataflow"
	"github.com/hvcicheck/hvcicheck/peimage"
	"github.com/hvcicheck/hvcicheck/scan/scantest"
)

// TestLimitsMarkResult hits each limit of docs/limits.md that the scanner
// applies and checks that the file's result says so (limit_reached, with
// the reason in error or anomalies): never a silent, partial "clean".
func TestLimitsMarkResult(t *testing.T) {
	pool := scantest.ExecutablePool().Bytes() // imports 2 functions, 1 finding
	relocs := scantest.Driver()
	relocs.Relocs = []uint32{0x3000, 0x3008, 0x3010}
	tests := []struct {
		name    string
		img     []byte
		s       Scanner
		inError bool // the reason is the file's error (else an anomaly)
		reason  string
	}{
		{"file size", pool, Scanner{Limits: peimage.Limits{MaxFileSize: 1024}}, true, "file size"},
		{"sections", pool, Scanner{Limits: peimage.Limits{MaxSections: 2}}, true, "section count"},
		{"imports", pool, Scanner{Limits: peimage.Limits{MaxImports: 1}}, false, "imported functions"},
		{"relocs", relocs.Bytes(), Scanner{Limits: peimage.Limits{MaxRelocs: 1}}, true, "base relocations"},
		{"read", pool, Scanner{Limits: peimage.Limits{MaxReadBytes: 2}}, true, "read size"},
		{"timeout", pool, Scanner{PerFileTimeout: time.Nanosecond}, true, ErrTextTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.s
			s.Analyzers = checks.All()
			var r FileResult
			if tt.name == "timeout" {
				// An analysis that cannot finish, so the 1 ns limit always wins.
				stuck := stuckReader{release: make(chan struct{})}
				defer close(stuck.release)
				r = s.Analyze(context.Background(), "x.sys", stuck, int64(len(tt.img)))
			} else {
				r = s.Analyze(context.Background(), "x.sys", readerAt(tt.img), int64(len(tt.img)))
			}
			where := strings.Join(r.Anomalies, "; ")
			if tt.inError {
				where = r.Error
			}
			if !r.LimitReached || !strings.Contains(where, tt.reason) {
				t.Errorf("result %+v; want limit_reached and %q in the %s", r, tt.reason, map[bool]string{true: "error", false: "anomalies"}[tt.inError])
			}
			if r.Error == "" && len(r.Findings) == 0 {
				t.Errorf("a limit left a clean result: %+v", r)
			}
		})
	}
}

// TestLimitsThroughScan: the same through Scan, with the summary's count.
func TestLimitsThroughScan(t *testing.T) {
	dir := writeFiles(t, map[string][]byte{"a.sys": scantest.ExecutablePool().Bytes(), "b.sys": scantest.Driver().Bytes()})
	got, sum := scanAll(t, &Scanner{Analyzers: checks.All(), Limits: peimage.Limits{MaxImports: 1}}, dir, dir)
	if sum.LimitReached != 2 || !got["a.sys"].LimitReached || !got["b.sys"].LimitReached {
		t.Errorf("summary %+v; results %+v", sum, got)
	}
}

// TestCallSiteLimits hits the bounds of the call-site analysis
// (callsite.Options, dataflow.Limits), which `hvcicheck scan` does not
// expose yet: the report must say it was cut short.
func TestCallSiteLimits(t *testing.T) {
	path := filepath.Join("..", "testdata", "drivers", "callsite_branch", "clang-x64-O0.sys")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skip(err)
	}
	f, err := peimage.Parse(readerAt(data), int64(len(data)), peimage.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	analyze := func(opts callsite.Options) *callsite.Report {
		rep, err := callsite.Analyze(f, x86.New(64, f.Optional.ImageBase, f.Optional.SizeOfImage), opts)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := analyze(callsite.Options{}); rep.Stats.Truncated || len(rep.Findings) == 0 {
		t.Fatalf("without limits: truncated %v, %d findings", rep.Stats.Truncated, len(rep.Findings))
	}
	for name, opts := range map[string]callsite.Options{
		"functions":    {MaxFunctions: 1},
		"instructions": {Engine: dataflow.Limits{MaxInsns: 2}},
		"blocks":       {Engine: dataflow.Limits{MaxBlocks: 1}},
		"steps":        {Engine: dataflow.Limits{MaxSteps: 1}},
	} {
		if rep := analyze(opts); !rep.Stats.Truncated {
			t.Errorf("%s: %+v: not marked truncated (%d findings)", name, opts, len(rep.Findings))
		}
	}
}
