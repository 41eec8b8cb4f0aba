package scan

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// The benchmarks run over three sets of files:
//
//	fixtures    ../testdata/drivers, the committed fixtures (always there)
//	corpus      the shared corpus of real drivers, ../../shared/corpus or
//	            $HVCICHECK_CORPUS (skipped when absent)
//	byovd       its byovd folder: 41 vulnerable x64 drivers, the driver
//	            set of scripts/bench.sh, where the call-site analysis
//	            dominates
//	throughput  the throughput corpus of scripts/bench.sh (Wine + OVMF, about
//	            945 files): $HVCICHECK_BENCH_CORPUS, a folder or a file list
//	            (skipped when unset)
//
// Each reports files/s and, through b.SetBytes, MB/s of executable code
// (the bytes of the executable sections of the PE images in the set).
//
//	go test ./scan -run '^$' -bench . -benchtime 5x
//	HVCICHECK_BENCH_CORPUS=/tmp/hvcicheck-bench/corpus.txt go test ./scan -run '^$' -bench 'Scan/throughput' -cpuprofile cpu.out

// benchSet is a set of files to benchmark on.
type benchSet struct {
	name  string
	paths []string
	// codeBytes is the total size of the executable sections.
	codeBytes int64
	// fileBytes is the total size of the files.
	fileBytes int64
}

var (
	benchSetsOnce sync.Once
	benchSets     []*benchSet
	benchSetsErr  error
)

// loadBenchSets finds the benchmark sets that are present and reads them.
func loadBenchSets(b *testing.B) []*benchSet {
	b.Helper()
	benchSetsOnce.Do(func() {
		roots := []struct{ name, root string }{{"fixtures", filepath.Join("..", "testdata", "drivers")}}
		corpus := os.Getenv("HVCICHECK_CORPUS")
		if corpus == "" {
			corpus = filepath.Join("..", "..", "shared", "corpus")
		}
		roots = append(roots, struct{ name, root string }{"corpus", corpus})
		roots = append(roots, struct{ name, root string }{"byovd", filepath.Join(corpus, "byovd")})
		roots = append(roots, struct{ name, root string }{"throughput", os.Getenv("HVCICHECK_BENCH_CORPUS")})
		for _, r := range roots {
			if r.root == "" {
				continue
			}
			set, err := readBenchSet(r.name, r.root)
			if err != nil {
				benchSetsErr = err
				return
			}
			if set != nil {
				benchSets = append(benchSets, set)
			}
		}
	})
	if benchSetsErr != nil {
		b.Fatal(benchSetsErr)
	}
	return benchSets
}

// readBenchSet reads the PE images under root (a folder, or a file listing
// one path per line); it returns nil when root does not exist.
func readBenchSet(name, root string) (*benchSet, error) {
	fi, err := os.Stat(root)
	if err != nil {
		return nil, nil
	}
	var paths []string
	if fi.IsDir() {
		err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				paths = append(paths, p)
			}
			return err
		})
	} else {
		var list []byte
		list, err = os.ReadFile(root)
		for _, line := range strings.Split(string(list), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				paths = append(paths, line)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	set := &benchSet{name: name}
	for _, p := range paths {
		size, code, err := peSizes(p)
		if err != nil {
			continue // not a PE image (a README, facts.json)
		}
		set.paths = append(set.paths, p)
		set.fileBytes += size
		set.codeBytes += code
	}
	return set, nil
}

// peSizes returns the size of the PE image at path and of its code.
func peSizes(path string) (size, code int64, err error) {
	fh, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return 0, 0, err
	}
	f, err := peimage.Parse(fh, fi.Size(), peimage.Limits{})
	if err != nil {
		return 0, 0, err
	}
	return fi.Size(), codeSize(f), nil
}

// codeSize is the size of the executable sections of f, as mapped.
func codeSize(f *peimage.File) int64 {
	var n int64
	for i := range f.Sections {
		if s := &f.Sections[i]; s.Executable() {
			n += int64(s.MappedSize(1))
		}
	}
	return n
}

// load reads the files of the set, for the benchmarks that leave I/O out.
// The benchmarks through the scanner do not hold them: a heap holding the
// whole set would make the garbage collector run less than in a real scan.
func (set *benchSet) load(b *testing.B) [][]byte {
	b.Helper()
	out := make([][]byte, len(set.paths))
	for i, p := range set.paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = data
	}
	return out
}

// runSets runs fn as one sub-benchmark per present set; fn handles every
// file of the set once per iteration.
func runSets(b *testing.B, fn func(b *testing.B, set *benchSet)) {
	for _, set := range loadBenchSets(b) {
		b.Run(set.name, func(b *testing.B) {
			b.SetBytes(set.codeBytes)
			b.ReportAllocs()
			fn(b, set)
			if s := b.Elapsed().Seconds(); s > 0 {
				b.ReportMetric(float64(len(set.paths)*b.N)/s, "files/s")
			}
		})
	}
}

