package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/hvcicheck/hvcicheck/scan"
)

// JSON writes one JSON document when the scan finishes:
//
//	{"tool": {...}, "files": [FILE...], "summary": {...}}
//
// with files sorted by path, so that the same scan gives the same bytes.
type JSON struct {
	w        io.Writer
	tool     Tool
	files    []scan.FileResult
	baseline *BaselineStats
}

// NewJSON returns a JSON handler writing to w.
func NewJSON(w io.Writer, tool Tool) *JSON {
	return &JSON{w: w, tool: tool, files: []scan.FileResult{}}
}

// File records r.
func (h *JSON) File(r scan.FileResult) error {
	h.files = append(h.files, r)
	return nil
}

// SetBaseline adds what a baseline did to the document ("baseline").
func (h *JSON) SetBaseline(s BaselineStats) { h.baseline = &s }

// document is the JSON output.
type document struct {
	Tool     Tool              `json:"tool"`
	Files    []scan.FileResult `json:"files"`
	Summary  scan.Summary      `json:"summary"`
	Baseline *BaselineStats    `json:"baseline,omitempty"`
}

// Finish writes the document.
func (h *JSON) Finish(s scan.Summary) error {
	sortByPath(h.files)
	enc := json.NewEncoder(h.w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(document{Tool: h.tool, Files: h.files, Summary: s, Baseline: h.baseline}); err != nil {
		return fmt.Errorf("write JSON report: %w", err)
	}
	return flush(h.w)
}

// JSONL writes one FILE object per line as each file finishes, and flushes
// it at once, so a consumer sees results while the scan runs and nothing is
// held for the whole scan. Lines come in the order files finish. Every line
// is a FILE object; the summary is not written (see docs/output.md).
type JSONL struct {
	w   io.Writer
	buf []byte // the line being written, reused from line to line
}

// maxKeptLine bounds the line buffer a JSONL handler keeps for the next
// line.
const maxKeptLine = 1 << 20

// NewJSONL returns a JSONL handler writing to w.
func NewJSONL(w io.Writer) *JSONL { return &JSONL{w: w} }

// File writes r as one line: the bytes json.Encoder (without HTML
// escaping) writes for it, encoded without reflection.
func (h *JSONL) File(r scan.FileResult) error {
	h.buf = append(appendFileResult(h.buf[:0], &r), '\n')
	_, err := h.w.Write(h.buf)
	if cap(h.buf) > maxKeptLine {
		h.buf = nil
	}
	if err != nil {
		return fmt.Errorf("write JSONL report: %w", err)
	}
	return flush(h.w)
}

// Finish flushes the output; the summary is not written.
func (h *JSONL) Finish(scan.Summary) error { return flush(h.w) }

func sortByPath(files []scan.FileResult) {
	sort.SliceStable(files, func(i, j int) bool { return files[i].Path < files[j].Path })
}
