package callsite_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hvcicheck/hvcicheck/arch/arm64"
	"github.com/hvcicheck/hvcicheck/arch/x86"
	"github.com/hvcicheck/hvcicheck/callsite"
	"github.com/hvcicheck/hvcicheck/dataflow"
	"github.com/hvcicheck/hvcicheck/ir"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// fuzzLimits are the parser limits of the fuzz and mutation tests: single
// reads of at most 1 MiB, so a mutated size field costs a small allocation.
var fuzzLimits = peimage.Limits{MaxReadBytes: 1 << 20}

// fuzzOptions are small analysis bounds: a mutant that sends the analysis
// everywhere hits them quickly, and their paths are exercised too.
var fuzzOptions = callsite.Options{MaxFunctions: 200, Engine: dataflow.Limits{MaxInsns: 20000}}

// fuzzGuard is the time one input may take in the fuzzer: far above what
// any takes (milliseconds), it only catches analyses that do not end.
const fuzzGuard = 10 * time.Second

// maxSeedSize is the largest shared-corpus file used as a seed: the fuzzer
// mutates whole inputs, and small ones mutate into more distinct shapes.
const maxSeedSize = 64 << 10

// decoderFor returns the front end for the image's machine, as
// checks/callsites.go picks it; nil for other machines.
func decoderFor(f *peimage.File) ir.Decoder {
	base, size := f.Optional.ImageBase, f.Optional.SizeOfImage
	switch f.Machine {
	case peimage.MachineAMD64:
		return x86.New(64, base, size)
	case peimage.MachineI386:
		return x86.New(32, base, size)
	case peimage.MachineARM64:
		return arm64.New(base, size)
	}
	return nil
}

