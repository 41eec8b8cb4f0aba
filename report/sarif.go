package report

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"unicode"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/peimage"
	"github.com/hvcicheck/hvcicheck/scan"
)

// SARIF 2.1.0 (https://docs.oasis-open.org/sarif/sarif/v2.1.0/), the subset
// hvcicheck writes. Field names follow the specification; docs/reports.md
// says how findings map onto it.

const (
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
	sarifVersion = "2.1.0"
	// SARIFBaseID is the uriBaseId of files given by a path relative to
	// the folder hvcicheck ran in.
	SARIFBaseID = "%SRCROOT%"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool               sarifTool                        `json:"tool"`
	Invocations        []sarifInvocation                `json:"invocations,omitempty"`
	OriginalURIBaseIDs map[string]sarifArtifactLocation `json:"originalUriBaseIds,omitempty"`
	Artifacts          []sarifArtifact                  `json:"artifacts,omitempty"`
	Results            []sarifResult                    `json:"results"`
	Properties         map[string]any                   `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string             `json:"id"`
	Name                 string             `json:"name,omitempty"`
	ShortDescription     *sarifText         `json:"shortDescription,omitempty"`
	FullDescription      *sarifText         `json:"fullDescription,omitempty"`
	Help                 *sarifText         `json:"help,omitempty"`
	DefaultConfiguration *sarifRuleConfig   `json:"defaultConfiguration,omitempty"`
	Properties           *sarifRuleProperty `json:"properties,omitempty"`
}

type sarifRuleConfig struct {
	Level string `json:"level"`
}

type sarifRuleProperty struct {
	Code string   `json:"code,omitempty"`
	Tags []string `json:"tags,omitempty"`
}

// sarifText is a message or a multiformatMessageString.
type sarifText struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown,omitempty"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

type sarifArtifact struct {
	Location   *sarifArtifactLocation `json:"location,omitempty"`
	Length     int64                  `json:"length"`
	Roles      []string               `json:"roles,omitempty"`
	Hashes     map[string]string      `json:"hashes,omitempty"`
	Properties *sarifFileProperties   `json:"properties,omitempty"`
}

// sarifFileProperties are a file's facts beyond the findings.
type sarifFileProperties struct {
	Machine      string                      `json:"machine,omitempty"`
	Kind         string                      `json:"kind,omitempty"`
	Version      *peimage.VersionInfo        `json:"version_info,omitempty"`
	Authenticode *peimage.AuthenticodeHashes `json:"authenticode,omitempty"`
	Error        string                      `json:"error,omitempty"`
	Anomalies    []string                    `json:"anomalies,omitempty"`
	SkippedRules []string                    `json:"skipped_rules,omitempty"`
	Incompatible bool                        `json:"incompatible_with_memory_integrity,omitempty"`
}

type sarifArtifactLocation struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
	Index     *int   `json:"index,omitempty"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations,omitempty"`
	RelatedLocations    []sarifLocation   `json:"relatedLocations,omitempty"`
	CodeFlows           []sarifCodeFlow   `json:"codeFlows,omitempty"`
	PartialFingerprints map[string]string `json:"partialFingerprints,omitempty"`
	BaselineState       string            `json:"baselineState,omitempty"`
	Properties          *checks.Finding   `json:"properties,omitempty"`
}

