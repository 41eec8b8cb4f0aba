package scan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hvcicheck/hvcicheck/callsite"
	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// DefaultPerFileTimeout is the per-file time limit where
// Scanner.PerFileTimeout is zero.
const DefaultPerFileTimeout = 30 * time.Second

// ErrTextTimeout is the Error of a file whose analysis took longer than
// the per-file time limit.
const ErrTextTimeout = "analysis exceeded the per-file time limit"

// outcome is a result on its way to the caller, or a file that was skipped.
type outcome struct {
	res  FileResult
	skip skipReason
}

type skipReason int

const (
	notSkipped skipReason = iota
	skippedNonPE
	skippedSymlink
	skippedSpecial
	dropped // the scan was cancelled while this file was analysed
)

// Analyze analyses one image read from r, of size bytes, as if it were the
// file name named on the command line: a non-PE input yields a result with
// Error. It applies the scanner's limits and per-file time limit.
func (s *Scanner) Analyze(ctx context.Context, name string, r io.ReaderAt, size int64) FileResult {
	o := s.analyze(ctx, input{name: name, r: r, size: size, explicit: true, hash: s.hashes(size)})
	if o.skip == dropped && o.res.Error == "" {
		o.res.Error = fmt.Sprintf("analysis cancelled: %v", ctx.Err())
	}
	return o.res
}

// input is one file to analyse.
type input struct {
	name string
	r    io.ReaderAt
	size int64
	// explicit is set for a file named by the caller (not a PE image: an
	// error) and clear for one met in a walk (not a PE image: skipped).
	explicit bool
	// hash says whether to compute its hashes (see Scanner.hashes).
	hash bool
	// workspace is the call-site analysis's storage of the goroutine
	// analysing it (nil: its own).
	workspace *callsite.Workspace
}

// hashes reports whether a file of size bytes is hashed: when the scanner
// hashes (Hashing) and the file is within the size limit.
func (s *Scanner) hashes(size int64) bool { return s.Hashing() && size <= s.maxFileSize() }

// analyze runs the analysis of one image in a goroutine, so that a stuck
// analysis costs the caller the per-file time limit and no more (Scan's
// workers run theirs on their own goroutine instead: see worker).
func (s *Scanner) analyze(ctx context.Context, in input) outcome {
	start := time.Now()
	done := make(chan outcome, 1)
	snap := newSnapshot(FileResult{Path: in.name, Size: in.size, Findings: []checks.Finding{}})
	go func() { done <- s.protected(in, snap) }()
	var timeout <-chan time.Time
	d := s.perFileTimeout()
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case o := <-done:
		return s.lateCheck(o, snap, start)
	case <-timeout:
		return timedOut(snap)
	case <-ctx.Done():
		return outcome{res: snap.get(), skip: dropped}
	}
}

// protected runs analyzeSync, turning a panic into the result's Error, and
// then releases the input's buffer where it is a fileReader.
func (s *Scanner) protected(in input, snap *snapshot) (o outcome) {
	defer func() {
		if v := recover(); v != nil {
			res := snap.get()
			res.Error = fmt.Sprintf("internal error: panic while analysing %s: %v", in.name, v)
			o = outcome{res: res}
		}
		if fr, ok := in.r.(*fileReader); ok {
			// Once the analysis is over, even if abandoned, and before
			// its result goes out: the worker's next file reuses it.
			fr.release()
		}
	}()
	return s.analyzeSync(in, snap)
}

// lateCheck returns the outcome of an analysis that started at start: o,
// or the timed-out result where it finished later than the per-file time
// limit (the same result whichever the caller noticed first).
func (s *Scanner) lateCheck(o outcome, snap *snapshot, start time.Time) outcome {
	if d := s.perFileTimeout(); d > 0 && o.skip == notSkipped && time.Since(start) > d {
		return timedOut(snap)
	}
	return o
}

// timedOut is the result of a file whose analysis outlasted the per-file
// time limit: what the analysis had learnt, with the timeout's error.
func timedOut(snap *snapshot) outcome {
	res := snap.get()
	res.Error = ErrTextTimeout
	res.LimitReached = true
	return outcome{res: res}
}

func (s *Scanner) perFileTimeout() time.Duration {
	if s.PerFileTimeout == 0 {
		return DefaultPerFileTimeout
	}
	return s.PerFileTimeout
}

func (s *Scanner) maxFileSize() int64 {
	if s.Limits.MaxFileSize > 0 {
		return s.Limits.MaxFileSize
	}
	return peimage.DefaultLimits.MaxFileSize
}

// analyzeSync parses, hashes, classifies and checks one image. It publishes
// what it has learnt to snap as it goes, for a timed-out analysis to report.
func (s *Scanner) analyzeSync(in input, snap *snapshot) outcome {
	res := snap.get()
	f, err := s.parse(in.r, in.size)
	if errors.Is(err, peimage.ErrNotPE) && !in.explicit {
		return outcome{res: res, skip: skippedNonPE}
	}
	if f != nil {
		res.Machine = peimage.MachineName(f.Machine)
		snap.set(res)
	}
	var facts *checks.Facts
	if err == nil {
		opts := s.CallSite
		opts.Workspace = in.workspace
		facts = checks.NewFactsWith(f, opts)
		kind := f.Classify(facts.ImportedDLLNames(), filepath.Base(in.name))
		facts.SetKind(kind)
		res.Kind = string(kind)
	}
	if in.hash {
		// Authenticode hashes are what driver blocklists match on: computed
		// for kernel-mode images only (they double the cost of hashing).
		auth := f
		if res.Kind != string(peimage.KindKernelDriver) {
			auth = nil
		}
		if herr := hashInto(&res, in.r, in.size, auth); herr != nil {
			res.Error = herr.Error()
			return outcome{res: res}
		}
		snap.set(res)
	}
	if err != nil {
		res.Error = describeParseError(err)
		res.LimitReached = isLimit(err)
		return outcome{res: res}
	}
	res.Version = versionInfo(f)
	snap.set(res)
	s.runChecks(&res, facts)
	return outcome{res: res}
}

