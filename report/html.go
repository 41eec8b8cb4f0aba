package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"sync"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/peimage"
	"github.com/hvcicheck/hvcicheck/scan"
)

//go:embed html.tmpl
var htmlTemplateText string

// htmlTemplate returns the parsed report template. It is parsed on first
// use, not when the program starts: every run of hvcicheck links it in, few
// write HTML.
var htmlTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		// c makes a string from a binary or the file system safe to show:
		// control characters, invalid UTF-8 and bidirectional-text controls
		// become visible escapes (html/template then escapes markup).
		"c": clean,
		// path is c with a line-break opportunity after each slash, so that
		// long paths wrap at folders rather than anywhere.
		"path": func(p string) template.HTML {
			parts := strings.Split(clean(p), "/")
			for i := range parts {
				parts[i] = template.HTMLEscapeString(parts[i])
			}
			return template.HTML(strings.Join(parts, "/<wbr>"))
		},
	}).Parse(htmlTemplateText))
})

// HTMLOptions tune the HTML report.
type HTMLOptions struct {
	// ReadFiles opens each file with findings again (checking its SHA-256)
	// to draw its section layout and disassemble around each call.
	ReadFiles bool
}

// HTML writes one self-contained HTML page when the scan finishes: a
// summary table of every file, then for each file with findings or an error
// its findings with their fixes, call chains, the disassembly around each
// call and a picture of the image's layout. It fetches nothing: the styles
// are inline, the pictures inline SVG, and a Content-Security-Policy forbids
// scripts and any other load. Every string from a scanned file goes through
// html/template's escaping, after clean has made control and bidi
// characters visible.
type HTML struct {
	w        io.Writer
	tool     Tool
	opts     HTMLOptions
	files    []sarifFile
	baseline *BaselineStats
}

// NewHTML returns an HTML handler writing to w.
func NewHTML(w io.Writer, tool Tool, opts HTMLOptions) *HTML {
	return &HTML{w: w, tool: tool, opts: opts}
}

// File records r.
func (h *HTML) File(r scan.FileResult) error { return h.fileWithFingerprints(r, Fingerprints(r)) }

func (h *HTML) fileWithFingerprints(r scan.FileResult, prints []string) error {
	h.files = append(h.files, sarifFile{r: r, prints: prints})
	return nil
}

// SetBaseline makes the page say what a baseline did.
func (h *HTML) SetBaseline(s BaselineStats) { h.baseline = &s }

// htmlPage is what the template renders.
type htmlPage struct {
	Tool         Tool
	Summary      scan.Summary
	Baseline     *BaselineStats
	Columns      []htmlColumn
	Rows         []htmlRow
	Details      []htmlFile
	CallSiteRule bool
}

type htmlColumn struct{ Label, Rule, Title string }

type htmlRow struct {
	Anchor                                string
	Path, Machine, Kind, Vendor, Version  string
	Product                               string
	Verdict, VerdictClass                 string
	Counts                                []int
	HasDetails                            bool
	AuthenticodeSHA256, AuthenticodeError string
}

type htmlFile struct {
	htmlRow
	SHA256       string
	Size         int64
	VersionInfo  *peimage.VersionInfo
	Authenticode *peimage.AuthenticodeHashes
	Error        string
	Anomalies    []string
	SkippedRules []string
	Findings     []htmlFinding
	Layout       *htmlLayout
	LayoutNote   string
}

type htmlFinding struct {
	Code, Rule, Title   string
	Message, Where, Fix string
	Chain               []string
	Blocking            bool
	Level               string
	Fingerprint         string
	Disasm              []htmlInsn
	DisasmNote          string
}

type htmlInsn struct {
	Addr, Bytes, Text string
	Current           bool
}

// Finish renders the page.
func (h *HTML) Finish(s scan.Summary) error {
	sortSARIFFiles(h.files)
	page := htmlPage{Tool: h.tool, Summary: s, Baseline: h.baseline}
	for _, rc := range s.ByRule {
		label := rc.Code
		if label == "" {
			label = shortRuleLabel(rc.Rule)
		}
		title := rc.Rule
		if a := checks.Lookup(rc.Rule); a != nil {
			title = rc.Rule + ": " + a.Title
		}
		page.Columns = append(page.Columns, htmlColumn{Label: label, Rule: rc.Rule, Title: title})
	}
	page.CallSiteRule = ranCallSiteRules(s)
	for i, sf := range h.files {
		row := h.row(i, sf.r, page.Columns)
		page.Rows = append(page.Rows, row)
		if row.HasDetails {
			page.Details = append(page.Details, h.detail(row, sf))
		}
	}
	var buf bytes.Buffer
	if err := htmlTemplate().Execute(&buf, page); err != nil {
		return fmt.Errorf("render HTML report: %w", err)
	}
	if _, err := h.w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write HTML report: %w", err)
	}
	return flush(h.w)
}

