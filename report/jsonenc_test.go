package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/peimage"
	"github.com/hvcicheck/hvcicheck/scan"
)

// encodingJSON is what json.Encoder writes for r, without HTML escaping
// and without the newline.
func encodingJSON(t *testing.T, r scan.FileResult) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func checkSameJSON(t *testing.T, what string, r scan.FileResult) {
	t.Helper()
	want := encodingJSON(t, r)
	if got := string(appendFileResult(nil, &r)); got != want {
		t.Errorf("%s:\ngot  %s\nwant %s", what, got, want)
	}
}

// fill sets every field reachable from v (a pointer) to a value that is
// not empty, so that each one shows in the encoding: a field added to the
// result without its encoding fails the comparison.
func fill(v reflect.Value, rng *rand.Rand, s func() string) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), rng, s)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), rng, s)
			}
		}
	case reflect.Slice:
		n := 1 + rng.IntN(3)
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			fill(v.Index(i), rng, s)
		}
	case reflect.String:
		v.SetString(s())
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(rng.Int64N(1<<40) - 1<<39)
	case reflect.Uint, reflect.Uint64, reflect.Uint32, reflect.Uint16, reflect.Uint8:
		v.SetUint(rng.Uint64() >> (64 - v.Type().Bits()))
	}
}

// TestAppendFileResultMatchesEncodingJSON holds the hand-written encoding
// of the JSONL handler to encoding/json's bytes: every field set, none
// set, and strings with every kind of character JSON escapes.
func TestAppendFileResultMatchesEncodingJSON(t *testing.T) {
	for _, r := range results() {
		checkSameJSON(t, "results() "+r.Path, r)
	}
	checkSameJSON(t, "zero", scan.FileResult{})
	checkSameJSON(t, "empty slices", scan.FileResult{Findings: []checks.Finding{}, Anomalies: []string{}, SkippedRules: []string{}})
	checkSameJSON(t, "empty objects", scan.FileResult{Version: &peimage.VersionInfo{}, Authenticode: &peimage.AuthenticodeHashes{}, Findings: []checks.Finding{{Path: []string{}}}})
	rng := rand.New(rand.NewPCG(7, 8))
	specials := []string{"\"", "\\", "\n", "\r", "\t", "\b", "\f", "\x00", "\x1b", "\x1f", "\x7f", "<>&", "\u2028", "\u2029", "\ufffd", "\xff", "\xc3", "é", "日本", "\U0001F600", "\xed\xa0\x80"}
	str := func() string {
		var b strings.Builder
		for range rng.IntN(6) {
			if rng.IntN(2) == 0 {
				b.WriteString(specials[rng.IntN(len(specials))])
			} else {
				b.WriteByte(byte(rng.IntN(256)))
			}
		}
		return b.String()
	}
	for i := range 300 {
		var r scan.FileResult
		fill(reflect.ValueOf(&r).Elem(), rng, str)
		checkSameJSON(t, fmt.Sprintf("filled %d", i), r)
	}
	for range 2000 {
		s := str()
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got := string(appendJSONString(nil, s)) + "\n"; got != want.String() {
			t.Errorf("string %q: got %s, want %s", s, got, &want)
		}
		if !utf8.Valid(appendJSONString(nil, s)) {
			t.Errorf("string %q: invalid UTF-8 out", s)
		}
	}
}

// TestJSONLLines: each line is the encoding of its file alone, whatever
// the lines before it held (the handler reuses its buffer).
func TestJSONLLines(t *testing.T) {
	var b bytes.Buffer
	h := NewJSONL(&b)
	rs := results()
	for _, r := range rs {
		if err := h.File(r); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != len(rs) {
		t.Fatalf("%d lines for %d results", len(lines), len(rs))
	}
	for i, r := range rs {
		if want := encodingJSON(t, r); lines[i] != want {
			t.Errorf("line %d:\ngot  %s\nwant %s", i, lines[i], want)
		}
	}
}
