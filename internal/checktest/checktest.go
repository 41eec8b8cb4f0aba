package checktest

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// Image is one built fixture image.
type Image struct {
	// Path is the image file: <dir>/drivers/<case>/<variant>.sys.
	Path string
	// Case is the fixture's name (the source's base name).
	Case    string
	Variant Variant
	// Sources are the case's C files, relative to the testdata directory
	// and slash-separated ("src/<case>.c" or "src/<case>/<file>.c").
	Sources []string
}

// Name is "<case>/<variant>", the image's subtest name.
func (im *Image) Name() string { return im.Case + "/" + im.Variant.String() }

// Images lists the fixture images under dir (a testdata directory holding
// src/ and drivers/), sorted by case and variant. It fails when a case has
// sources but no images or images but no sources, or an image's file name is
// not a variant.
func Images(dir string) ([]*Image, error) {
	sources, err := caseSources(dir)
	if err != nil {
		return nil, err
	}
	caseDirs, err := os.ReadDir(filepath.Join(dir, "drivers"))
	if err != nil {
		return nil, fmt.Errorf("no fixture images: %w (run scripts/build-fixtures.sh)", err)
	}
	var out []*Image
	seen := map[string]bool{}
	for _, cd := range caseDirs {
		if !cd.IsDir() {
			continue
		}
		c := cd.Name()
		srcs, ok := sources[c]
		if !ok {
			return nil, fmt.Errorf("drivers/%s has no source src/%s.c or src/%s/ (stale images? rerun scripts/build-fixtures.sh)", c, c, c)
		}
		files, err := os.ReadDir(filepath.Join(dir, "drivers", c))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if f.IsDir() || !strings.HasSuffix(f.Name(), ".sys") {
				continue
			}
			v, ok := ParseVariant(f.Name())
			if !ok || !toolchains[v.Toolchain] || !arches[v.Arch] || !opts[v.Opt] {
				return nil, fmt.Errorf("drivers/%s/%s: file name is not <toolchain>-<arch>-<opt>.sys", c, f.Name())
			}
			out = append(out, &Image{Path: filepath.Join(dir, "drivers", c, f.Name()), Case: c, Variant: v, Sources: srcs})
			seen[c] = true
		}
	}
	for c := range sources {
		if !seen[c] {
			return nil, fmt.Errorf("src/%s has no images in drivers/%s (run scripts/build-fixtures.sh)", c, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out, nil
}

// caseSources maps each case to its source files.
func caseSources(dir string) (map[string][]string, error) {
	entries, err := os.ReadDir(filepath.Join(dir, "src"))
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, e := range entries {
		switch {
		case e.IsDir():
			files, err := filepath.Glob(filepath.Join(dir, "src", e.Name(), "*.c"))
			if err != nil {
				return nil, err
			}
			if len(files) == 0 {
				return nil, fmt.Errorf("src/%s/ holds no .c file", e.Name())
			}
			sort.Strings(files)
			for _, f := range files {
				out[e.Name()] = append(out[e.Name()], "src/"+e.Name()+"/"+filepath.Base(f))
			}
		case strings.HasSuffix(e.Name(), ".c"):
			c := strings.TrimSuffix(e.Name(), ".c")
			out[c] = append(out[c], "src/"+e.Name())
		}
	}
	return out, nil
}

// Expectations parses the want directives of the image's sources (all of
// them, whatever their conditions). dir is the testdata directory.
func (im *Image) Expectations(dir string) ([]*Expectation, error) {
	var out []*Expectation
	for _, s := range im.Sources {
		exps, err := ParseFile(filepath.Join(dir, filepath.FromSlash(s)), s)
		if err != nil {
			return nil, err
		}
		out = append(out, exps...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no want directive (write // want-none for a case that must be clean)", strings.Join(im.Sources, ", "))
	}
	return out, nil
}

// Result is the outcome of one image.
type Result struct {
	Image    *Image
	Findings []checks.Finding
	// Errors are the analyzers' errors (each also fails the test).
	Errors []error
	// Problems are the mismatches reported (empty when the image passed).
	Problems []string
	// Skipped counts expectations for rules not among the analyzers run.
	Skipped int
	// Unsupported are the analyzers that declined the image with an error
	// wrapping errors.ErrUnsupported (an architecture they do not handle
	// yet); their expectations are skipped, not failed.
	Unsupported map[string]error
}

// Run checks every fixture image under dir (the testdata directory) whose
// case name or "<case>/<variant>" matches one of patterns (path.Match
// syntax; none means all) against the expectations in its sources, running
// analyzers on it with checks.Run. Each image is a subtest named
// "<case>/<variant>"; a mismatch fails it with the image path and the
// expected and actual findings.
func Run(t *testing.T, analyzers []*checks.Analyzer, dir string, patterns ...string) []*Result {
	t.Helper()
	images, err := Images(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil {
			t.Fatalf("bad pattern %q: %v", p, err)
		}
	}
	var results []*Result
	for _, im := range images {
		if !selected(im, patterns) {
			continue
		}
		res := &Result{Image: im}
		results = append(results, res)
		t.Run(im.Name(), func(t *testing.T) {
			check(t, analyzers, dir, res)
		})
	}
	if len(results) == 0 {
		t.Fatalf("no fixture image matches %q", patterns)
	}
	logSkipped(t, results)
	return results
}

// logSkipped summarises what was not checked: expectations of rules not
// among the analyzers, and analyzers that declined images as unsupported.
func logSkipped(t *testing.T, results []*Result) {
	t.Helper()
	skipped := 0
	unsupported := map[string]int{}
	sample := map[string]string{}
	for _, r := range results {
		skipped += r.Skipped
		for name, err := range r.Unsupported {
			unsupported[name]++
			sample[name] = err.Error()
		}
	}
	if skipped > 0 {
		t.Logf("skipped %d expectations of rules not among the analyzers (or declined as unsupported)", skipped)
	}
	var names []string
	for n := range unsupported {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.Logf("%s declined %d images as unsupported, e.g. %s", n, unsupported[n], sample[n])
	}
}

func selected(im *Image, patterns []string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, im.Case); ok {
			return true
		}
		if ok, _ := path.Match(p, im.Name()); ok {
			return true
		}
	}
	return false
}

func check(t *testing.T, analyzers []*checks.Analyzer, dir string, res *Result) {
	t.Helper()
	im := res.Image
	exps, err := im.Expectations(dir)
	if err != nil {
		t.Fatal(err)
	}
	active, skip, err := Active(exps, im.Variant, analyzers)
	if err != nil {
		t.Fatal(err)
	}
	res.Skipped = len(skip)
	fh, err := os.Open(im.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		t.Fatal(err)
	}
	pf, err := peimage.Parse(fh, st.Size(), peimage.Limits{})
	if err != nil {
		t.Fatalf("%s: %v", im.Path, err)
	}
	findings, errs := checks.Run(pf, analyzers)
	res.Findings, res.Errors = findings, errs
	for _, e := range errs {
		if a := analyzerOf(analyzers, e); a != nil && errors.Is(e, errors.ErrUnsupported) {
			if res.Unsupported == nil {
				res.Unsupported = map[string]error{}
			}
			res.Unsupported[a.Name] = e
			continue
		}
		t.Errorf("%s: analyzer error: %v", im.Path, e)
	}
	if len(res.Unsupported) > 0 {
		var keep []*Expectation
		for _, e := range active {
			if a := findAnalyzer(analyzers, e.Rule); a != nil && res.Unsupported[a.Name] != nil {
				res.Skipped++
				continue
			}
			keep = append(keep, e)
		}
		active = keep
	}
	lt, err := ReadLineTable(im.Path)
	if err != nil {
		t.Fatalf("%s: %v", im.Path, err)
	}
	res.Problems = Match(active, findings, pf, lt)
	for _, p := range res.Problems {
		t.Errorf("%s: %s", im.Path, p)
	}
	if len(res.Problems) > 0 {
		t.Logf("%s: all findings:\n%s", im.Path, describeAll(findings, pf, lt))
	}
}

// Active returns the expectations that apply to variant v and name a rule
// among analyzers, and those skipped because their rule is not among them.
// It fails on a rule that is no known analyzer and not a 0x code, and on a
// want-none that applies together with other expectations.
func Active(exps []*Expectation, v Variant, analyzers []*checks.Analyzer) (active, skipped []*Expectation, err error) {
	none := false
	for _, e := range exps {
		if !e.Applies(v) {
			continue
		}
		if e.Kind == KindNone {
			none = true
			active = append(active, e)
			continue
		}
		if !isHexCode(e.Rule) && checks.Lookup(e.Rule) == nil && findAnalyzer(analyzers, e.Rule) == nil {
			return nil, nil, fmt.Errorf("%s: unknown rule %q", e.Where(), e.Rule)
		}
		if findAnalyzer(analyzers, e.Rule) == nil {
			skipped = append(skipped, e)
			continue
		}
		active = append(active, e)
	}
	if none {
		for _, e := range active {
			if e.Kind != KindNone {
				return nil, nil, fmt.Errorf("%s: want-none applies to %s together with %s at %s", exps[0].File, v, e, e.Where())
			}
		}
		for _, e := range skipped {
			return nil, nil, fmt.Errorf("%s: want-none applies to %s together with %s at %s", exps[0].File, v, e, e.Where())
		}
	}
	return active, skipped, nil
}

// analyzerOf returns the analyzer an error of checks.Run came from (Run
// prefixes each error with the analyzer's name), or nil.
func analyzerOf(analyzers []*checks.Analyzer, err error) *checks.Analyzer {
	for _, a := range analyzers {
		if strings.HasPrefix(err.Error(), a.Name+": ") {
			return a
		}
	}
	return nil
}

func isHexCode(s string) bool {
	if len(s) < 3 || (s[:2] != "0x" && s[:2] != "0X") {
		return false
	}
	_, err := strconv.ParseUint(s[2:], 16, 64)
	return err == nil
}

func findAnalyzer(analyzers []*checks.Analyzer, rule string) *checks.Analyzer {
	for _, a := range analyzers {
		if ruleIs(a.Code, a.Name, rule) {
			return a
		}
	}
	return nil
}

func ruleIs(code, name, rule string) bool {
	return (code != "" && strings.EqualFold(code, rule)) || name == rule
}

// Match pairs the active expectations of one image with its findings and
// returns a message per expectation without a finding and per finding
// without an expectation (nil when they match exactly). f gives section long
// names; lt maps finding RVAs to source lines (it may be nil when there are
// no want expectations).
func Match(exps []*Expectation, findings []checks.Finding, f *peimage.File, lt *LineTable) []string {
	used := make([]bool, len(findings))
	var problems []string
	positions := func(i int) []Pos {
		if lt == nil || findings[i].RVA == nil {
			return nil
		}
		return lt.Lookup(*findings[i].RVA)
	}
	take := func(e *Expectation, ok func(i int) bool) bool {
		for i := range findings {
			if !used[i] && ruleIs(findings[i].Code, findings[i].Rule, e.Rule) && keysMatch(e, &findings[i]) && ok(i) {
				used[i] = true
				return true
			}
		}
		return false
	}
	missing := func(e *Expectation, what string) {
		msg := fmt.Sprintf("missing finding for %s: %s%s", e.Where(), e, what)
		if near := nearMisses(e, findings, used, f, positions); near != "" {
			msg += "; " + near
		}
		problems = append(problems, msg)
	}
	for pass := 0; pass < 4; pass++ {
		for _, e := range exps {
			switch {
			case pass == 0 && e.Kind == KindSection && !e.Glob():
				if !take(e, func(i int) bool { return sectionIs(f, &findings[i], e.Section) }) {
					missing(e, "")
				}
			case pass == 1 && e.Kind == KindLine:
				if !take(e, func(i int) bool { return atLine(positions(i), e) }) {
					missing(e, "")
				}
			case pass == 2 && e.Kind == KindSection && e.Glob():
				n := 0
				for i := range findings {
					if !used[i] && ruleIs(findings[i].Code, findings[i].Rule, e.Rule) && keysMatch(e, &findings[i]) && globSection(f, &findings[i], e.Section) {
						used[i] = true
						n++
					}
				}
				if n == 0 {
					missing(e, " (a glob: one or more findings)")
				}
			case pass == 3 && e.Kind == KindImage:
				if !take(e, func(i int) bool { return findings[i].Section == "" && findings[i].RVA == nil }) {
					missing(e, "")
				}
			}
		}
	}
	for i := range findings {
		if !used[i] {
			problems = append(problems, "unexpected finding "+describe(&findings[i], f, positions(i)))
		}
	}
	return problems
}

// nearMisses describes unused findings of the expectation's rule at its
// place, to explain a mismatch of keys.
func nearMisses(e *Expectation, findings []checks.Finding, used []bool, f *peimage.File, positions func(int) []Pos) string {
	var near []string
	for i := range findings {
		fd := &findings[i]
		if used[i] || !ruleIs(fd.Code, fd.Rule, e.Rule) {
			continue
		}
		here := false
		switch e.Kind {
		case KindSection:
			here = sectionIs(f, fd, e.Section) || globSection(f, fd, e.Section)
		case KindLine:
			here = atLine(positions(i), e)
		case KindImage:
			here = fd.Section == "" && fd.RVA == nil
		}
		if here {
			near = append(near, "got "+describe(fd, f, positions(i)))
		}
	}
	return strings.Join(near, "; ")
}

func atLine(ps []Pos, e *Expectation) bool {
	for _, p := range ps {
		if p.Is(e.File, e.Line) {
			return true
		}
	}
	return false
}

// sectionNames are the names a finding's section goes by: the name in the
// finding and, through its index, the header and long names.
func sectionNames(f *peimage.File, fd *checks.Finding) []string {
	names := []string{}
	if fd.Section != "" {
		names = append(names, fd.Section)
	}
	if fd.SectionIndex != nil && f != nil && *fd.SectionIndex >= 0 && *fd.SectionIndex < len(f.Sections) {
		s := &f.Sections[*fd.SectionIndex]
		names = append(names, s.Name, f.LongName(s))
	}
	return names
}

func sectionIs(f *peimage.File, fd *checks.Finding, name string) bool {
	for _, n := range sectionNames(f, fd) {
		if n == name {
			return true
		}
	}
	return false
}

func globSection(f *peimage.File, fd *checks.Finding, pattern string) bool {
	for _, n := range sectionNames(f, fd) {
		if ok, _ := path.Match(pattern, n); ok {
			return true
		}
	}
	return false
}

func keysMatch(e *Expectation, fd *checks.Finding) bool {
	for _, kv := range e.Keys {
		switch kv.Key {
		case "value":
			want, _ := strconv.ParseUint(kv.Value, 0, 64)
			if fd.Value == nil || *fd.Value != want {
				return false
			}
		case "api":
			if !strings.EqualFold(fd.API, kv.Value) {
				return false
			}
		case "certainty":
			if !strings.EqualFold(fd.Certainty, kv.Value) {
				return false
			}
		case "tag":
			if fd.Tag != kv.Value {
				return false
			}
		case "blocking":
			if strconv.FormatBool(fd.Blocking) != kv.Value {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// describe renders a finding for a failure message.
func describe(fd *checks.Finding, f *peimage.File, ps []Pos) string {
	var b strings.Builder
	if fd.Code != "" {
		fmt.Fprintf(&b, "%s (%s)", fd.Code, fd.Rule)
	} else {
		b.WriteString(fd.Rule)
	}
	if fd.Section != "" {
		fmt.Fprintf(&b, " section %q", fd.Section)
		if names := sectionNames(f, fd); len(names) == 3 && names[2] != names[0] {
			fmt.Fprintf(&b, " (%s)", names[2])
		}
	}
	if fd.RVA != nil {
		fmt.Fprintf(&b, " at RVA 0x%x", *fd.RVA)
	}
	if len(ps) > 0 {
		strs := make([]string, len(ps))
		for i, p := range ps {
			strs[i] = p.String()
		}
		fmt.Fprintf(&b, " [%s]", strings.Join(strs, " <- "))
	}
	var keys []string
	if fd.API != "" {
		keys = append(keys, "api="+fd.API)
	}
	if fd.Value != nil {
		keys = append(keys, fmt.Sprintf("value=0x%x", *fd.Value))
	}
	if fd.Certainty != "" {
		keys = append(keys, "certainty="+fd.Certainty)
	}
	if fd.Tag != "" {
		keys = append(keys, "tag="+fd.Tag)
	}
	keys = append(keys, "blocking="+strconv.FormatBool(fd.Blocking))
	fmt.Fprintf(&b, " %s: %s", strings.Join(keys, " "), fd.Message)
	return b.String()
}

func describeAll(findings []checks.Finding, f *peimage.File, lt *LineTable) string {
	if len(findings) == 0 {
		return "\t(none)"
	}
	var lines []string
	for i := range findings {
		var ps []Pos
		if lt != nil && findings[i].RVA != nil {
			ps = lt.Lookup(*findings[i].RVA)
		}
		lines = append(lines, "\t"+describe(&findings[i], f, ps))
	}
	return strings.Join(lines, "\n")
}