// shortRuleLabel is a column label for a rule without a code.
func shortRuleLabel(rule string) string {
	if rule == "page-crossing-relocation" {
		return "reloc"
	}
	return rule
}

func (h *HTML) row(i int, r scan.FileResult, cols []htmlColumn) htmlRow {
	row := htmlRow{
		Anchor: fmt.Sprintf("file-%d", i+1), Path: r.Path, Machine: r.Machine, Kind: r.Kind,
		HasDetails: len(r.Findings) > 0 || r.Error != "",
	}
	if v := r.Version; v != nil {
		row.Vendor, row.Version, row.Product = v.CompanyName, v.FileVersion, v.ProductName
	}
	if a := r.Authenticode; a != nil {
		row.AuthenticodeSHA256, row.AuthenticodeError = a.SHA256, a.Error
	}
	row.Verdict, row.VerdictClass = htmlVerdict(r)
	row.Counts = make([]int, len(cols))
	for _, f := range r.Findings {
		for j, c := range cols {
			if c.Rule == f.Rule {
				row.Counts[j]++
			}
		}
	}
	return row
}

// htmlVerdict is the verdict as the text report words it, and a CSS class.
func htmlVerdict(r scan.FileResult) (string, string) {
	n := plural(len(r.Findings), "finding", "findings")
	switch {
	case r.KernelMode() && r.Blocking():
		return "incompatible with memory integrity", "bad"
	case r.Error != "" && len(r.Findings) == 0:
		return "not analysed", "err"
	case r.Error != "":
		return n + ", analysis incomplete", "err"
	case len(r.Findings) == 0:
		return "no findings", "ok"
	case r.Kind != "" && !r.KernelMode():
		return n + " (not kernel mode)", "note"
	}
	return n, "warn"
}

// maxDisasmFindings bounds the findings of one file that get disassembly.
const maxDisasmFindings = 200

func (h *HTML) detail(row htmlRow, sf sarifFile) htmlFile {
	r := sf.r
	d := htmlFile{
		htmlRow: row, SHA256: r.SHA256, Size: r.Size, VersionInfo: r.Version, Authenticode: r.Authenticode,
		Error: r.Error, Anomalies: r.Anomalies, SkippedRules: r.SkippedRules,
	}
	var img *image
	if h.opts.ReadFiles && r.Kind != "" {
		im, err := openImage(r)
		if err != nil {
			d.LayoutNote = "layout and disassembly not shown: " + err.Error()
		} else {
			img = im
			defer im.Close()
			d.Layout = layoutOf(im.pe, r.Findings)
		}
	}
	var syms *symbols
	for i, f := range r.Findings {
		hf := htmlFinding{
			Code: f.Code, Rule: f.Rule, Message: f.Message, Where: where(f), Fix: fixOf(f),
			Blocking: f.Blocking && r.KernelMode(), Level: resultLevel(r, f), Chain: f.Path,
		}
		if a := checks.Lookup(f.Rule); a != nil {
			hf.Title = a.Title
		}
		if i < len(sf.prints) {
			hf.Fingerprint = sf.prints[i]
		}
		if img != nil && f.FileOffset != nil && f.RVA != nil && f.SectionIndex == nil {
			if i >= maxDisasmFindings {
				hf.DisasmNote = fmt.Sprintf("disassembly shown for the first %d findings only", maxDisasmFindings)
			} else {
				if syms == nil {
					syms = importSymbols(img.pe)
				}
				hf.Disasm, hf.DisasmNote = disassemble(img, f, syms)
			}
		}
		d.Findings = append(d.Findings, hf)
	}
	return d
}

// htmlLayout is the picture of an image's sections: one bar per section
// along the RVA axis, coloured by permission, with the IAT and the page
// boundaries marked, and a table of the same.
type htmlLayout struct {
	Width, Height int
	AxisY         int
	Bars          []htmlBar
	IAT           []htmlBar
	Ticks         []htmlTick
	Rows          []htmlSectionRow
	End           string
	PageTicks     bool
}

type htmlBar struct {
	X, Y, W, H int
	Class      string
	Title      string
	Unaligned  bool
}

type htmlTick struct {
	X     int
	Label string
}

type htmlSectionRow struct {
	Index                   int
	Name, LongName          string
	RVA, VirtualSize, Raw   string
	Perm, PermClass, Notes  string
	Unaligned, HasIAT, Flag bool
}

const (
	layoutWidth  = 1000
	layoutLeft   = 10
	layoutBarY   = 10
	layoutBarH   = 34
	layoutIATY   = 48
	layoutIATH   = 8
	maxLayoutSec = 96
)

