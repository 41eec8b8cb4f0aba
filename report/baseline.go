package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/scan"
)

// maxBaselineSize bounds a baseline file read into memory.
const maxBaselineSize = 1 << 30

// Baseline is the set of findings of an earlier scan, read from its JSON or
// SARIF report, against which a new scan reports only what is new.
//
// A file of the new scan is matched with the baseline's file of the same
// path (as the report gives it), or else with the one of the same SHA-256
// (a file moved or renamed unchanged). Its findings are matched by
// fingerprint (see Fingerprints): a finding whose fingerprint the baseline
// file has is suppressed, the others are new, and the baseline's findings
// that the file no longer has are gone.
type Baseline struct {
	// Name is where the baseline was read from, for messages.
	Name   string
	files  []*baselineFile
	byPath map[string]*baselineFile
	bySHA  map[string]*baselineFile
}

type baselineFile struct {
	path, sha256 string
	prints       map[string]bool
	matched      bool
}

// BaselineStats says what a baseline did to a scan's findings.
type BaselineStats struct {
	// File is the baseline's name.
	File string `json:"file"`
	// New counts the findings reported: not in the baseline.
	New int `json:"new"`
	// Suppressed counts the findings left out because the baseline has them.
	Suppressed int `json:"suppressed"`
	// Gone counts the baseline's findings, in files scanned again, that
	// the scan no longer finds.
	Gone int `json:"gone"`
	// FilesNotScanned counts the baseline's files with findings that no
	// file of the scan matched (their findings are not counted as gone).
	FilesNotScanned int `json:"files_not_scanned"`
}

