// Package checks holds hvcicheck's rules, one file per rule, each an
// Analyzer with its Driver Verifier code, a stable name, its documentation
// and its fix. All returns them in a fixed order; Run applies a set of them to
// one parsed image.
package checks

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hvcicheck/hvcicheck/peimage"
)

// Rule describes one check: what it is called and what to do about it. The
// same text serves docs/checks.md, `hvcicheck explain` and every report.
type Rule struct {
	// Code is Driver Verifier's code ("0x2003"), or "" for a rule that has
	// none (page-crossing relocations).
	Code string
	// Name is the stable kebab-case rule name.
	Name string
	// Title is a one-line summary.
	Title string
	// Doc says what the rule means and why memory integrity cares.
	Doc string
	// Fix says how to make the finding go away.
	Fix string
}

// CallSite reports whether the rule judges the calls the image's code makes
// (the call-site rules, Driver Verifier codes 0x2000 to 0x2002): it decodes
// code. The other rules, the image rules, read only the headers and the
// tables they point to.
func (r *Rule) CallSite() bool { return IsCallSiteCode(r.Code) }

// IsCallSiteCode reports whether code, a Driver Verifier code such as
// "0x2000" (the prefix and case optional), is one of the call-site rules'
// codes, 0x2000 to 0x2002.
func IsCallSiteCode(code string) bool {
	code = strings.TrimPrefix(strings.ToLower(code), "0x")
	if code == "" {
		return false
	}
	n, err := strconv.ParseUint(code, 16, 32)
	return err == nil && n >= 0x2000 && n <= 0x2002
}

// Analyzer is one rule and the function that applies it to an image.
type Analyzer struct {
	Rule
	Run func(*Pass) error
}

// Pass is one analyzer's view of one image.
type Pass struct {
	File  *peimage.File
	Facts *Facts
	rule  *Rule
	out   *[]Finding
}

// Report records a finding of the running rule. Code and Rule are filled in
// from the analyzer.
func (p *Pass) Report(f Finding) {
	f.Code = p.rule.Code
	f.Rule = p.rule.Name
	*p.out = append(*p.out, f)
}

// Finding is one problem at one place in one image.
type Finding struct {
	Code    string `json:"code,omitempty"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
	// Fix is the one-line remedy for this finding.
	Fix string `json:"fix,omitempty"`
	// Blocking is set when the finding alone stops Windows from loading the
	// image with memory integrity on (see docs/checks.md).
	Blocking bool `json:"blocks_memory_integrity"`

	// Section checks.
	Section      string  `json:"section,omitempty"`
	SectionIndex *int    `json:"section_index,omitempty"`
	HeaderOffset *int64  `json:"header_offset,omitempty"`
	Attributes   *uint32 `json:"characteristics,omitempty"`
	Discardable  bool    `json:"discardable,omitempty"`

	// RVA is the location: the call instruction, the relocation, the start
	// of an RVA range (RVAEnd exclusive).
	RVA    *uint32 `json:"rva,omitempty"`
	RVAEnd *uint32 `json:"rva_end,omitempty"`
	// FileOffset is RVA translated to a file offset where it has one.
	FileOffset *int64 `json:"file_offset,omitempty"`

	// Call-site checks.
	API      string  `json:"api,omitempty"`
	Value    *uint64 `json:"value,omitempty"`
	Function *uint32 `json:"function,omitempty"`
	// FunctionName is the function's name from the image's debug info.
	FunctionName string   `json:"function_name,omitempty"`
	Tag          string   `json:"tag,omitempty"`
	Certainty    string   `json:"certainty,omitempty"`
	Path         []string `json:"path,omitempty"`
	Source       *Source  `json:"source,omitempty"`
}

// Source is a place in the driver's source code, from its debug info.
type Source struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

// All returns every analyzer, in report order.
func All() []*Analyzer {
	return []*Analyzer{
		ExecutablePoolType,
		ExecutableProtection,
		ExecutableMDLMapping,
		WritableExecutableSection,
		UnalignedSection,
		IATInExecutableSection,
		PageCrossingRelocation,
	}
}

// Select returns the analyzers whose code or name is in names; an empty
// names selects all. An unknown name is an error.
func Select(names []string) ([]*Analyzer, error) {
	if len(names) == 0 {
		return All(), nil
	}
	var out []*Analyzer
	for _, n := range names {
		a := Lookup(n)
		if a == nil {
			return nil, fmt.Errorf("unknown rule %q (see `hvcicheck rules`)", n)
		}
		out = append(out, a)
	}
	return out, nil
}

// Lookup finds an analyzer by code ("0x2003", "2003") or name.
func Lookup(name string) *Analyzer {
	for _, a := range All() {
		if a.Name == name || (a.Code != "" && (a.Code == name || strings.TrimPrefix(a.Code, "0x") == name)) {
			return a
		}
	}
	return nil
}

// Run applies analyzers to f and returns their findings sorted by rule order
// and location. An analyzer's error does not stop the others; the errors are
// returned joined.
func Run(f *peimage.File, analyzers []*Analyzer) ([]Finding, []error) {
	return RunFacts(NewFacts(f), analyzers)
}

// RunFacts is Run with facts the caller already holds for the image (its
// imports read once for classification and checks alike).
func RunFacts(facts *Facts, analyzers []*Analyzer) ([]Finding, []error) {
	var out []Finding
	var errs []error
	p := &Pass{File: facts.file, Facts: facts, out: &out}
	for i, a := range analyzers {
		start := len(out)
		p.rule = &analyzers[i].Rule
		if err := a.Run(p); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.Name, err))
		}
		sortFindings(out[start:])
	}
	return out, errs
}

// sortFindings sorts one rule's findings by location, stably.
func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int { return cmp.Compare(findingKey(&a), findingKey(&b)) })
}

// findingKey is where a finding sorts among its rule's: its section's
// index, else its RVA.
func findingKey(f *Finding) uint64 {
	if f.SectionIndex != nil {
		return uint64(*f.SectionIndex)
	}
	if f.RVA != nil {
		return uint64(*f.RVA)
	}
	return 0
}

func ptr[T any](v T) *T { return &v }
