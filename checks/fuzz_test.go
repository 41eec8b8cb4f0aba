package checks_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/internal/pebuild"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// fuzzLimits caps single reads at 1 MiB so a mutated size field costs a
// small allocation (see the peimage fuzz test).
var fuzzLimits = peimage.Limits{MaxReadBytes: 1 << 20}

// FuzzImageRules parses arbitrary bytes and runs the image rules on what
// parses; every finding must name its rule and carry a consistent location.
func FuzzImageRules(f *testing.F) {
	for _, im := range []*pebuild.Image{
		pebuild.Driver(pebuild.MachineAMD64), pebuild.Driver(pebuild.MachineI386), lowAlign(0x80),
		withRelocs(pebuild.MachineAMD64, pebuild.Reloc{RVA: 0x3ff9, Type: pebuild.RelDir64}),
		driverWith(pebuild.MachineAMD64, func(im *pebuild.Image) { im.ImportSection, im.NoIATDirectory = ".text", true }),
	} {
		out, err := im.Build()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(out.Bytes)
	}
	if dir := corpusRoot(); dir != "" {
		for _, name := range []string{"byovd/Ksapi64-Killer_ksapi64.sys", "byovd/Xkpsm-Killer_xkpsm.sys", "efi/gptsync_ia32.efi"} {
			if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pf, err := peimage.Parse(bytesReader(data), int64(len(data)), fuzzLimits)
		if err != nil {
			return
		}
		fs, _ := checks.Run(pf, imageRules)
		checkFindings(t, pf, fs)
	})
}

// checkFindings fails t where a finding lacks its rule or message, or
// points at a section that is not there.
func checkFindings(t testing.TB, f *peimage.File, fs []checks.Finding) {
	t.Helper()
	for _, x := range fs {
		if x.Rule == "" || x.Message == "" {
			t.Fatalf("finding without rule or message: %+v", x)
		}
		if x.SectionIndex != nil {
			i := *x.SectionIndex
			if i < 0 || i >= len(f.Sections) || f.Sections[i].Name != x.Section {
				t.Fatalf("finding names section %d %q of %d: %+v", i, x.Section, len(f.Sections), x)
			}
		}
		// A page-crossing relocation (no code) at RVA 0xfffffffd ends past
		// 4 GiB, and its RVAEnd wraps; such an RVA is outside any image.
		if x.RVA != nil && x.RVAEnd != nil && *x.RVAEnd < *x.RVA && x.Code != "" {
			t.Fatalf("finding's range ends before it starts: %+v", x)
		}
	}
}

// TestImageRulesOnMutants runs the image rules on deterministic mutants of
// the hand-built images and of one corpus file (where present): each must
// give findings or errors within the hang guard, without a panic.
func TestImageRulesOnMutants(t *testing.T) {
	seeds := map[string][]byte{}
	for name, im := range map[string]*pebuild.Image{
		"driver-x64": pebuild.Driver(pebuild.MachineAMD64), "driver-x86": pebuild.Driver(pebuild.MachineI386), "align-0x80": lowAlign(0x80),
	} {
		out, err := im.Build()
		if err != nil {
			t.Fatal(err)
		}
		seeds[name] = out.Bytes
	}
	if dir := corpusRoot(); dir != "" {
		if b, err := os.ReadFile(filepath.Join(dir, "byovd/Ksapi64-Killer_ksapi64.sys")); err == nil {
			seeds["ksapi64"] = b
		}
	}
	findings := 0
	for name, data := range seeds {
		for m := range pebuild.Mutants(data, 11, 400) {
			findings += runRulesGuarded(t, name+" "+m.Name, m.Data)
		}
	}
	if findings == 0 {
		t.Error("no mutant gave a finding: the mutations do not reach the rules")
	}
}

// runRulesGuarded parses data and runs the image rules on it under a 2 s
// hang guard; it returns the number of findings.
func runRulesGuarded(t *testing.T, name string, data []byte) int {
	t.Helper()
	done := make(chan int, 1)
	failed := make(chan any, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				failed <- r
			}
		}()
		pf, err := peimage.Parse(bytesReader(data), int64(len(data)), fuzzLimits)
		if err != nil {
			done <- 0
			return
		}
		fs, _ := checks.Run(pf, imageRules)
		done <- len(fs)
	}()
	select {
	case n := <-done:
		return n
	case r := <-failed:
		t.Fatalf("mutant %s: panic %v", name, r)
	case <-time.After(2 * time.Second):
		t.Fatalf("mutant %s: no result after 2s", name)
	}
	return 0
}