// ReadBaseline reads a baseline from an earlier `hvcicheck scan --format
// json` or `--format sarif` report (or a --write-baseline file, which is the
// JSON report). name is used in errors and in BaselineStats.File.
func ReadBaseline(r io.Reader, name string) (*Baseline, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxBaselineSize+1))
	if err != nil {
		return nil, fmt.Errorf("read baseline %s: %w", name, err)
	}
	if len(data) > maxBaselineSize {
		return nil, fmt.Errorf("baseline %s is larger than %d bytes", name, maxBaselineSize)
	}
	var probe struct {
		Files json.RawMessage `json:"files"`
		Runs  json.RawMessage `json:"runs"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("baseline %s: not an hvcicheck JSON or SARIF report: %w", name, err)
	}
	b := &Baseline{Name: name, byPath: map[string]*baselineFile{}, bySHA: map[string]*baselineFile{}}
	switch {
	case probe.Runs != nil:
		err = b.readSARIF(data)
	case probe.Files != nil:
		err = b.readJSON(probe.Files)
	default:
		err = errors.New(`neither "files" (JSON report) nor "runs" (SARIF) found`)
	}
	if err != nil {
		return nil, fmt.Errorf("baseline %s: %w", name, err)
	}
	return b, nil
}

func (b *Baseline) add(path, sha string, prints []string) {
	bf := b.byPath[path]
	if bf == nil {
		bf = &baselineFile{path: path, sha256: sha, prints: map[string]bool{}}
		b.files = append(b.files, bf)
		b.byPath[path] = bf
		if sha != "" && b.bySHA[sha] == nil {
			b.bySHA[sha] = bf
		}
	}
	for _, p := range prints {
		bf.prints[p] = true
	}
}

// readJSON reads the files of a JSON report; the fingerprints are computed
// from the findings, as the scan that wrote them would have.
func (b *Baseline) readJSON(files json.RawMessage) error {
	var rs []scan.FileResult
	if err := json.Unmarshal(files, &rs); err != nil {
		return fmt.Errorf("files: %w", err)
	}
	for _, r := range rs {
		b.add(r.Path, r.SHA256, Fingerprints(r))
	}
	return nil
}

// readSARIF reads the results of a SARIF log written by hvcicheck: their
// partialFingerprints, and their files from the artifact locations.
func (b *Baseline) readSARIF(data []byte) error {
	var log sarifLog
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&log); err != nil {
		return fmt.Errorf("SARIF: %w", err)
	}
	for ri, run := range log.Runs {
		if run.Tool.Driver.Name != "hvcicheck" {
			return fmt.Errorf("SARIF run %d is from %q, not hvcicheck", ri, run.Tool.Driver.Name)
		}
		shaOf := func(loc *sarifArtifactLocation) string {
			if loc.Index != nil && *loc.Index >= 0 && *loc.Index < len(run.Artifacts) {
				return run.Artifacts[*loc.Index].Hashes["sha-256"]
			}
			return ""
		}
		for _, a := range run.Artifacts {
			if a.Location != nil {
				if p, err := pathFromURI(a.Location); err == nil {
					b.add(p, a.Hashes["sha-256"], nil)
				}
			}
		}
		for i, res := range run.Results {
			fp := res.PartialFingerprints[FingerprintKey]
			if fp == "" {
				return fmt.Errorf("SARIF result %d has no %q fingerprint (written by another version?)", i, FingerprintKey)
			}
			if len(res.Locations) == 0 || res.Locations[0].PhysicalLocation == nil || res.Locations[0].PhysicalLocation.ArtifactLocation == nil {
				return fmt.Errorf("SARIF result %d has no file location", i)
			}
			loc := res.Locations[0].PhysicalLocation.ArtifactLocation
			p, err := pathFromURI(loc)
			if err != nil {
				return fmt.Errorf("SARIF result %d: %w", i, err)
			}
			b.add(p, shaOf(loc), []string{fp})
		}
	}
	return nil
}

// pathFromURI turns an artifact location written by the SARIF handler back
// into the path the scan reported.
func pathFromURI(loc *sarifArtifactLocation) (string, error) {
	u, err := url.Parse(loc.URI)
	if err != nil {
		return "", fmt.Errorf("artifact URI %q: %w", loc.URI, err)
	}
	switch {
	case u.Scheme == "file":
		p := u.Path
		if len(p) >= 3 && p[0] == '/' && p[2] == ':' { // file:///C:/x
			p = p[1:]
		}
		return filepath.FromSlash(p), nil
	case u.Scheme == "" && !strings.HasPrefix(u.Path, "/"):
		return filepath.Clean(filepath.FromSlash(u.Path)), nil
	}
	return "", fmt.Errorf("artifact URI %q is not a file path", loc.URI)
}

// match returns the baseline's file for r, or nil.
func (b *Baseline) match(r scan.FileResult) *baselineFile {
	if bf := b.byPath[r.Path]; bf != nil {
		return bf
	}
	if r.SHA256 != "" {
		return b.bySHA[r.SHA256]
	}
	return nil
}

// BaselineAware is implemented by handlers that report what a baseline
// did; BaselineFilter calls SetBaseline before Finish.
type BaselineAware interface {
	SetBaseline(BaselineStats)
}

// fingerprintedHandler is implemented by handlers that show fingerprints:
// BaselineFilter passes them the fingerprints computed on the unfiltered
// findings, which the ranks of the filtered ones would not reproduce.
type fingerprintedHandler interface {
	fileWithFingerprints(r scan.FileResult, prints []string) error
}

// BaselineFilter is a Handler that passes on to another one each result
// with the findings the baseline has taken out, and a summary recomputed
// over what is left.
type BaselineFilter struct {
	next  Handler
	base  *Baseline
	stats BaselineStats
	// kept holds each result passed on, without the parts the summary does
	// not need, to recompute it.
	kept    []scan.FileResult
	summary scan.Summary
}

// NewBaselineFilter returns a filter of results against b, passing them on
// to next.
func NewBaselineFilter(next Handler, b *Baseline) *BaselineFilter {
	return &BaselineFilter{next: next, base: b, stats: BaselineStats{File: b.Name}}
}

// File takes out of r the findings the baseline has and passes it on.
func (h *BaselineFilter) File(r scan.FileResult) error {
	prints := Fingerprints(r)
	bf := h.base.match(r)
	var have map[string]bool
	if bf != nil {
		bf.matched = true
		have = bf.prints
	}
	now := make(map[string]bool, len(prints))
	kept := make([]checks.Finding, 0, len(r.Findings))
	var keptPrints []string
	for i, f := range r.Findings {
		now[prints[i]] = true
		if have[prints[i]] {
			h.stats.Suppressed++
			continue
		}
		kept = append(kept, f)
		keptPrints = append(keptPrints, prints[i])
	}
	h.stats.New += len(kept)
	for p := range have {
		if !now[p] {
			h.stats.Gone++
		}
	}
	r.Findings = kept
	light := r
	light.Anomalies, light.Version, light.Authenticode = nil, nil, nil
	h.kept = append(h.kept, light)
	if fh, ok := h.next.(fingerprintedHandler); ok {
		return fh.fileWithFingerprints(r, keptPrints)
	}
	return h.next.File(r)
}

// Finish recomputes the summary over the filtered results, tells the next
// handler the baseline's statistics and finishes it.
func (h *BaselineFilter) Finish(s scan.Summary) error {
	for _, bf := range h.base.files {
		if !bf.matched && len(bf.prints) > 0 {
			h.stats.FilesNotScanned++
		}
	}
	h.summary = refold(s, h.kept)
	if ba, ok := h.next.(BaselineAware); ok {
		ba.SetBaseline(h.stats)
	}
	return h.next.Finish(h.summary)
}

// Stats returns what the baseline did; complete after Finish.
func (h *BaselineFilter) Stats() BaselineStats { return h.stats }

// Summary returns the summary over the filtered results, after Finish.
func (h *BaselineFilter) Summary() scan.Summary { return h.summary }

// refold recomputes s over rs, keeping what only the walk knew (files
// skipped without a result).
func refold(s scan.Summary, rs []scan.FileResult) scan.Summary {
	out := scan.Summary{Kinds: map[string]int{}, IncompatiblePaths: []string{}, ByRule: []scan.RuleCount{}}
	for _, rc := range s.ByRule {
		out.ByRule = append(out.ByRule, scan.RuleCount{Code: rc.Code, Rule: rc.Rule})
	}
	for _, r := range rs {
		out.Add(r)
	}
	out.FilesSeen += s.NonPESkipped
	out.NonPESkipped = s.NonPESkipped
	out.SymlinksSkipped = s.SymlinksSkipped
	out.SpecialSkipped = s.SpecialSkipped
	return out
}