type sarifLocation struct {
	ID               *int                   `json:"id,omitempty"`
	PhysicalLocation *sarifPhysicalLocation `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogicalLocation `json:"logicalLocations,omitempty"`
	Message          *sarifText             `json:"message,omitempty"`
}

type sarifPhysicalLocation struct {
	ArtifactLocation *sarifArtifactLocation `json:"artifactLocation,omitempty"`
	Region           *sarifRegion           `json:"region,omitempty"`
	Address          *sarifAddress          `json:"address,omitempty"`
}

type sarifRegion struct {
	StartLine  int    `json:"startLine,omitempty"`
	ByteOffset *int64 `json:"byteOffset,omitempty"`
	ByteLength *int64 `json:"byteLength,omitempty"`
}

type sarifAddress struct {
	RelativeAddress *int64 `json:"relativeAddress,omitempty"`
	Length          *int64 `json:"length,omitempty"`
	Kind            string `json:"kind,omitempty"`
	Name            string `json:"name,omitempty"`
}

type sarifLogicalLocation struct {
	Name               string         `json:"name,omitempty"`
	FullyQualifiedName string         `json:"fullyQualifiedName,omitempty"`
	Kind               string         `json:"kind,omitempty"`
	Properties         map[string]any `json:"properties,omitempty"`
}

type sarifCodeFlow struct {
	Message     *sarifText        `json:"message,omitempty"`
	ThreadFlows []sarifThreadFlow `json:"threadFlows"`
}

type sarifThreadFlow struct {
	Locations []sarifThreadFlowLocation `json:"locations"`
}

type sarifThreadFlowLocation struct {
	Location sarifLocation `json:"location"`
}

// SARIFOptions tune the SARIF report.
type SARIFOptions struct {
	// BaseDir is the absolute folder relative paths are relative to (the
	// working directory). Files under it get a relative URI with uriBaseId
	// %SRCROOT%, and originalUriBaseIds maps %SRCROOT% to it; others an
	// absolute file URI. Empty: relative paths get the uriBaseId without a
	// value for it (the consumer supplies it), absolute ones a file URI.
	BaseDir string
	// ReadFiles opens each file with call-site findings again (checking its
	// SHA-256) to give the call instruction's length as the region's
	// byteLength.
	ReadFiles bool
}

// SARIF writes a SARIF 2.1.0 log when the scan finishes: one run, every
// rule in tool.driver.rules, every scanned file in artifacts, one result
// per finding, and file errors as tool execution notifications.
type SARIF struct {
	w        io.Writer
	tool     Tool
	opts     SARIFOptions
	files    []sarifFile
	baseline *BaselineStats
}

type sarifFile struct {
	r      scan.FileResult
	prints []string
}

// NewSARIF returns a SARIF handler writing to w.
func NewSARIF(w io.Writer, tool Tool, opts SARIFOptions) *SARIF {
	return &SARIF{w: w, tool: tool, opts: opts}
}

// File records r.
func (h *SARIF) File(r scan.FileResult) error {
	return h.fileWithFingerprints(r, Fingerprints(r))
}

func (h *SARIF) fileWithFingerprints(r scan.FileResult, prints []string) error {
	h.files = append(h.files, sarifFile{r: r, prints: prints})
	return nil
}

// SetBaseline marks the results as new relative to a baseline and records
// its statistics in the run's properties.
func (h *SARIF) SetBaseline(s BaselineStats) { h.baseline = &s }

// Finish writes the log.
func (h *SARIF) Finish(s scan.Summary) error {
	sortSARIFFiles(h.files)
	run := sarifRun{
		Tool:       sarifTool{Driver: sarifDriver{Name: h.tool.Name, Version: h.tool.Version, Rules: sarifRules()}},
		Results:    []sarifResult{},
		Properties: map[string]any{"summary": s},
	}
	if h.baseline != nil {
		run.Properties["baseline"] = h.baseline
	}
	if h.opts.BaseDir != "" {
		run.OriginalURIBaseIDs = map[string]sarifArtifactLocation{SARIFBaseID: {URI: dirURI(h.opts.BaseDir)}}
	}
	inv := sarifInvocation{ExecutionSuccessful: s.Errors == 0}
	for i, sf := range h.files {
		r := sf.r
		loc := h.artifactLocation(r.Path)
		idx := i
		loc.Index = &idx
		run.Artifacts = append(run.Artifacts, artifactOf(r, loc))
		if r.Error != "" {
			inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
				Level:     "error",
				Message:   sarifText{Text: r.Error},
				Locations: []sarifLocation{{PhysicalLocation: &sarifPhysicalLocation{ArtifactLocation: &loc}}},
			})
		}
		run.Results = append(run.Results, h.results(sf, loc)...)
	}
	run.Invocations = []sarifInvocation{inv}
	log := sarifLog{Schema: sarifSchema, Version: sarifVersion, Runs: []sarifRun{run}}
	enc := json.NewEncoder(h.w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(log); err != nil {
		return fmt.Errorf("write SARIF report: %w", err)
	}
	return flush(h.w)
}

func sortSARIFFiles(fs []sarifFile) {
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].r.Path < fs[j].r.Path })
}

// artifactLocation is the URI of a scanned path: relative with the
// uriBaseId where the path lies under the base folder, else absolute.
func (h *SARIF) artifactLocation(path string) sarifArtifactLocation {
	if h.opts.BaseDir != "" {
		abs := path
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(h.opts.BaseDir, abs)
		}
		if rel, err := filepath.Rel(h.opts.BaseDir, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel) {
			return sarifArtifactLocation{URI: relURI(rel), URIBaseID: SARIFBaseID}
		}
		return sarifArtifactLocation{URI: fileURI(abs)}
	}
	clean := filepath.Clean(path)
	if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) || filepath.VolumeName(clean) != "" {
		if abs, err := filepath.Abs(clean); err == nil {
			return sarifArtifactLocation{URI: fileURI(abs)}
		}
	}
	return sarifArtifactLocation{URI: relURI(clean), URIBaseID: SARIFBaseID}
}

// relURI escapes a relative path as a URI reference.
func relURI(rel string) string {
	u := url.URL{Path: filepath.ToSlash(rel)}
	s := u.EscapedPath()
	// A first segment with a colon would read as a scheme.
	if first, _, _ := strings.Cut(s, "/"); strings.Contains(first, ":") {
		s = "./" + s
	}
	return s
}

// fileURI is the file: URI of an absolute path.
func fileURI(abs string) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // C:/x
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}

// dirURI is the file: URI of a folder, ending in a slash as SARIF wants.
func dirURI(dir string) string {
	u := fileURI(dir)
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return u
}

func artifactOf(r scan.FileResult, loc sarifArtifactLocation) sarifArtifact {
	a := sarifArtifact{
		Location: &sarifArtifactLocation{URI: loc.URI, URIBaseID: loc.URIBaseID},
		Length:   r.Size,
		Roles:    []string{"analysisTarget"},
		Properties: &sarifFileProperties{
			Machine: r.Machine, Kind: r.Kind, Version: r.Version, Authenticode: r.Authenticode,
			Error: r.Error, Anomalies: r.Anomalies, SkippedRules: r.SkippedRules,
			Incompatible: r.KernelMode() && r.Blocking(),
		},
	}
	if r.Size == 0 && r.SHA256 == "" {
		a.Length = -1 // unknown
	}
	if r.SHA256 != "" {
		a.Hashes = map[string]string{"sha-256": r.SHA256}
	}
	return a
}

// results are the SARIF results of one file.
func (h *SARIF) results(sf sarifFile, loc sarifArtifactLocation) []sarifResult {
	r := sf.r
	if len(r.Findings) == 0 {
		return nil
	}
	var img *image
	if h.opts.ReadFiles && needsImage(r) {
		if im, err := openImage(r); err == nil {
			img = im
			defer im.Close()
		}
	}
	ruleIndex := map[string]int{}
	for i, a := range checks.All() {
		ruleIndex[a.Name] = i
	}
	var out []sarifResult
	for i, f := range r.Findings {
		f := f
		res := sarifResult{
			RuleID:    f.Rule,
			RuleIndex: -1,
			Level:     resultLevel(r, f),
			Message:   sarifText{Text: resultMessage(f)},
			Locations: []sarifLocation{findingLocation(f, loc, img)},
		}
		if ri, ok := ruleIndex[f.Rule]; ok {
			res.RuleIndex = ri
		}
		if i < len(sf.prints) {
			res.PartialFingerprints = map[string]string{FingerprintKey: sf.prints[i]}
		}
		if h.baseline != nil {
			res.BaselineState = "new"
		}
		if f.Source != nil && f.Source.File != "" && f.Source.Line > 0 {
			res.RelatedLocations = []sarifLocation{{
				ID: ref(0),
				PhysicalLocation: &sarifPhysicalLocation{
					ArtifactLocation: &sarifArtifactLocation{URI: sourceURI(f.Source.File)},
					Region:           &sarifRegion{StartLine: f.Source.Line},
				},
				Message: &sarifText{Text: "source line of the call (from the image's debug info)"},
			}}
		}
		if len(f.Path) > 1 {
			res.CodeFlows = []sarifCodeFlow{callChainFlow(f.Path)}
		}
		res.Properties = &f
		out = append(out, res)
	}
	return out
}

// needsImage reports whether r has findings whose region needs the file's
// bytes: the length of a call instruction, the file offset of an RVA, the
// headers of an image-wide finding.
func needsImage(r scan.FileResult) bool {
	for _, f := range r.Findings {
		if f.FileOffset != nil && f.Function != nil || f.FileOffset == nil && f.HeaderOffset == nil {
			return true
		}
	}
	return false
}

// resultLevel is "error" for a finding that alone makes Windows refuse a
// kernel-mode image with memory integrity on, "warning" for other findings
// on kernel-mode images, and "note" on images memory integrity does not
// govern (user mode, EFI).
func resultLevel(r scan.FileResult, f checks.Finding) string {
	switch {
	case r.Kind != "" && !r.KernelMode():
		return "note"
	case f.Blocking:
		return "error"
	}
	return "warning"
}

func resultMessage(f checks.Finding) string {
	msg := f.Message
	if fix := fixOf(f); fix != "" {
		msg = strings.TrimRight(msg, ". ") + ". Fix: " + fix
	}
	if f.Blocking {
		msg += " (blocks memory integrity)"
	}
	return msg
}

// findingLocation is the finding's place in the file: the bytes of the call
// instruction or of the section header, the RVA as an address, and the
// function as a logical location.
func findingLocation(f checks.Finding, loc sarifArtifactLocation, img *image) sarifLocation {
	pl := &sarifPhysicalLocation{ArtifactLocation: &loc}
	switch {
	case f.HeaderOffset != nil && f.Function == nil:
		pl.Region = &sarifRegion{ByteOffset: f.HeaderOffset, ByteLength: ref(int64(40))}
	case f.FileOffset != nil:
		pl.Region = &sarifRegion{ByteOffset: f.FileOffset}
		if img != nil {
			if n := img.instructionLength(*f.FileOffset); n > 0 {
				pl.Region.ByteLength = ref(int64(n))
			}
		}
	case img != nil && f.RVA != nil:
		if off, ok := img.pe.FileOffset(*f.RVA); ok {
			n := int64(1)
			if f.RVAEnd != nil && *f.RVAEnd > *f.RVA {
				n = int64(*f.RVAEnd - *f.RVA)
			}
			pl.Region = &sarifRegion{ByteOffset: ref(off), ByteLength: ref(n)}
		}
	case img != nil && f.RVA == nil:
		// An image-wide finding (SectionAlignment): the headers.
		pl.Region = &sarifRegion{ByteOffset: ref(int64(0)), ByteLength: ref(int64(min(int64(img.pe.Optional.SizeOfHeaders), img.size)))}
	}
	if f.RVA != nil {
		a := &sarifAddress{RelativeAddress: ref(int64(*f.RVA)), Kind: addressKind(f)}
		if f.RVAEnd != nil && *f.RVAEnd > *f.RVA {
			a.Length = ref(int64(*f.RVAEnd - *f.RVA))
		}
		if a.Kind == "section" {
			a.Name = f.Section
		}
		pl.Address = a
	}
	out := sarifLocation{PhysicalLocation: pl}
	if f.Function != nil {
		ll := sarifLogicalLocation{Kind: "function", Properties: map[string]any{"rva": *f.Function}}
		if f.FunctionName != "" {
			ll.Name = f.FunctionName
		} else {
			ll.FullyQualifiedName = fmt.Sprintf("sub_%x", *f.Function)
		}
		out.LogicalLocations = []sarifLogicalLocation{ll}
	} else if f.Section != "" {
		out.LogicalLocations = []sarifLogicalLocation{{Name: f.Section, Kind: "section"}}
	}
	return out
}

func addressKind(f checks.Finding) string {
	switch {
	case f.Function != nil || f.API != "":
		return "instruction"
	case f.Rule == "iat-in-executable-section":
		return "table"
	case f.HeaderOffset != nil && f.RVAEnd == nil && f.Rule != "page-crossing-relocation":
		return "section"
	}
	return "data"
}

// callChainFlow shows the call chain as a code flow, one step per function.
func callChainFlow(path []string) sarifCodeFlow {
	tf := sarifThreadFlow{}
	for _, hop := range path {
		name, _, _ := strings.Cut(hop, "@")
		tf.Locations = append(tf.Locations, sarifThreadFlowLocation{Location: sarifLocation{
			LogicalLocations: []sarifLogicalLocation{{Name: name, Kind: "function"}},
			Message:          &sarifText{Text: hop},
		}})
	}
	return sarifCodeFlow{Message: &sarifText{Text: "call chain: " + strings.Join(path, " > ")}, ThreadFlows: []sarifThreadFlow{tf}}
}

// sourceURI is a source file named in debug info, as a URI reference:
// backslashes become slashes; a drive letter makes it a file URI.
func sourceURI(file string) string {
	p := strings.ReplaceAll(file, `\`, "/")
	if len(p) >= 2 && p[1] == ':' || strings.HasPrefix(p, "/") {
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		return (&url.URL{Scheme: "file", Path: p}).String()
	}
	return relURI(filepath.FromSlash(p))
}

// sarifRules describes every rule, in the order of checks.All (ruleIndex
// refers to it).
func sarifRules() []sarifRule {
	var out []sarifRule
	for _, a := range checks.All() {
		level := "warning"
		tags := []string{"hvci", "memory-integrity", "driver"}
		switch {
		case scan.IsCallSite(checks.Finding{Code: a.Code}):
			tags = append(tags, "call-site")
		default:
			tags = append(tags, "image-layout")
		}
		if canBlock(a) {
			level = "error"
		}
		out = append(out, sarifRule{
			ID:                   a.Name,
			Name:                 pascal(a.Name),
			ShortDescription:     &sarifText{Text: a.Title},
			FullDescription:      &sarifText{Text: a.Doc},
			Help:                 &sarifText{Text: a.Doc + "\n\nFix: " + a.Fix, Markdown: mdEscape(a.Doc) + "\n\n**Fix:** " + mdEscape(a.Fix)},
			DefaultConfiguration: &sarifRuleConfig{Level: level},
			Properties:           &sarifRuleProperty{Code: a.Code, Tags: tags},
		})
	}
	return out
}

// canBlock reports whether findings of a can make Windows refuse a driver
// with memory integrity on (the image-layout rules with a Driver Verifier
// code, 0x2003-0x2005).
func canBlock(a *checks.Analyzer) bool {
	switch a.Code {
	case "0x2003", "0x2004", "0x2005":
		return true
	}
	return false
}

// pascal turns "writable-executable-section" into
// "WritableExecutableSection", the form SARIF suggests for rule names.
func pascal(s string) string {
	var b strings.Builder
	up := true
	for _, r := range s {
		if r == '-' || r == '_' {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// mdEscape escapes the characters of prose Markdown would take as markup.
func mdEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `<`, `&lt;`, `>`, `&gt;`, `_`, `\_`).Replace(s)
}

func ref[T any](v T) *T { return &v }
