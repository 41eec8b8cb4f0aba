//go:build unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestRun checks the timing line and that the command's exit code is
// passed on.
func TestRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "time")
	code, err := run(out, []string{"sh", "-c", "exit 3"})
	if err != nil || code != 3 {
		t.Fatalf("run: %d, %v; want 3, nil", code, err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var wall, rss, exit int
	var user, sys float64
	if n, err := fmt.Sscan(string(b), &wall, &user, &sys, &rss, &exit); n != 5 || err != nil {
		t.Fatalf("timing line %q: %d fields, %v", b, n, err)
	}
	if wall <= 0 || rss <= 0 || exit != 3 {
		t.Errorf("timing line %q: want a positive wall time and peak RSS, exit 3", b)
	}
	if _, err := run(out, []string{filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Error("run of a missing command: want an error")
	}
}
