package report

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/scan"
)

// summary writes the totals, ending with the answer to "how many kernel-mode
// drivers were scanned, how many are incompatible with memory integrity,
// and which".
func (p *printer) summary(s scan.Summary) {
	p.line("Scanned %s: %s, %s skipped, %s.", plural(s.FilesSeen, "file", "files"),
		plural(s.PEImages, "PE image", "PE images"), plural(s.NonPESkipped, "non-PE file", "non-PE files"),
		plural(s.Errors, "file could not be analysed", "files could not be analysed"))
	if extra := skippedText(s); extra != "" {
		p.line("%s.", extra)
	}
	if len(s.Kinds) > 0 {
		var kinds []string
		for _, k := range slices.Sorted(maps.Keys(s.Kinds)) {
			kinds = append(kinds, fmt.Sprintf("%d %s", s.Kinds[k], clean(k)))
		}
		p.line("PE images by kind: %s.", strings.Join(kinds, ", "))
	}
	p.ruleTable(s)
	p.verdictLines(s)
}

func skippedText(s scan.Summary) string {
	var parts []string
	if s.SymlinksSkipped > 0 {
		parts = append(parts, plural(s.SymlinksSkipped, "symbolic link", "symbolic links")+" not followed")
	}
	if s.SpecialSkipped > 0 {
		parts = append(parts, plural(s.SpecialSkipped, "device, pipe or socket", "devices, pipes or sockets")+" skipped")
	}
	if s.LimitReached > 0 {
		parts = append(parts, plural(s.LimitReached, "file", "files")+" cut short by a limit")
	}
	if s.FilesWithSkippedRules > 0 {
		parts = append(parts, plural(s.FilesWithSkippedRules, "file", "files")+" not checked by every rule (a rule does not support them; -v shows which)")
	}
	return strings.Join(parts, ", ")
}

func (p *printer) ruleTable(s scan.Summary) {
	if len(s.ByRule) == 0 {
		return
	}
	p.line("Findings by rule (%d in all):", s.Findings)
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	for _, rc := range s.ByRule {
		code := rc.Code
		if code == "" {
			code = "-"
		}
		n := "0"
		if rc.Findings > 0 {
			n = fmt.Sprintf("%d in %s", rc.Findings, plural(rc.Files, "file", "files"))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", code, clean(rc.Rule), n)
	}
	tw.Flush()
	p.line("%s", strings.TrimSuffix(b.String(), "\n"))
}

// verdictLines says how many kernel-mode drivers were scanned and lists
// those that memory integrity refuses.
func (p *printer) verdictLines(s scan.Summary) {
	head := plural(s.KernelDrivers, "kernel-mode driver", "kernel-mode drivers") + " scanned"
	if s.KernelDriversWithErrors > 0 {
		head += fmt.Sprintf(" (%d could not be fully analysed: see their errors above)", s.KernelDriversWithErrors)
	}
	switch {
	case s.KernelDrivers == 0:
		p.line("No kernel-mode drivers scanned.")
	case s.Incompatible == 0:
		p.line("%s; none is incompatible with memory integrity.", head)
	default:
		verb := "are"
		if s.Incompatible == 1 {
			verb = "is"
		}
		p.line("%s; %s %s %s:", head, p.paint(red, fmt.Sprint(s.Incompatible)), verb, p.paint(red, "incompatible with memory integrity"))
		for _, path := range s.IncompatiblePaths {
			p.line("  %s", clean(path))
		}
	}
	if ranCallSiteRules(s) {
		p.line("%s call-site findings (codes 0x2000-0x2002).", plural(s.CallSiteDrivers, "kernel-mode driver has", "kernel-mode drivers have"))
	}
}

// ranCallSiteRules reports whether any rule in the scan is a call-site rule.
func ranCallSiteRules(s scan.Summary) bool {
	return slices.ContainsFunc(s.ByRule, func(rc scan.RuleCount) bool {
		return scan.IsCallSite(checks.Finding{Code: rc.Code})
	})
}
