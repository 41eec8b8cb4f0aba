package peimage_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/hvcicheck/hvcicheck/internal/pebuild"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// hangGuard bounds the time one mutant may take: far above the
// milliseconds any takes, it only catches loops that do not end.
const hangGuard = 2 * time.Second

// mutantsPerImage is how many mutants of each seed image are checked.
const mutantsPerImage = 1000

// outcome is what became of one mutant.
type outcome int

const (
	notPE       outcome = iota // Parse: ErrNotPE
	parseError                 // Parse: another error
	parsed                     // parsed, every directory read
	parsedError                // parsed, some directory parser failed
)

// TestMutants parses thousands of deterministic mutants of the hand-built
// images and of a few corpus files (where present) and runs every parser on
// each: each must end, within the hang guard, without a panic, in a per-file
// error or a parsed image whose results keep their invariants (exercise),
// and every tenth is run twice to check the results are deterministic.
func TestMutants(t *testing.T) {
	seeds := seedImages(t)
	maps.Copy(seeds, corpusFiles(t, seedCorpusFiles[:2]...))
	counts := map[outcome]int{}
	for _, name := range slices.Sorted(maps.Keys(seeds)) {
		i := 0
		for m := range pebuild.Mutants(seeds[name], uint64(len(name)), mutantsPerImage) {
			o := runMutant(t, name, m, i%10 == 0)
			counts[o]++
			i++
		}
	}
	t.Logf("outcomes: %d not PE, %d parse errors, %d parsed, %d parsed with a directory error",
		counts[notPE], counts[parseError], counts[parsed], counts[parsedError])
	for _, o := range []outcome{notPE, parseError, parsed, parsedError} {
		if counts[o] < 20 {
			t.Errorf("outcome %d occurred %d times: the mutations do not reach every path", o, counts[o])
		}
	}
}

// runMutant checks one mutant under the hang guard; a panic fails the test
// with the mutant's name.
func runMutant(t *testing.T, seed string, m pebuild.Mutant, twice bool) outcome {
	t.Helper()
	type result struct {
		o     outcome
		sum   string
		panic any
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			r.panic = recover()
			done <- r
		}()
		r.o, r.sum = checkMutant(m.Data)
		if twice {
			if _, again := checkMutant(m.Data); again != r.sum {
				r.panic = fmt.Sprintf("results differ between two runs:\n%s\n%s", r.sum, again)
			}
		}
	}()
	select {
	case r := <-done:
		if r.panic != nil {
			t.Fatalf("%s mutant %s: %v", seed, m.Name, r.panic)
		}
		return r.o
	case <-time.After(hangGuard):
		t.Fatalf("%s mutant %s: no result after %v", seed, m.Name, hangGuard)
		return 0
	}
}

// checkMutant parses data and exercises every parser on it; a broken
// invariant panics.
func checkMutant(data []byte) (outcome, string) {
	f, err := peimage.Parse(bytesReader(data), int64(len(data)), fuzzLimits)
	switch {
	case err != nil && errors.Is(err, peimage.ErrNotPE):
		return notPE, err.Error()
	case err != nil:
		return parseError, err.Error()
	}
	sum := exercise(panicker{}, f)
	if containsError(f) {
		return parsedError, sum
	}
	return parsed, sum
}

// containsError reports whether any directory parser of f fails.
func containsError(f *peimage.File) bool {
	_, e1 := f.Imports()
	_, e2 := f.BaseRelocs()
	_, e3 := f.RuntimeFunctions()
	return e1 != nil || e2 != nil || e3 != nil
}