// layoutOf draws f's sections. findings mark the sections they concern.
func layoutOf(f *peimage.File, findings []checks.Finding) *htmlLayout {
	secs := f.Sections
	if len(secs) > maxLayoutSec {
		secs = secs[:maxLayoutSec]
	}
	// Sections are drawn as the loader maps them: their size rounded up
	// to the image's SectionAlignment.
	align := f.Optional.SectionAlignment
	end := uint64(f.Optional.SizeOfImage)
	for i := range secs {
		s := &secs[i]
		end = max(end, uint64(s.VirtualAddress)+uint64(s.MappedSize(align)))
	}
	if end == 0 {
		return nil
	}
	scale := func(rva uint64) int {
		return layoutLeft + int(float64(min(rva, end))/float64(end)*float64(layoutWidth-2*layoutLeft))
	}
	l := &htmlLayout{Width: layoutWidth, Height: 84, AxisY: 64, End: fmt.Sprintf("0x%x", end)}
	flagged := map[int]bool{}
	for _, fd := range findings {
		if fd.SectionIndex != nil {
			flagged[*fd.SectionIndex] = true
		}
	}
	iat, _, _ := f.IATRanges()
	// Headers.
	hdr := uint64(f.Optional.SizeOfHeaders)
	if hdr > 0 {
		l.Bars = append(l.Bars, htmlBar{X: scale(0), Y: layoutBarY, W: max(scale(hdr)-scale(0), 2), H: layoutBarH, Class: "hdr", Title: fmt.Sprintf("headers [0x0, 0x%x)", hdr)})
	}
	for i := range secs {
		s := &secs[i]
		start := uint64(s.VirtualAddress)
		stop := start + uint64(s.MappedSize(align))
		perm, class := permission(s)
		unaligned := s.VirtualAddress%peimage.PageSize != 0
		bar := htmlBar{
			X: scale(start), Y: layoutBarY, W: max(scale(stop)-scale(start), 2), H: layoutBarH, Class: class,
			Title: fmt.Sprintf("[%d] %s %s [0x%x, 0x%x)", s.Index, clean(s.Name), perm, start, stop), Unaligned: unaligned,
		}
		l.Bars = append(l.Bars, bar)
		row := htmlSectionRow{
			Index: s.Index, Name: s.Name, RVA: fmt.Sprintf("0x%x", s.VirtualAddress),
			VirtualSize: fmt.Sprintf("0x%x", s.VirtualSize),
			Raw:         fmt.Sprintf("0x%x+0x%x", s.PointerToRawData, s.SizeOfRawData),
			Perm:        perm, PermClass: class, Unaligned: unaligned, Flag: flagged[s.Index],
		}
		if long := f.LongName(s); long != s.Name {
			row.LongName = long
		}
		var notes []string
		if unaligned {
			notes = append(notes, "not page aligned")
		}
		if s.Discardable() {
			notes = append(notes, "discardable")
		}
		for _, rg := range iat {
			if rg.Start < uint32(stop) && rg.End > s.VirtualAddress {
				row.HasIAT = true
				notes = append(notes, "holds the IAT")
				break
			}
		}
		row.Notes = strings.Join(notes, ", ")
		l.Rows = append(l.Rows, row)
	}
	for _, rg := range iat {
		x := scale(uint64(rg.Start))
		l.IAT = append(l.IAT, htmlBar{X: x, Y: layoutIATY, W: max(scale(uint64(rg.End))-x, 3), H: layoutIATH, Class: "iat",
			Title: fmt.Sprintf("IAT [0x%x, 0x%x)", rg.Start, rg.End)})
	}
	// Page boundaries where there are few enough to draw.
	if pages := end / peimage.PageSize; pages >= 1 && pages <= 64 {
		l.PageTicks = true
		for p := uint64(0); p <= end; p += peimage.PageSize {
			l.Ticks = append(l.Ticks, htmlTick{X: scale(p)})
		}
	}
	if len(f.Sections) > len(secs) {
		l.Rows = append(l.Rows, htmlSectionRow{Index: -1, Name: fmt.Sprintf("… %d more sections not drawn", len(f.Sections)-len(secs))})
	}
	return l
}

// permission is "RWX"-style text and the bar's CSS class.
func permission(s *peimage.Section) (string, string) {
	var b strings.Builder
	for _, p := range []struct {
		bit uint32
		c   byte
	}{{peimage.SecMemRead, 'R'}, {peimage.SecMemWrite, 'W'}, {peimage.SecMemExecute, 'X'}} {
		if s.Characteristics&p.bit != 0 {
			b.WriteByte(p.c)
		} else {
			b.WriteByte('-')
		}
	}
	switch {
	case s.Writable() && s.Executable():
		return b.String(), "wx"
	case s.Executable():
		return b.String(), "x"
	case s.Writable():
		return b.String(), "w"
	}
	return b.String(), "r"
}
