package checktest

import (
	"bufio"
	"fmt"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// Kind is the kind of a want directive.
type Kind int

// The directives.
const (
	KindLine    Kind = iota // want: a call-site finding on this line
	KindSection             // want-section: a finding about a section
	KindImage               // want-image: a finding about the whole image
	KindNone                // want-none: no finding at all
)

func (k Kind) String() string {
	switch k {
	case KindLine:
		return "want"
	case KindSection:
		return "want-section"
	case KindImage:
		return "want-image"
	case KindNone:
		return "want-none"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Expectation is one expected finding (or, for KindNone, the expectation of
// none), parsed from a want comment.
type Expectation struct {
	Kind Kind
	// File is the source file as given to ParseFile; Line is 1-based.
	File string
	Line int
	// Cond is the condition between brackets ("" when none).
	Cond string
	// Rule is the rule code ("0x2000") or name; empty for KindNone.
	Rule string
	// Section is the section name or glob of a KindSection expectation.
	Section string
	// Keys are the key=value constraints, in source order.
	Keys []KeyValue

	cond condition
}

// KeyValue is one key=value constraint of an expectation.
type KeyValue struct{ Key, Value string }

// Glob reports whether Section is a pattern matching one or more findings.
func (e *Expectation) Glob() bool {
	return e.Kind == KindSection && strings.ContainsAny(e.Section, "*?[")
}

// String renders the expectation as it would be written, for messages.
func (e *Expectation) String() string {
	var b strings.Builder
	b.WriteString(e.Kind.String())
	if e.Cond != "" {
		fmt.Fprintf(&b, "[%s]", e.Cond)
	}
	if e.Rule != "" {
		b.WriteString(" " + e.Rule)
	}
	if e.Section != "" {
		b.WriteString(" " + e.Section)
	}
	for _, kv := range e.Keys {
		fmt.Fprintf(&b, " %s=%s", kv.Key, kv.Value)
	}
	return b.String()
}

// Where is "file:line" of the expectation.
func (e *Expectation) Where() string { return fmt.Sprintf("%s:%d", e.File, e.Line) }

// Applies reports whether the expectation's condition holds for variant v.
func (e *Expectation) Applies(v Variant) bool { return e.cond.holds(v) }

var directiveRE = regexp.MustCompile(`//\s*(want(?:-section|-image|-none)?)(?:\[([^\]]*)\])?(.*)$`)

var ruleRE = regexp.MustCompile(`^(0[xX][0-9a-fA-F]+|[a-z][a-z0-9]*(-[a-z0-9]+)*)$`)

// validKeys are the keys an expectation may constrain.
var validKeys = map[string]bool{"value": true, "api": true, "certainty": true, "tag": true, "blocking": true}

// ParseFile reads the want directives of one source file. name is recorded
// in each Expectation's File (pass the path relative to the testdata
// directory, e.g. "src/callsite_wrapper.c").
func ParseFile(filename, name string) ([]*Expectation, error) {
	f, err := os.Open(filename)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []*Expectation
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		exps, err := ParseLine(sc.Text(), name, n)
		if err != nil {
			return nil, err
		}
		out = append(out, exps...)
	}
	return out, sc.Err()
}

// ParseLine parses the want directive of one source line, if it has one.
func ParseLine(text, file string, line int) ([]*Expectation, error) {
	m := directiveRE.FindStringSubmatchIndex(text)
	if m == nil {
		return nil, nil
	}
	sub := func(i int) string {
		if m[2*i] < 0 {
			return ""
		}
		return text[m[2*i]:m[2*i+1]]
	}
	rest := sub(3)
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return nil, nil // "// wanted ...", "// want_x": not a directive
	}
	errorf := func(format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", file, line, fmt.Sprintf(format, args...))
	}
	var kind Kind
	switch sub(1) {
	case "want":
		kind = KindLine
	case "want-section":
		kind = KindSection
	case "want-image":
		kind = KindImage
	case "want-none":
		kind = KindNone
	}
	condText := strings.TrimSpace(sub(2))
	var cond condition
	if m[4] >= 0 {
		c, err := parseCondition(condText)
		if err != nil {
			return nil, errorf("%s: %v", sub(1), err)
		}
		cond = c
	}
	base := Expectation{Kind: kind, File: file, Line: line, Cond: condText, cond: cond}
	fields := strings.Fields(rest)
	switch kind {
	case KindNone:
		if len(fields) != 0 {
			return nil, errorf("want-none takes no arguments, got %q", strings.Join(fields, " "))
		}
		e := base
		return []*Expectation{&e}, nil
	case KindSection:
		if len(fields) < 2 || strings.Contains(fields[0], "=") || strings.Contains(fields[1], "=") {
			return nil, errorf("want-section needs a rule and a section name: want-section CODE SECTION [key=value ...]")
		}
		e := base
		e.Rule, e.Section = fields[0], fields[1]
		if !ruleRE.MatchString(e.Rule) {
			return nil, errorf("%q is not a rule code or name", e.Rule)
		}
		if _, err := path.Match(e.Section, ""); err != nil {
			return nil, errorf("bad section pattern %q: %v", e.Section, err)
		}
		for _, f := range fields[2:] {
			kv, err := parseKeyValue(f)
			if err != nil {
				return nil, errorf("%v", err)
			}
			e.Keys = append(e.Keys, kv)
		}
		return []*Expectation{&e}, nil
	}
	// want, want-image: CODE [key=value ...] ...
	var out []*Expectation
	for _, f := range fields {
		if strings.Contains(f, "=") {
			if len(out) == 0 {
				return nil, errorf("%s: key %q before any rule", sub(1), f)
			}
			kv, err := parseKeyValue(f)
			if err != nil {
				return nil, errorf("%v", err)
			}
			last := out[len(out)-1]
			last.Keys = append(last.Keys, kv)
			continue
		}
		if !ruleRE.MatchString(f) {
			return nil, errorf("%q is not a rule code or name", f)
		}
		e := base
		e.Rule = f
		out = append(out, &e)
	}
	if len(out) == 0 {
		return nil, errorf("%s needs at least one rule", sub(1))
	}
	return out, nil
}

func parseKeyValue(s string) (KeyValue, error) {
	k, v, _ := strings.Cut(s, "=")
	if !validKeys[k] {
		return KeyValue{}, fmt.Errorf("unknown key %q (value, api, certainty, tag, blocking)", k)
	}
	if v == "" {
		return KeyValue{}, fmt.Errorf("key %q has no value", k)
	}
	switch k {
	case "value":
		if _, err := strconv.ParseUint(v, 0, 64); err != nil {
			return KeyValue{}, fmt.Errorf("value=%s is not a number", v)
		}
	case "blocking":
		if v != "true" && v != "false" {
			return KeyValue{}, fmt.Errorf("blocking=%s: want true or false", v)
		}
	}
	return KeyValue{k, v}, nil
}

// ---- conditions ------------------------------------------------------------

// condition is a conjunction of terms; the zero condition always holds.
type condition []term

// term holds when any of its atoms matches the variant (negated: none does).
type term struct {
	not   bool
	atoms []string
}

var (
	toolchains = map[string]bool{"clang": true, "mingw": true}
	arches     = map[string]bool{"x64": true, "x86": true, "arm64": true}
	opts       = map[string]bool{"O0": true, "O1": true, "O2": true, "O3": true, "Os": true}
)

func parseCondition(s string) (condition, error) {
	if s == "" {
		return nil, fmt.Errorf("empty condition []")
	}
	var c condition
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		var tm term
		if strings.HasPrefix(t, "!") {
			tm.not = true
			t = strings.TrimSpace(t[1:])
		}
		for _, a := range strings.Split(t, "|") {
			a = strings.TrimSpace(a)
			if !validAtom(a) {
				return nil, fmt.Errorf("unknown condition %q (a toolchain clang|mingw, an arch x64|x86|arm64, an opt O0..O3|Os, or a variant like clang-x64-O2)", a)
			}
			tm.atoms = append(tm.atoms, a)
		}
		c = append(c, tm)
	}
	return c, nil
}

func validAtom(a string) bool {
	if toolchains[a] || arches[a] || opts[a] {
		return true
	}
	v, ok := ParseVariant(a)
	return ok && toolchains[v.Toolchain] && arches[v.Arch] && opts[v.Opt]
}

func (c condition) holds(v Variant) bool {
	for _, t := range c {
		hit := false
		for _, a := range t.atoms {
			if a == v.Toolchain || a == v.Arch || a == v.Opt || a == v.String() {
				hit = true
				break
			}
		}
		if hit == t.not {
			return false
		}
	}
	return true
}

// Variant is how one image was built: toolchain, architecture, optimisation.
type Variant struct {
	Toolchain string // clang, mingw
	Arch      string // x64, x86, arm64
	Opt       string // O0, O2
}

func (v Variant) String() string { return v.Toolchain + "-" + v.Arch + "-" + v.Opt }

// ParseVariant splits "clang-x64-O2" (with or without ".sys").
func ParseVariant(s string) (Variant, bool) {
	s = strings.TrimSuffix(s, ".sys")
	parts := strings.Split(s, "-")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return Variant{}, false
	}
	return Variant{parts[0], parts[1], parts[2]}, true
}