// fixtureFiles returns the call-site fixtures whose file names contain one
// of archs (every fixture when archs is empty), sorted.
func fixtureFiles(t testing.TB, archs ...string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "testdata", "drivers", "callsite_*", "*.sys"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range paths {
		base := filepath.Base(p)
		for _, a := range archs {
			if strings.Contains(base, "-"+a+"-") {
				out = append(out, p)
				break
			}
		}
		if len(archs) == 0 {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// byovdFiles returns the shared corpus's vulnerable drivers of at most
// maxSeedSize bytes (none where the corpus is absent).
func byovdFiles() []string {
	dir := filepath.Join("..", "..", "shared", "corpus", "byovd")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() && info.Size() <= maxSeedSize {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// fuzzArchs is the seed selection of FuzzCallSites: HVCICHECK_FUZZ_ARCH
// ("x64", "x86", "arm64", or a comma-separated list) restricts the seeds to
// the fixtures of those architectures, so that a run spends its time on
// one front end (scripts/fuzz.sh runs one per architecture); empty, every
// fixture. The shared-corpus drivers (x64) seed the x64 and default runs.
func fuzzArchs() []string {
	v := os.Getenv("HVCICHECK_FUZZ_ARCH")
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// FuzzCallSites parses arbitrary bytes as a PE image and runs the call-site
// analysis on what parses, with small bounds; every report must keep the
// invariants of checkReport, within fuzzGuard.
func FuzzCallSites(f *testing.F) {
	archs := fuzzArchs()
	seeds := fixtureFiles(f, archs...)
	if len(archs) == 0 || strings.Contains(os.Getenv("HVCICHECK_FUZZ_ARCH"), "x64") {
		seeds = append(seeds, byovdFiles()...)
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := analyzeGuarded(data, fuzzOptions, fuzzGuard); isBroken(err) {
			t.Fatal(err)
		}
	})
}

// errNotAnalysed is returned (wrapped) for an input the analysis does not
// take: not a PE image, unparsable headers, no front end for the machine.
var errNotAnalysed = errors.New("not analysed")

// analyze parses data and runs the call-site analysis on it. It returns
// the report, or an error wrapping errNotAnalysed, or the analysis's own
// per-file error; a broken invariant is returned as a *brokenInvariant.
func analyze(data []byte, opts callsite.Options) (*callsite.Report, error) {
	f, err := peimage.Parse(bytes.NewReader(data), int64(len(data)), fuzzLimits)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotAnalysed, err)
	}
	dec := decoderFor(f)
	if dec == nil {
		return nil, fmt.Errorf("%w: machine %#x", errNotAnalysed, f.Machine)
	}
	rep, err := callsite.Analyze(f, dec, opts)
	if err != nil {
		if rep != nil || err.Error() == "" {
			return nil, &brokenInvariant{fmt.Sprintf("Analyze returned a report with error %q", err)}
		}
		return nil, err
	}
	if rep == nil {
		return nil, &brokenInvariant{"Analyze returned neither a report nor an error"}
	}
	if msg := checkReport(f, rep); msg != "" {
		return rep, &brokenInvariant{msg}
	}
	return rep, nil
}

// brokenInvariant is a report (or a panic, or a hang) the analysis must
// never produce.
type brokenInvariant struct{ msg string }

func (e *brokenInvariant) Error() string { return e.msg }

// isBroken reports whether err is a broken invariant (not a per-file error).
func isBroken(err error) bool {
	var b *brokenInvariant
	return errors.As(err, &b)
}

// analyzeGuarded is analyze under a hang guard and with panics recovered:
// a panic, a hang or a broken invariant is a *brokenInvariant; the other
// errors are per-file outcomes.
func analyzeGuarded(data []byte, opts callsite.Options, guard time.Duration) (*callsite.Report, error) {
	type result struct {
		rep *callsite.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r = result{err: &brokenInvariant{fmt.Sprintf("panic: %v", p)}}
			}
			done <- r
		}()
		r.rep, r.err = analyze(data, opts)
	}()
	select {
	case r := <-done:
		return r.rep, r.err
	case <-time.After(guard):
		return nil, &brokenInvariant{fmt.Sprintf("no result after %v", guard)}
	}
}

// checkReport returns what is wrong with a report of f, or "": every
// finding's site lies in an executable section, in its function (which
// starts at or below it), with a known code and certainty, and with a value
// exactly when its API's rule is not RuleAlways; every unresolved call lies
// in an executable section too.
func checkReport(f *peimage.File, rep *callsite.Report) string {
	rules := map[string]callsite.Rule{}
	for _, a := range callsite.APIs() {
		rules[a.Name] = a.Rule
	}
	for _, x := range rep.Findings {
		rule, ok := rules[x.API]
		switch {
		case !ok:
			return fmt.Sprintf("finding for an API not in the table: %+v", x)
		case x.Code != "0x2000" && x.Code != "0x2001" && x.Code != "0x2002":
			return fmt.Sprintf("finding with code %q: %+v", x.Code, x)
		case x.Certainty != callsite.Definite && x.Certainty != callsite.Possible:
			return fmt.Sprintf("finding with certainty %q: %+v", x.Certainty, x)
		case (x.Value == nil) != (rule == callsite.RuleAlways):
			return fmt.Sprintf("finding with value %v under rule %d: %+v", x.Value, rule, x)
		case x.Function > x.Site:
			return fmt.Sprintf("finding's function %#x starts above its site %#x: %+v", x.Function, x.Site, x)
		case !inCode(f, x.Site):
			return fmt.Sprintf("finding's site %#x lies in no executable section: %+v", x.Site, x)
		case x.Message == "" || x.Fix == "":
			return fmt.Sprintf("finding without message or fix: %+v", x)
		case len(x.Path) == 1 || len(x.Path) > 0 && x.Path[len(x.Path)-1] != x.API:
			return fmt.Sprintf("finding's path does not end at its API: %+v", x)
		}
	}
	for _, u := range rep.Stats.Unresolved {
		if !inCode(f, u.Site) || rules[u.API] == 0 {
			return fmt.Sprintf("unresolved call %+v outside the code or of an unknown API", u)
		}
	}
	if rep.Stats.Functions < 0 || rep.Stats.Instructions < 0 {
		return fmt.Sprintf("negative counts: %+v", rep.Stats)
	}
	return ""
}

// inCode reports whether rva lies in the bytes of an executable section,
// as the analysis reads them (SectionData).
func inCode(f *peimage.File, rva uint32) bool {
	for i := range f.Sections {
		s := &f.Sections[i]
		if !s.Executable() {
			continue
		}
		n := s.VirtualSize
		if n == 0 {
			n = s.SizeOfRawData
		}
		if rva >= s.VirtualAddress && uint64(rva) < uint64(s.VirtualAddress)+uint64(n) {
			return true
		}
	}
	return false
}