// parse parses the headers. A file over the size limit is still parsed
// (headers only) to tell a large PE image, which is an error, from a large
// file of another kind, which a walk skips; its File is then returned with
// the limit error.
func (s *Scanner) parse(r io.ReaderAt, size int64) (*peimage.File, error) {
	limit := s.maxFileSize()
	if size <= limit {
		return peimage.Parse(r, size, s.Limits)
	}
	lifted := s.Limits
	lifted.MaxFileSize = math.MaxInt64
	f, err := peimage.Parse(r, size, lifted)
	if err != nil && !isLimit(err) {
		return nil, err
	}
	return f, &peimage.LimitError{What: "file size", Limit: limit, Got: size}
}

func describeParseError(err error) string {
	if errors.Is(err, peimage.ErrNotPE) || isLimit(err) {
		return err.Error()
	}
	return fmt.Sprintf("damaged PE image: %v", err)
}

// hashInto streams the file through SHA-256 and sets res.SHA256; for a PE
// image (f not nil) the same pass computes its Authenticode hashes.
func hashInto(res *FileResult, r io.ReaderAt, size int64, f *peimage.File) error {
	h := sha256.New()
	var w io.Writer = h
	var ah *peimage.AuthenticodeHasher
	if f != nil {
		var err error
		if ah, err = f.NewAuthenticodeHasher(); err != nil {
			res.Authenticode = &peimage.AuthenticodeHashes{Error: "authenticode: " + err.Error()}
		} else {
			w = io.MultiWriter(h, ah)
		}
	}
	if err := hashFile(w, r, size); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	res.SHA256 = hex.EncodeToString(h.Sum(nil))
	if ah != nil {
		sum := ah.Sum()
		res.Authenticode = &sum
	}
	return nil
}

// versionInfo reads f's version resource: nil where it has none, the
// error in VersionInfo.Error where it is damaged (not the file's error).
func versionInfo(f *peimage.File) *peimage.VersionInfo {
	v, err := f.VersionInfo()
	switch {
	case errors.Is(err, peimage.ErrNoVersionInfo):
		return nil
	case err != nil && v == nil:
		return &peimage.VersionInfo{Error: err.Error()}
	}
	return v
}

// runChecks applies the analyzers. A rule's error makes the result's Error
// when no rule produced a finding (the image cannot be called clean);
// otherwise the errors become anomalies, since the findings already decide
// the verdict. An error wrapping errors.ErrUnsupported (a rule that does not
// apply to this image, such as an architecture it cannot decode) is only
// an anomaly.
func (s *Scanner) runChecks(res *FileResult, facts *checks.Facts) {
	findings, all := checks.RunFacts(facts, s.Analyzers)
	if findings != nil {
		res.Findings = findings
	}
	res.Anomalies = append(res.Anomalies, facts.File().Anomalies...)
	notes, limited := facts.AnalysisNotes()
	res.Anomalies = append(res.Anomalies, notes...)
	res.LimitReached = res.LimitReached || limited
	if err := facts.ImportsErr(); isLimit(err) {
		// The imports were cut short: a call-site rule may have missed a
		// checked import, or the classification a kernel module. (Other
		// import errors are the rules' business; imports no rule needed
		// are not read.)
		res.LimitReached = true
		if !slices.ContainsFunc(res.Anomalies, func(a string) bool { return strings.Contains(a, err.Error()) }) {
			res.Anomalies = append(res.Anomalies, "imports: "+err.Error())
		}
	}
	var errs []error
	for _, err := range all {
		switch {
		case errors.Is(err, errors.ErrUnsupported):
			res.SkippedRules = append(res.SkippedRules, s.ruleOf(err))
			res.Anomalies = append(res.Anomalies, fmt.Sprintf("rule skipped: %v", err))
			continue
		case isLimit(err):
			res.LimitReached = true
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return
	}
	if len(findings) == 0 {
		res.Error = "analysis incomplete: " + strings.ReplaceAll(errors.Join(errs...).Error(), "\n", "; ")
		return
	}
	for _, err := range errs {
		res.Anomalies = append(res.Anomalies, fmt.Sprintf("rule %v", err))
	}
}

func isLimit(err error) bool {
	if err == nil {
		return false
	}
	var le *peimage.LimitError
	return errors.As(err, &le)
}

// snapshot is what an analysis has learnt so far, shared with the
// goroutine that waits for it.
type snapshot struct {
	mu  sync.Mutex
	res FileResult
}

func newSnapshot(r FileResult) *snapshot { return &snapshot{res: r} }

// set records r; Findings and Anomalies are not shared (a timed-out result
// reports neither).
func (s *snapshot) set(r FileResult) {
	r.Findings, r.Anomalies = []checks.Finding{}, nil
	s.mu.Lock()
	s.res = r
	s.mu.Unlock()
}

func (s *snapshot) get() FileResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.res
}

// ruleOf names the analyzer an error of checks.Run comes from (Run prefixes
// each error with the analyzer's name).
func (s *Scanner) ruleOf(err error) string {
	msg := err.Error()
	for _, a := range s.Analyzers {
		if strings.HasPrefix(msg, a.Name+": ") {
			return a.Name
		}
	}
	return msg
}
