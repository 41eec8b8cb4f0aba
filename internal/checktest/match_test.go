package checktest

import (
	"strings"
	"testing"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/debuginfo"
)

func u32(v uint32) *uint32 { return &v }
func u64(v uint64) *uint64 { return &v }
func idx(v int) *int       { return &v }

// syntheticTable maps RVA 0x1000-0x100f to src/x.c:10, 0x1010-0x101f to
// src/x.c:11, and 0x1020-0x102f to include/km.h:50 inlined at src/x.c:12.
func syntheticTable() *LineTable {
	return debuginfo.NewTable(0x140000000, []debuginfo.Row{
		{RVA: 0x1000, Pos: Pos{File: "src/x.c", Line: 10}},
		{RVA: 0x1010, Pos: Pos{File: "src/x.c", Line: 11}},
		{RVA: 0x1020, Pos: Pos{File: "include/km.h", Line: 50}},
		{RVA: 0x1030, End: true},
	}, []debuginfo.Inline{{Start: 0x1020, End: 0x1030, Call: Pos{File: "src/x.c", Line: 12}, Depth: 2}})
}

func mustParse(t *testing.T, lines ...string) []*Expectation {
	t.Helper()
	var out []*Expectation
	for i, l := range lines {
		exps, err := ParseLine(l, "src/x.c", 10+i)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, exps...)
	}
	return out
}

func TestMatch(t *testing.T) {
	lt := syntheticTable()
	pool := func(rva uint32, value uint64) checks.Finding {
		return checks.Finding{Code: "0x2000", Rule: "executable-pool-type", RVA: u32(rva), Value: u64(value), Certainty: "definite", Blocking: true}
	}
	section := func(code, rule, name string, i int) checks.Finding {
		return checks.Finding{Code: code, Rule: rule, Section: name, SectionIndex: idx(i), RVA: u32(0x1000 * uint32(i+1)), Blocking: true}
	}
	tests := []struct {
		name     string
		lines    []string // source lines 10, 11, ...
		findings []checks.Finding
		problems []string // substrings, one per expected problem
	}{
		{
			name:     "call sites match by line",
			lines:    []string{"f(); // want 0x2000 value=0x0", "g(); // want executable-pool-type certainty=definite"},
			findings: []checks.Finding{pool(0x1004, 0), pool(0x1012, 4)},
		},
		{
			name:     "inlined call matches the line it is inlined at",
			lines:    []string{"", "", "p = MmGetSystemAddressForMdlSafe(m, 16); // want 0x2000"},
			findings: []checks.Finding{pool(0x1028, 0)},
		},
		{
			name:     "wrong line",
			lines:    []string{"f(); // want 0x2000"},
			findings: []checks.Finding{pool(0x1012, 0)},
			problems: []string{"missing finding for src/x.c:10: want 0x2000", "unexpected finding 0x2000 (executable-pool-type) at RVA 0x1012 [src/x.c:11]"},
		},
		{
			name:     "wrong value is a near miss",
			lines:    []string{"f(); // want 0x2000 value=0x200"},
			findings: []checks.Finding{pool(0x1004, 0)},
			problems: []string{"missing finding for src/x.c:10: want 0x2000 value=0x200; got 0x2000", "unexpected finding"},
		},
		{
			name:     "two findings on one line need two codes",
			lines:    []string{"f(g()); // want 0x2000"},
			findings: []checks.Finding{pool(0x1004, 0), pool(0x1008, 2)},
			problems: []string{"unexpected finding 0x2000 (executable-pool-type) at RVA 0x1008"},
		},
		{
			name:     "two codes on one line",
			lines:    []string{"f(g()); // want 0x2000 value=0x2 0x2000 value=0x0"},
			findings: []checks.Finding{pool(0x1004, 0), pool(0x1008, 2)},
		},
		{
			name:     "sections, exact and glob",
			lines:    []string{"// want-section 0x2004 .text", "// want-section 0x2004 *", "// want-section 0x2003 INIT blocking=true"},
			findings: []checks.Finding{section("0x2004", "unaligned-section", ".rdata", 1), section("0x2004", "unaligned-section", ".text", 0), section("0x2004", "unaligned-section", ".data", 2), section("0x2003", "writable-executable-section", "INIT", 3)},
		},
		{
			name:     "glob needs one finding",
			lines:    []string{"// want-section 0x2004 .text", "// want-section 0x2004 .debug_*"},
			findings: []checks.Finding{section("0x2004", "unaligned-section", ".text", 0)},
			problems: []string{"missing finding for src/x.c:11: want-section 0x2004 .debug_* (a glob: one or more findings)"},
		},
		{
			name:     "section finding with an RVA that maps to a line still matches its section",
			lines:    []string{"// want-section 0x2003 .text"},
			findings: []checks.Finding{section("0x2003", "writable-executable-section", ".text", 0)},
		},
		{
			name:     "extra section finding",
			lines:    []string{"// want-section 0x2003 .text"},
			findings: []checks.Finding{section("0x2003", "writable-executable-section", ".text", 0), section("0x2003", "writable-executable-section", ".rwx", 4)},
			problems: []string{`unexpected finding 0x2003 (writable-executable-section) section ".rwx"`},
		},
		{
			name:     "image finding",
			lines:    []string{"// want-image 0x2004"},
			findings: []checks.Finding{{Code: "0x2004", Rule: "unaligned-section", Blocking: true}},
		},
		{
			name:     "image expectation does not take a section finding",
			lines:    []string{"// want-image 0x2004"},
			findings: []checks.Finding{section("0x2004", "unaligned-section", ".text", 0)},
			problems: []string{"missing finding for src/x.c:10: want-image 0x2004", "unexpected finding"},
		},
		{
			name:     "rule name without a code",
			lines:    []string{"// want-section page-crossing-relocation .data"},
			findings: []checks.Finding{{Rule: "page-crossing-relocation", Section: ".data", SectionIndex: idx(2), RVA: u32(0x3ffe)}},
		},
		{
			name:     "want-none",
			lines:    []string{"// want-none"},
			findings: []checks.Finding{pool(0x1004, 0)},
			problems: []string{"unexpected finding 0x2000"},
		},
		{
			name:  "want-none and no finding",
			lines: []string{"// want-none"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exps := mustParse(t, tt.lines...)
			got := Match(exps, tt.findings, nil, lt)
			if len(got) != len(tt.problems) {
				t.Fatalf("got %d problems, want %d:\n%s", len(got), len(tt.problems), strings.Join(got, "\n"))
			}
			for i, want := range tt.problems {
				if !strings.Contains(got[i], want) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], want)
				}
			}
		})
	}
}

