package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The command end to end, output formatting included, in one process (for
// profiles: -cpuprofile, -memprofile). The files are the committed fixtures,
// or the list of paths in $HVCICHECK_BENCH_CORPUS (a folder or a file
// listing one path per line, such as scripts/bench.sh's corpus.txt):
//
//	HVCICHECK_BENCH_CORPUS=/tmp/hvcicheck-bench/corpus.txt go test ./cmd/hvcicheck -run '^$' -bench Command -cpuprofile cpu.out

func benchPaths(b *testing.B) []string {
	b.Helper()
	root := os.Getenv("HVCICHECK_BENCH_CORPUS")
	if root == "" {
		return []string{filepath.Join("..", "..", "testdata", "drivers")}
	}
	fi, err := os.Stat(root)
	if err != nil {
		b.Skipf("HVCICHECK_BENCH_CORPUS: %v", err)
	}
	if fi.IsDir() {
		return []string{root}
	}
	data, err := os.ReadFile(root)
	if err != nil {
		b.Fatal(err)
	}
	return strings.Fields(string(data))
}

func benchCommand(b *testing.B, args ...string) {
	paths := benchPaths(b)
	args = append(args, paths...)
	for b.Loop() {
		if code := run(context.Background(), args, io.Discard, io.Discard); code == exitError {
			b.Fatalf("exit code %d", code)
		}
	}
}

// BenchmarkCommandImageRules is `hvcicheck scan --rules IMAGE-RULES --format
// jsonl` (the files are not hashed: image rules only).
func BenchmarkCommandImageRules(b *testing.B) {
	benchCommand(b, "scan", "--rules", "0x2003,0x2004,0x2005,page-crossing-relocation", "--format", "jsonl")
}

// BenchmarkCommandImageRulesHash is the same with --hash.
func BenchmarkCommandImageRulesHash(b *testing.B) {
	benchCommand(b, "scan", "--hash", "--rules", "0x2003,0x2004,0x2005,page-crossing-relocation", "--format", "jsonl")
}

// BenchmarkCommandFull is `hvcicheck scan --format json`.
func BenchmarkCommandFull(b *testing.B) {
	benchCommand(b, "scan", "--format", "json")
}
