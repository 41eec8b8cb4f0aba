package report

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/scan"
)

// TextOptions tune the text report.
type TextOptions struct {
	// Color adds ANSI colours (see UseColor).
	Color bool
	// Verbose lists every file, with its SHA-256, not only the files with
	// findings or errors.
	Verbose bool
}

// Text writes a report for people: the files with something to say,
// sorted by path, each with its findings and their fixes, then a summary
// saying how many kernel-mode drivers were scanned and which are
// incompatible with memory integrity. Nothing is written before Finish.
type Text struct {
	w        io.Writer
	opts     TextOptions
	files    []scan.FileResult
	baseline *BaselineStats
}

// NewText returns a text handler writing to w.
func NewText(w io.Writer, opts TextOptions) *Text { return &Text{w: w, opts: opts} }

// File records r if the report lists it: files with findings or an error,
// and every file in verbose mode.
func (t *Text) File(r scan.FileResult) error {
	if t.opts.Verbose || len(r.Findings) > 0 || r.Error != "" {
		t.files = append(t.files, r)
	}
	return nil
}

// SetBaseline makes the summary say what a baseline did.
func (t *Text) SetBaseline(s BaselineStats) { t.baseline = &s }

// Finish writes the listed files and the summary.
func (t *Text) Finish(s scan.Summary) error {
	sortByPath(t.files)
	bw := bufio.NewWriter(t.w)
	p := &printer{w: bw, color: t.opts.Color}
	for _, r := range t.files {
		p.file(r, t.opts.Verbose)
		p.line("")
	}
	p.summary(s)
	if t.baseline != nil {
		p.baselineLine(*t.baseline)
	}
	if p.err != nil {
		return fmt.Errorf("write text report: %w", p.err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write text report: %w", err)
	}
	return flush(t.w)
}

// WriteTextFile writes the text report's block for one file, without
// colour: its header line, a line per finding and a fix line under each.
func WriteTextFile(w io.Writer, r scan.FileResult) error {
	p := &printer{w: w}
	p.file(r, false)
	return p.err
}

// ANSI colours.
const (
	bold   = "\x1b[1m"
	red    = "\x1b[31m"
	yellow = "\x1b[33m"
	faint  = "\x1b[2m"
	reset  = "\x1b[0m"
)

// printer writes lines, keeping the first write error.
type printer struct {
	w     io.Writer
	color bool
	err   error
}

func (p *printer) line(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format+"\n", args...)
	}
}

// paint wraps s in an ANSI colour when colour is on.
func (p *printer) paint(color, s string) string {
	if !p.color || s == "" {
		return s
	}
	return color + s + reset
}

func (p *printer) file(r scan.FileResult, verbose bool) {
	p.line("%s", p.header(r))
	if verbose && r.SHA256 != "" {
		p.line("  sha256 %s, %d bytes", r.SHA256, r.Size)
	}
	if verbose {
		p.whoMadeIt(r)
	}
	if r.Error != "" {
		p.line("  %s %s", p.paint(red, "error:"), clean(r.Error))
	}
	for _, f := range r.Findings {
		p.finding(f, r.KernelMode())
	}
	for _, a := range r.Anomalies {
		p.line("  note: %s", clean(a))
	}
}

// header is "path (machine, kind): verdict".
func (p *printer) header(r scan.FileResult) string {
	var b strings.Builder
	b.WriteString(p.paint(bold, clean(r.Path)))
	var what []string
	for _, s := range []string{r.Machine, r.Kind} {
		if s != "" {
			what = append(what, clean(s))
		}
	}
	if len(what) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(what, ", "))
	}
	b.WriteString(": ")
	b.WriteString(p.verdict(r))
	return b.String()
}

func (p *printer) verdict(r scan.FileResult) string {
	n := plural(len(r.Findings), "finding", "findings")
	switch {
	case r.KernelMode() && r.Blocking():
		return p.paint(red, "incompatible with memory integrity") + ", " + n
	case r.Error != "" && len(r.Findings) == 0:
		return p.paint(red, "not analysed")
	case len(r.Findings) == 0:
		return "no findings"
	case r.Kind != "" && !r.KernelMode():
		return n + " (not a kernel-mode image: memory integrity does not govern it)"
	}
	return n
}

// finding writes "CODE RULE WHERE: MESSAGE [blocks memory integrity]" and
// the fix line. The blocking mark is shown on kernel-mode images only, the
// images memory integrity governs.
func (p *printer) finding(f checks.Finding, kernel bool) {
	code := f.Code
	if code == "" {
		code = "-"
	}
	blocking := f.Blocking && kernel
	color := yellow
	if blocking {
		color = red
	}
	head := p.paint(color, code+" "+clean(f.Rule))
	if w := where(f); w != "" {
		head += " at " + w
	}
	msg := clean(f.Message)
	if blocking {
		msg += " " + p.paint(red, "[blocks memory integrity]")
	}
	p.line("  %s: %s", head, msg)
	if fix := fixOf(f); fix != "" {
		p.line("      %s", p.paint(faint, "fix: "+clean(fix)))
	}
}