func imageRuleSet(b *testing.B) []*checks.Analyzer {
	b.Helper()
	as, err := checks.Select([]string{"0x2003", "0x2004", "0x2005", "page-crossing-relocation"})
	if err != nil {
		b.Fatal(err)
	}
	return as
}

// BenchmarkParse parses the headers and reads the imports (what
// classification needs) of each file, from memory.
func BenchmarkParse(b *testing.B) {
	runSets(b, func(b *testing.B, set *benchSet) {
		files := set.load(b)
		for b.Loop() {
			for i, data := range files {
				f, err := peimage.Parse(bytes.NewReader(data), int64(len(data)), peimage.Limits{})
				if err != nil {
					b.Fatal(err)
				}
				facts := checks.NewFacts(f)
				f.Classify(facts.ImportedDLLNames(), filepath.Base(set.paths[i]))
			}
		}
	})
}

// BenchmarkImageRules parses, classifies and applies the image rules
// (0x2003, 0x2004, 0x2005, page-crossing relocations) to each file, from
// memory, without hashing: the cost of the rules themselves.
func BenchmarkImageRules(b *testing.B) {
	rules := imageRuleSet(b)
	runSets(b, func(b *testing.B, set *benchSet) {
		files := set.load(b)
		for b.Loop() {
			for i, data := range files {
				f, err := peimage.Parse(bytes.NewReader(data), int64(len(data)), peimage.Limits{})
				if err != nil {
					b.Fatal(err)
				}
				facts := checks.NewFacts(f)
				f.Classify(facts.ImportedDLLNames(), filepath.Base(set.paths[i]))
				checks.RunFacts(facts, rules)
			}
		}
	})
}

// BenchmarkAllRules is BenchmarkImageRules with every rule (the call-site
// analysis included), still from memory and without hashing, on one
// goroutine: the analysis cost per core.
func BenchmarkAllRules(b *testing.B) {
	runSets(b, func(b *testing.B, set *benchSet) {
		files := set.load(b)
		for b.Loop() {
			for i, data := range files {
				f, err := peimage.Parse(bytes.NewReader(data), int64(len(data)), peimage.Limits{})
				if err != nil {
					b.Fatal(err)
				}
				facts := checks.NewFacts(f)
				f.Classify(facts.ImportedDLLNames(), filepath.Base(set.paths[i]))
				checks.RunFacts(facts, checks.All())
			}
		}
	})
}

// BenchmarkScanImageRules is the scanner end to end with the image rules
// only: files opened and read from disk (the page cache), parsed and
// checked on the default worker pool, as `hvcicheck scan --rules
// 0x2003,0x2004,0x2005,page-crossing-relocation` does. With image rules
// only the files are not hashed (HashAuto): only the parts of each file the
// rules look at are read.
func BenchmarkScanImageRules(b *testing.B) {
	s := &Scanner{Analyzers: imageRuleSet(b)}
	runSets(b, func(b *testing.B, set *benchSet) { benchScan(b, s, set) })
}

// BenchmarkScanImageRulesHash is BenchmarkScanImageRules with the hashes
// (`--hash`): every byte of every file is read.
func BenchmarkScanImageRulesHash(b *testing.B) {
	s := &Scanner{Analyzers: imageRuleSet(b), Hash: HashAlways}
	runSets(b, func(b *testing.B, set *benchSet) { benchScan(b, s, set) })
}

// BenchmarkScan is the scanner end to end with every rule, as `hvcicheck
// scan` does.
func BenchmarkScan(b *testing.B) {
	s := &Scanner{Analyzers: checks.All()}
	runSets(b, func(b *testing.B, set *benchSet) { benchScan(b, s, set) })
}

func benchScan(b *testing.B, s *Scanner, set *benchSet) {
	for b.Loop() {
		n := 0
		_, err := s.Scan(context.Background(), set.paths, func(r FileResult) {
			if r.Error != "" && !strings.Contains(r.Error, "does not support") {
				b.Logf("%s: %s", r.Path, r.Error)
			}
			n++
		})
		if err != nil || n != len(set.paths) {
			b.Fatalf("%d results for %d files, err %v", n, len(set.paths), err)
		}
	}
}

// BenchmarkHashFloor reads every byte of every file from disk and hashes
// it with SHA-256, on as many goroutines as the scanner's default pool:
// the floor of a full scan, whose every result carries the file's hash.
func BenchmarkHashFloor(b *testing.B) {
	workers := (&Scanner{}).workers()
	runSets(b, func(b *testing.B, set *benchSet) {
		for b.Loop() {
			jobs := make(chan string)
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					h := sha256.New()
					for p := range jobs {
						f, err := os.Open(p)
						if err != nil {
							b.Error(err)
							continue
						}
						h.Reset()
						_, err = io.Copy(h, f)
						f.Close()
						if err != nil {
							b.Error(err)
						}
						h.Sum(nil)
					}
				})
			}
			for _, p := range set.paths {
				jobs <- p
			}
			close(jobs)
			wg.Wait()
		}
	})
}