func TestActive(t *testing.T) {
	fake := &checks.Analyzer{Rule: checks.Rule{Code: "0x2000", Name: "executable-pool-type"}}
	wx := &checks.Analyzer{Rule: checks.Rule{Code: "0x2003", Name: "writable-executable-section"}}
	x64, _ := ParseVariant("clang-x64-O2")

	exps := mustParse(t, "f(); // want 0x2000", "// want-section 0x2003 .text", "// want[mingw] 0x2000", "g(); // want 0x2002")
	active, skipped, err := Active(exps, x64, []*checks.Analyzer{fake, wx})
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 2 || len(skipped) != 1 || skipped[0].Rule != "0x2002" {
		t.Errorf("active %v, skipped %v", active, skipped)
	}

	if _, _, err := Active(mustParse(t, "// want no-such-rule"), x64, []*checks.Analyzer{fake}); err == nil || !strings.Contains(err.Error(), "unknown rule") {
		t.Errorf("unknown rule name: err = %v", err)
	}
	if _, _, err := Active(mustParse(t, "// want-none", "f(); // want 0x2000"), x64, []*checks.Analyzer{fake}); err == nil {
		t.Error("want-none together with want: no error")
	}
	if _, _, err := Active(mustParse(t, "// want-none[clang]", "f(); // want[mingw] 0x2000"), x64, []*checks.Analyzer{fake}); err != nil {
		t.Errorf("want-none and want under disjoint conditions: %v", err)
	}
}
