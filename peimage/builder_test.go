package peimage_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/hvcicheck/hvcicheck/internal/pebuild"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// build builds im or fails the test.
func build(t testing.TB, im *pebuild.Image) *pebuild.Output {
	t.Helper()
	out, err := im.Build()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return out
}

// bytesReader returns a reader of b.
func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// parse parses data with the default limits.
func parse(data []byte) (*peimage.File, error) {
	return peimage.Parse(bytesReader(data), int64(len(data)), peimage.Limits{})
}

// mustParse parses data or fails the test.
func mustParse(t testing.TB, data []byte) *peimage.File {
	t.Helper()
	f, err := parse(data)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return f
}

// buildParse builds im and parses it.
func buildParse(t testing.TB, im *pebuild.Image) (*pebuild.Output, *peimage.File) {
	t.Helper()
	out := build(t, im)
	return out, mustParse(t, out.Bytes)
}

// wantErr fails the test unless err is non-nil, contains text and, where
// notPE is set, wraps ErrNotPE (and does not where it is unset).
func wantErr(t testing.TB, err error, notPE bool, text string) {
	t.Helper()
	switch {
	case err == nil:
		t.Fatalf("no error, want one containing %q", text)
	case !strings.Contains(err.Error(), text):
		t.Fatalf("error %q does not contain %q", err, text)
	case errors.Is(err, peimage.ErrNotPE) != notPE:
		t.Fatalf("error %q: errors.Is(ErrNotPE) = %v, want %v", err, !notPE, notPE)
	}
}

// sectionNames returns the header names of f's sections.
func sectionNames(f *peimage.File) []string {
	var names []string
	for _, s := range f.Sections {
		names = append(names, s.Name)
	}
	return names
}

// corpusDir returns the shared corpus folder (../shared/corpus from the
// module root), or "" where it is absent.
func corpusDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "shared", "corpus")
	if st, err := os.Stat(filepath.Join(dir, "facts.json")); err != nil || st.IsDir() {
		return ""
	}
	return dir
}

// corpusFiles reads the named files of the shared corpus, skipping those
// that are absent; it returns nil where the corpus is.
func corpusFiles(t testing.TB, names ...string) map[string][]byte {
	t.Helper()
	dir := corpusDir()
	if dir == "" {
		return nil
	}
	out := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err == nil {
			out[n] = b
		}
	}
	return out
}
