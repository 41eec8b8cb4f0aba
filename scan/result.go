package scan

import (
	"slices"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// FileResult is the outcome of scanning one path. See docs/output.md for the
// meaning of every field.
type FileResult struct {
	// Path is the path as the scanner reached it: a command-line argument,
	// or a file found under one (joined to it, symbolic links unresolved).
	Path string `json:"path"`
	// SHA256 is the hex SHA-256 of the whole file, or "" where the file was
	// not read (unreadable, over the size limit, timed out first).
	SHA256 string `json:"sha256"`
	// Size is the file size in bytes (0 where it could not be read).
	Size int64 `json:"size"`
	// Machine is peimage.MachineName of the image's machine, or "" for a
	// file that is not a readable PE image.
	Machine string `json:"machine"`
	// Kind is the image's peimage.Kind, or "" where the image was not
	// classified (not a PE image, damaged headers, over a limit).
	Kind string `json:"kind"`
	// Version is what the image's version resource says about who made it,
	// where it has one (its Error set where the resource is damaged).
	Version *peimage.VersionInfo `json:"version_info,omitempty"`
	// Authenticode holds the image's Authenticode SHA-1 and SHA-256, where
	// it is a PE image that was read (its Error set where they could not be
	// computed).
	Authenticode *peimage.AuthenticodeHashes `json:"authenticode,omitempty"`
	// Findings are the rules' findings, in rule order then location order.
	// Never nil, so that JSON always has an array.
	Findings []checks.Finding `json:"findings"`
	// Error says why the file could not be read or analysed completely
	// enough to trust an absence of findings.
	Error string `json:"error,omitempty"`
	// Anomalies are oddities of the headers that did not stop the analysis,
	// and errors of rules that could not finish on an image where other
	// findings were still produced.
	Anomalies []string `json:"anomalies,omitempty"`
	// LimitReached is set when one of peimage.Limits cut the analysis short
	// (the reason is in Error or Anomalies).
	LimitReached bool `json:"limit_reached,omitempty"`
	// SkippedRules names the rules that do not apply to this image (their
	// error wraps errors.ErrUnsupported, e.g. an architecture a rule cannot
	// decode); the reason is in Anomalies.
	SkippedRules []string `json:"skipped_rules,omitempty"`
}

// Blocking reports whether any finding alone stops Windows from loading the
// image with memory integrity on.
func (r FileResult) Blocking() bool {
	return slices.ContainsFunc(r.Findings, func(f checks.Finding) bool { return f.Blocking })
}

// KernelMode reports whether the image was classified as a kernel-mode image.
func (r FileResult) KernelMode() bool { return r.Kind == string(peimage.KindKernelDriver) }

// IsCallSite reports whether f comes from a call-site rule: Driver
// Verifier codes 0x2000 to 0x2002 (executable pool allocations and the like).
func IsCallSite(f checks.Finding) bool { return checks.IsCallSiteCode(f.Code) }

// Summary totals a scan. Scanner.Scan returns it; Add folds in one result.
type Summary struct {
	// FilesSeen counts every path reported (FileResults emitted) plus the
	// non-PE files skipped during folder walks.
	FilesSeen int `json:"files_seen"`
	// PEImages counts the PE images that were classified and checked.
	PEImages int `json:"pe_images"`
	// NonPESkipped counts files met in a folder walk that are not PE
	// images; they are not reported one by one.
	NonPESkipped int `json:"non_pe_skipped"`
	// SymlinksSkipped counts symbolic links met in a folder walk and not
	// followed (FollowSymlinks off, or the target is already scanned).
	SymlinksSkipped int `json:"symlinks_skipped"`
	// SpecialSkipped counts devices, pipes and sockets met in a folder walk.
	SpecialSkipped int `json:"special_skipped"`
	// Errors counts results with an Error.
	Errors int `json:"errors"`
	// LimitReached counts results whose analysis a limit cut short.
	LimitReached int `json:"limit_reached"`
	// FilesWithSkippedRules counts results with SkippedRules.
	FilesWithSkippedRules int `json:"files_with_skipped_rules"`
	// Findings counts all findings, over all files and rules.
	Findings int `json:"findings"`
	// ByRule counts findings per rule, in the order of the rules that ran.
	ByRule []RuleCount `json:"by_rule"`
	// Kinds counts PE images per Kind.
	Kinds map[string]int `json:"kinds"`
	// KernelDrivers counts kernel-mode images (kind "kernel-driver").
	KernelDrivers int `json:"kernel_drivers"`
	// KernelDriversWithErrors counts kernel-mode images whose analysis
	// failed or was incomplete (also counted in Errors).
	KernelDriversWithErrors int `json:"kernel_drivers_with_errors"`
	// Incompatible counts kernel-mode images with at least one blocking
	// finding: Windows does not load them with memory integrity on.
	Incompatible int `json:"incompatible"`
	// IncompatiblePaths are their paths, sorted.
	IncompatiblePaths []string `json:"incompatible_paths"`
	// CallSiteDrivers counts kernel-mode images with at least one call-site
	// finding (codes 0x2000-0x2002).
	CallSiteDrivers int `json:"call_site_drivers"`
}

// RuleCount is the tally of one rule.
type RuleCount struct {
	Code string `json:"code,omitempty"`
	Rule string `json:"rule"`
	// Findings is the number of findings; Files the number of files with
	// at least one.
	Findings int `json:"findings"`
	Files    int `json:"files"`
}

// NewSummary returns an empty summary listing analyzers in ByRule with
// zero counts, so that a rule that found nothing still shows.
func NewSummary(analyzers []*checks.Analyzer) Summary {
	s := Summary{ByRule: []RuleCount{}, Kinds: map[string]int{}, IncompatiblePaths: []string{}}
	for _, a := range analyzers {
		s.ByRule = append(s.ByRule, RuleCount{Code: a.Code, Rule: a.Name})
	}
	return s
}

// Add folds r into the summary.
func (s *Summary) Add(r FileResult) {
	s.FilesSeen++
	if r.Error != "" {
		s.Errors++
	}
	if r.LimitReached {
		s.LimitReached++
	}
	if len(r.SkippedRules) > 0 {
		s.FilesWithSkippedRules++
	}
	if r.Kind != "" {
		s.PEImages++
		if s.Kinds == nil {
			s.Kinds = map[string]int{}
		}
		s.Kinds[r.Kind]++
	}
	s.addFindings(r.Findings)
	if !r.KernelMode() {
		return
	}
	s.KernelDrivers++
	if r.Error != "" {
		s.KernelDriversWithErrors++
	}
	if r.Blocking() {
		s.Incompatible++
		i, _ := slices.BinarySearch(s.IncompatiblePaths, r.Path)
		s.IncompatiblePaths = slices.Insert(s.IncompatiblePaths, i, r.Path)
	}
	if slices.ContainsFunc(r.Findings, IsCallSite) {
		s.CallSiteDrivers++
	}
}

func (s *Summary) addFindings(fs []checks.Finding) {
	seen := map[string]bool{}
	for _, f := range fs {
		s.Findings++
		i := slices.IndexFunc(s.ByRule, func(c RuleCount) bool { return c.Rule == f.Rule })
		if i < 0 {
			s.ByRule = append(s.ByRule, RuleCount{Code: f.Code, Rule: f.Rule})
			i = len(s.ByRule) - 1
		}
		s.ByRule[i].Findings++
		if !seen[f.Rule] {
			seen[f.Rule] = true
			s.ByRule[i].Files++
		}
	}
}
