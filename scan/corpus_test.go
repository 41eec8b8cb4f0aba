package scan

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hvcicheck/hvcicheck/checks"
)

// corpusDir is the shared corpus of real images beside the repository
// (HVCICHECK_CORPUS overrides it).
func corpusDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("HVCICHECK_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "corpus")
	}
	if _, err := os.Stat(filepath.Join(dir, "facts.json")); err != nil {
		t.Skipf("no corpus at %s", dir)
	}
	return dir
}

// corpusFacts is what facts.json records of each file, read with pefile.
type corpusFacts struct {
	Files map[string]struct {
		SHA256    string `json:"sha256"`
		Size      int64  `json:"size"`
		Machine   string `json:"machine"`
		Subsystem string `json:"subsystem"`
	} `json:"files"`
}

// TestScanCorpus scans the whole corpus and checks every file's identity
// against the independent facts.json.
func TestScanCorpus(t *testing.T) {
	dir := corpusDir(t)
	data, err := os.ReadFile(filepath.Join(dir, "facts.json"))
	if err != nil {
		t.Fatal(err)
	}
	var facts corpusFacts
	if err := json.Unmarshal(data, &facts); err != nil {
		t.Fatal(err)
	}
	got := map[string]FileResult{}
	sum, err := (&Scanner{Analyzers: checks.All(), Workers: 2}).Scan(context.Background(), []string{dir}, func(r FileResult) {
		rel, _ := filepath.Rel(dir, r.Path)
		got[filepath.ToSlash(rel)] = r
	})
	if err != nil {
		t.Fatal(err)
	}
	machines := map[string]string{"AMD64": "x64", "I386": "x86", "ARM64": "arm64"}
	for name, want := range facts.Files {
		r, ok := got[name]
		if !ok {
			t.Errorf("%s: no result", name)
			continue
		}
		// The rules' own errors (say, an architecture a rule cannot decode
		// yet) are the rules' business; the file's identity is the scanner's.
		if r.SHA256 != want.SHA256 || r.Size != want.Size || r.Machine != machines[want.Machine] {
			t.Errorf("%s: sha256 %s size %d machine %s; want %s %d %s", name, r.SHA256, r.Size, r.Machine, want.SHA256, want.Size, want.Machine)
		}
		if efi := strings.HasPrefix(want.Subsystem, "EFI_"); efi != strings.HasPrefix(r.Kind, "efi-") {
			t.Errorf("%s: kind %s for subsystem %s", name, r.Kind, want.Subsystem)
		}
		if strings.HasPrefix(name, "byovd/") && r.Kind != "kernel-driver" {
			t.Errorf("%s: kind %s", name, r.Kind)
		}
	}
	if len(got) != len(facts.Files) || sum.NonPESkipped != 2 || sum.PEImages != len(facts.Files) || sum.KernelDrivers != 59 {
		t.Errorf("%d results for %d files; summary %+v", len(got), len(facts.Files), sum)
	}
}