// fixOf is the finding's own fix, or its rule's.
func fixOf(f checks.Finding) string {
	if f.Fix != "" {
		return f.Fix
	}
	if a := checks.Lookup(f.Rule); a != nil {
		return a.Fix
	}
	return ""
}

// where describes a finding's location: the function and call site of a
// call-site finding, the section (index, quoted name, header offset), the
// RVA or RVA range.
func where(f checks.Finding) string {
	var parts []string
	add := func(format string, args ...any) { parts = append(parts, fmt.Sprintf(format, args...)) }
	if f.Function != nil {
		s := fmt.Sprintf("function 0x%x", *f.Function)
		if f.FunctionName != "" {
			s = fmt.Sprintf("function %s (0x%x)", clean(f.FunctionName), *f.Function)
		}
		if f.Source != nil {
			s += fmt.Sprintf(" (%s:%d)", clean(f.Source.File), f.Source.Line)
		}
		parts = append(parts, s)
	}
	if f.SectionIndex != nil || f.Section != "" {
		s := "section"
		if f.SectionIndex != nil {
			s += fmt.Sprintf("[%d]", *f.SectionIndex)
		}
		if f.Section != "" {
			s += " " + strconv.Quote(f.Section)
		}
		parts = append(parts, s)
	}
	if f.HeaderOffset != nil {
		add("header 0x%x", *f.HeaderOffset)
	}
	parts = append(parts, rvaText(f)...)
	parts = append(parts, callText(f)...)
	return strings.Join(parts, ", ")
}

func rvaText(f checks.Finding) []string {
	if f.RVA == nil {
		return nil
	}
	label := "rva"
	if f.Function != nil || scan.IsCallSite(f) {
		label = "call"
	}
	s := fmt.Sprintf("%s 0x%x", label, *f.RVA)
	if f.RVAEnd != nil && *f.RVAEnd > *f.RVA {
		s += fmt.Sprintf("-0x%x", *f.RVAEnd)
	}
	if f.FileOffset != nil {
		s += fmt.Sprintf(" (file offset 0x%x)", *f.FileOffset)
	}
	return []string{s}
}

// callText describes what a call-site finding calls, with what, how sure
// the analysis is and how the call is reached.
func callText(f checks.Finding) []string {
	var parts []string
	if f.API != "" {
		parts = append(parts, "api "+clean(f.API))
	}
	if f.Value != nil {
		parts = append(parts, fmt.Sprintf("value 0x%x", *f.Value))
	}
	if f.Tag != "" {
		parts = append(parts, "tag "+strconv.Quote(f.Tag))
	}
	if f.Certainty != "" {
		parts = append(parts, "certainty "+clean(f.Certainty))
	}
	if len(f.Path) > 0 {
		parts = append(parts, "via "+clean(strings.Join(f.Path, " > ")))
	}
	return parts
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// whoMadeIt writes the version resource's strings and the Authenticode
// hashes (text -v).
func (p *printer) whoMadeIt(r scan.FileResult) {
	if a := r.Authenticode; a != nil {
		switch {
		case a.Error != "":
			p.line("  authenticode: %s", clean(a.Error))
		default:
			signed := "no certificate table"
			if a.Signed {
				signed = "has a certificate table (signature not verified)"
			}
			p.line("  authenticode sha1 %s, sha256 %s; %s", a.SHA1, a.SHA256, signed)
		}
	}
	v := r.Version
	if v == nil {
		return
	}
	var parts []string
	for _, kv := range [][2]string{
		{"company", v.CompanyName}, {"product", v.ProductName}, {"description", v.FileDescription},
		{"version", v.FileVersion}, {"original name", v.OriginalFilename},
	} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+" "+strconv.Quote(kv[1]))
		}
	}
	if len(parts) > 0 {
		p.line("  version info: %s", strings.Join(parts, ", "))
	}
	if v.Error != "" {
		p.line("  version info: %s", clean(v.Error))
	}
}

// baselineLine says how many findings a baseline suppressed and how many
// of its findings are gone.
func (p *printer) baselineLine(b BaselineStats) {
	p.line("Baseline %s: %s, %s suppressed (already in the baseline), %s gone since.",
		clean(b.File), plural(b.New, "new finding", "new findings"), plural(b.Suppressed, "finding", "findings"),
		plural(b.Gone, "baseline finding", "baseline findings"))
	if b.FilesNotScanned > 0 {
		p.line("%s of the baseline with findings not scanned this time.", plural(b.FilesNotScanned, "file", "files"))
	}
}
