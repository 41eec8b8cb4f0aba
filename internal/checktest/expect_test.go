package checktest

import (
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	tests := []struct {
		line string
		want []string // Expectation.String() of each
		err  string   // substring of the error
	}{
		{line: `p = f(); // want 0x2000`, want: []string{"want 0x2000"}},
		{line: `p = f(); //want 0x2000 value=0x0 certainty=definite`, want: []string{"want 0x2000 value=0x0 certainty=definite"}},
		{line: `f(); // want 0x2000 value=0 0x2002 value=0x10`, want: []string{"want 0x2000 value=0", "want 0x2002 value=0x10"}},
		{line: `// want-section 0x2003 .text blocking=true`, want: []string{"want-section 0x2003 .text blocking=true"}},
		{line: `// want-section page-crossing-relocation .data`, want: []string{"want-section page-crossing-relocation .data"}},
		{line: `// want-section 0x2004 *`, want: []string{"want-section 0x2004 *"}},
		{line: `// want-image 0x2004`, want: []string{"want-image 0x2004"}},
		{line: `// want-none`, want: []string{"want-none"}},
		{line: `// want[mingw] 0x2000`, want: []string{"want[mingw] 0x2000"}},
		{line: `// want-section[clang,!arm64] 0x2005 .text`, want: []string{"want-section[clang,!arm64] 0x2005 .text"}},
		{line: `// want[x64|x86,O2] 0x2000 api=ExAllocatePoolWithTag`, want: []string{"want[x64|x86,O2] 0x2000 api=ExAllocatePoolWithTag"}},
		{line: `// want[clang-x64-O0] 0x2000`, want: []string{"want[clang-x64-O0] 0x2000"}},

		{line: `int x; // a comment`},
		{line: `// wanted: nothing`},
		{line: `// wants 0x2000`},
		{line: `x = 1;`},

		{line: `// want`, err: "at least one rule"},
		{line: `// want value=0`, err: "before any rule"},
		{line: `// want 0x2000 colour=red`, err: "unknown key"},
		{line: `// want 0x2000 value=red`, err: "not a number"},
		{line: `// want 0x2000 blocking=yes`, err: "true or false"},
		{line: `// want Ex(0)`, err: "not a rule"},
		{line: `// want-section 0x2003`, err: "needs a rule and a section"},
		{line: `// want-section 0x2003 [`, err: "bad section pattern"},
		{line: `// want-none 0x2000`, err: "no arguments"},
		{line: `// want[gcc] 0x2000`, err: "unknown condition"},
		{line: `// want[] 0x2000`, err: "empty condition"},
	}
	for _, tt := range tests {
		exps, err := ParseLine(tt.line, "src/x.c", 7)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseLine(%q): error %v, want one containing %q", tt.line, err, tt.err)
			} else if !strings.HasPrefix(err.Error(), "src/x.c:7: ") {
				t.Errorf("ParseLine(%q): error %q lacks the position", tt.line, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseLine(%q): %v", tt.line, err)
			continue
		}
		var got []string
		for _, e := range exps {
			got = append(got, e.String())
			if e.File != "src/x.c" || e.Line != 7 {
				t.Errorf("ParseLine(%q): position %s", tt.line, e.Where())
			}
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("ParseLine(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

func TestConditions(t *testing.T) {
	v := func(s string) Variant {
		x, ok := ParseVariant(s)
		if !ok {
			t.Fatalf("ParseVariant(%q) failed", s)
		}
		return x
	}
	tests := []struct {
		cond    string
		variant string
		holds   bool
	}{
		{"mingw", "mingw-x86-O0", true},
		{"mingw", "clang-x86-O0", false},
		{"clang,!arm64", "clang-x64-O2", true},
		{"clang,!arm64", "clang-arm64-O2", false},
		{"x64|arm64", "clang-arm64-O0", true},
		{"x64|arm64", "mingw-x86-O0", false},
		{"!x64|arm64", "mingw-x86-O0", true},
		{"!x64|arm64", "clang-arm64-O0", false},
		{"O2", "mingw-x64-O2", true},
		{"O2,mingw", "clang-x64-O2", false},
		{"clang-x64-O0", "clang-x64-O0", true},
		{"clang-x64-O0", "clang-x64-O2", false},
	}
	for _, tt := range tests {
		exps, err := ParseLine("// want["+tt.cond+"] 0x2000", "f.c", 1)
		if err != nil {
			t.Fatal(err)
		}
		if got := exps[0].Applies(v(tt.variant)); got != tt.holds {
			t.Errorf("[%s] on %s = %v, want %v", tt.cond, tt.variant, got, tt.holds)
		}
	}
	exps, _ := ParseLine("// want 0x2000", "f.c", 1)
	if !exps[0].Applies(v("clang-arm64-O2")) {
		t.Error("an expectation without a condition must apply everywhere")
	}
}

func TestParseVariant(t *testing.T) {
	if v, ok := ParseVariant("mingw-x86-O2.sys"); !ok || v != (Variant{"mingw", "x86", "O2"}) || v.String() != "mingw-x86-O2" {
		t.Errorf("ParseVariant(mingw-x86-O2.sys) = %v, %v", v, ok)
	}
	for _, s := range []string{"clang-x64", "clang-x64-O2-extra", "-x64-O2", "driver.sys"} {
		if _, ok := ParseVariant(s); ok {
			t.Errorf("ParseVariant(%q) accepted", s)
		}
	}
}
