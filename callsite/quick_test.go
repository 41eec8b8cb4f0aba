package callsite_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hvcicheck/hvcicheck/callsite"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// TestQuickPassAgrees checks that the quick pass (calls judged from their
// blocks alone, stores collected from theirs) changes nothing but what it
// can resolve better: on every call-site fixture and every image of the
// shared corpus (when present), Analyze gives the same findings with and
// without it, except at calls the full data flow leaves unresolved (a stack
// argument stored in the call's block of a frame whose size the full
// analysis lost after __chkstk), and no call is unresolved with it that is
// resolved without.
func TestQuickPassAgrees(t *testing.T) {
	paths := fixtureFiles(t)
	for _, dir := range []string{"byovd", "wine-x64", "efi"} {
		more, _ := filepath.Glob(filepath.Join("..", "..", "shared", "corpus", dir, "*"))
		paths = append(paths, more...)
	}
	quickJudged := 0
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := peimage.Parse(bytes.NewReader(data), int64(len(data)), peimage.Limits{})
		if err != nil {
			continue
		}
		dec := decoderFor(f)
		if dec == nil {
			continue
		}
		full, errFull := callsite.Analyze(f, dec, callsite.Options{FullDataFlow: true})
		quick, errQuick := callsite.Analyze(f, dec, callsite.Options{})
		if fmt.Sprint(errFull) != fmt.Sprint(errQuick) {
			t.Errorf("%s: error %v with the quick pass, %v without", p, errQuick, errFull)
			continue
		}
		if errFull != nil {
			continue
		}
		if d := quickDiffers(full, quick); d != "" {
			t.Errorf("%s: %s", p, d)
		}
		quickJudged += quick.Stats.QuickFunctions
	}
	if quickJudged == 0 {
		t.Error("the quick pass judged no function")
	}
}

func describe(fs []callsite.Finding) string {
	var b bytes.Buffer
	for _, f := range fs {
		v := "-"
		if f.Value != nil {
			v = fmt.Sprintf("%#x", *f.Value)
		}
		fmt.Fprintf(&b, "\n  %x %s %s %s %s %v", f.Site, f.API, v, f.Tag, f.Certainty, f.Path)
	}
	return b.String()
}

// quickDiffers says how the analysis with the quick pass differs from the
// analysis without it (full) beyond what the quick pass may do: resolve a
// call the full data flow left unresolved. "" when it does not.
func quickDiffers(full, quick *callsite.Report) string {
	unres := unresolvedSites(full)
	if got, want := findingsExcept(quick.Findings, unres), findingsExcept(full.Findings, unres); !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("findings differ\nfull:  %s\nquick: %s", describe(want), describe(got))
	}
	for site := range unresolvedSites(quick) {
		if !unres[site] {
			return fmt.Sprintf("%x unresolved with the quick pass only", site)
		}
	}
	return ""
}

// unresolvedSites returns the sites of r's unresolved calls.
func unresolvedSites(r *callsite.Report) map[uint32]bool {
	out := map[uint32]bool{}
	for _, u := range r.Stats.Unresolved {
		out[u.Site] = true
	}
	return out
}

// findingsExcept returns fs without the findings at sites.
func findingsExcept(fs []callsite.Finding, sites map[uint32]bool) []callsite.Finding {
	var out []callsite.Finding
	for _, f := range fs {
		if !sites[f.Site] {
			out = append(out, f)
		}
	}
	return out
}

// corpusMutantsPerImage is how many code mutants of each byovd driver
// TestQuickPassAgreesOnMutants compares.
const corpusMutantsPerImage = 40

// TestQuickPassAgreesOnMutants compares the analysis with and without the
// quick pass (as TestQuickPassAgrees does) on code mutants of the shared
// corpus's vulnerable drivers (skipped where the corpus is absent): real
// compilers' code, larger functions than the fixtures', with thunks
// retargeted to checked APIs, overwritten and copied bytes, and import
// slots moved (codeLayout.mutate).
func TestQuickPassAgreesOnMutants(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "..", "shared", "corpus", "byovd", "*.sys"))
	if len(paths) == 0 {
		t.Skip("no shared corpus")
	}
	compared := 0
	for k, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		lay := layoutOf(t, data)
		r := rand.New(rand.NewPCG(uint64(k)+77, 0x5eed))
		for i := 0; i < corpusMutantsPerImage; i++ {
			m, what := lay.mutate(r, data, 1+min(i%4, 2))
			quick, err := analyzeGuarded(m, callsite.Options{}, mutationGuard)
			full, errFull := analyzeGuarded(m, callsite.Options{FullDataFlow: true}, mutationGuard)
			if err != nil || errFull != nil || quick.Stats.Truncated || full.Stats.Truncated {
				continue
			}
			compared++
			if d := quickDiffers(full, quick); d != "" {
				t.Errorf("%s mutant %d (%s): %s", filepath.Base(p), i, what, d)
			}
		}
	}
	if compared < len(paths)*corpusMutantsPerImage/2 {
		t.Errorf("compared %d mutants only: most were errors or truncated", compared)
	}
}
