// Package scan finds PE images under a set of paths and checks each with a
// set of hvcicheck's rules, on a bounded pool of workers, with per-file
// limits on size, work and time. A file that cannot be read or analysed is
// reported with an Error; nothing about one file stops the scan.
package scan

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hvcicheck/hvcicheck/callsite"
	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// Scanner scans files and folders. The zero value is ready to use but runs
// no rules; set Analyzers (checks.All() for every rule).
type Scanner struct {
	// Analyzers are the rules to apply to every PE image.
	Analyzers []*checks.Analyzer
	// Workers is the number of files analysed at once; zero or less means
	// runtime.NumCPU().
	Workers int
	// Limits bound the work spent on one image (zero fields take
	// peimage.DefaultLimits). A file larger than Limits.MaxFileSize is not
	// read: it is reported with an Error if it is a PE image, skipped like
	// any other non-PE file in a folder walk otherwise.
	Limits peimage.Limits
	// CallSite bounds the call-site analysis of one image (zero fields take
	// callsite's defaults).
	CallSite callsite.Options
	// PerFileTimeout bounds the time spent on one file; zero means
	// DefaultPerFileTimeout, a negative value no limit.
	PerFileTimeout time.Duration
	// FollowSymlinks makes folder walks follow symbolic links to files and
	// folders; a link to a folder already walked, into one or above one is
	// not followed, so each folder is walked once and loops end. Without it,
	// symbolic links met in a walk are skipped and counted. A path given to
	// Scan is always followed.
	FollowSymlinks bool
	// Hash says whether the whole-file hashes (FileResult.SHA256, and
	// Authenticode for kernel-mode images) are computed; the zero value,
	// HashAuto, computes them for a scan that runs a call-site rule, not
	// for one that runs image rules only.
	Hash HashMode
	// Progress, where set, is updated as the scan goes, for a progress
	// display (the scanner only writes it).
	Progress *Progress
}

// Progress counts a scan's files as it runs; read it from any goroutine.
type Progress struct {
	// Queued counts the files the walk has handed to the workers; Done
	// those the workers have finished (reported or skipped as non-PE).
	Queued, Done atomic.Int64
	// WalkDone is set when the walk has queued every file: Queued is then
	// the total.
	WalkDone atomic.Bool
}

// HashMode says when a scan hashes the files it reads: the SHA-256 of the
// whole file (FileResult.SHA256) and, for kernel-mode images, the
// Authenticode hashes. Hashing reads every byte of every file, which costs
// far more than the image rules, which read only headers and tables.
type HashMode int

const (
	// HashAuto hashes the files when the scan runs a call-site rule (the
	// full job: the code is read anyway, and every result then carries its
	// hashes), or no rule at all (an inventory of the files); it does not
	// when every rule is an image rule, as a linter run with selected rules
	// would not.
	HashAuto HashMode = iota
	// HashAlways hashes every file that is read.
	HashAlways
	// HashNever hashes no file: each is read only where the rules look.
	HashNever
)

// String returns the mode's name: "auto", "always" or "never".
func (m HashMode) String() string {
	switch m {
	case HashAuto:
		return "auto"
	case HashAlways:
		return "always"
	case HashNever:
		return "never"
	}
	return fmt.Sprintf("HashMode(%d)", int(m))
}

// Hashing reports whether the scanner hashes the files it reads, as its
// Hash mode and Analyzers decide.
func (s *Scanner) Hashing() bool {
	switch s.Hash {
	case HashAlways:
		return true
	case HashNever:
		return false
	}
	if len(s.Analyzers) == 0 {
		return true
	}
	return slices.ContainsFunc(s.Analyzers, func(a *checks.Analyzer) bool { return a.CallSite() })
}

// job is one file for a worker.
type job struct {
	path     string
	explicit bool // named by the caller, not met in a walk
}

// Scan scans roots (files and folders, folders recursively) and calls emit
// with the result of every file, from the calling goroutine, in the order
// the files finish. Non-PE files met in folder walks are not emitted, only
// counted in the returned Summary. Unreadable paths are emitted with an
// Error. Scan returns when every file is done, or early with ctx's error
// when ctx is cancelled (results of files in progress are then dropped).
func (s *Scanner) Scan(ctx context.Context, roots []string, emit func(FileResult)) (Summary, error) {
	sum := NewSummary(s.Analyzers)
	if len(roots) == 0 {
		return sum, errors.New("scan: no paths given")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan job, queueLen)
	out := make(chan outcome, queueLen)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(jobs)
		w := &walker{follow: s.FollowSymlinks, jobs: jobs, out: out, seen: map[string]bool{}, progress: s.Progress}
		w.walkRoots(ctx, roots)
		if s.Progress != nil {
			s.Progress.WalkDone.Store(true)
		}
	})
	for range s.workers() {
		wg.Add(1)
		go newWorker(ctx, s, jobs, out, &wg).run()
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	for {
		select {
		case o, ok := <-out:
			if !ok {
				return sum, ctx.Err()
			}
			s.tally(&sum, o, emit)
		case <-ctx.Done():
			// A worker may be stuck in an analysis: it is left to finish
			// (its result is dropped).
			return sum, ctx.Err()
		}
	}
}

// queueLen is the room in the queues between the walk, the workers and
// the caller: each goes on while the next is busy, rather than waiting for
// a hand-over per file.
const queueLen = 64

func (s *Scanner) workers() int {
	if s.Workers > 0 {
		return s.Workers
	}
	return runtime.NumCPU()
}

// tally counts o in sum and emits it if it is a result.
func (s *Scanner) tally(sum *Summary, o outcome, emit func(FileResult)) {
	switch o.skip {
	case notSkipped:
		sum.Add(o.res)
		if emit != nil {
			emit(o.res)
		}
	case skippedNonPE:
		sum.FilesSeen++
		sum.NonPESkipped++
	case skippedSymlink:
		sum.SymlinksSkipped++
	case skippedSpecial:
		sum.SpecialSkipped++
	}
}

// send delivers o unless ctx is cancelled first.
func send(ctx context.Context, out chan<- outcome, o outcome) {
	select {
	case out <- o:
	case <-ctx.Done():
	}
}

// errorOutcome is the result of a path that could not be read.
func errorOutcome(path string, err error) outcome {
	return outcome{res: FileResult{Path: path, Findings: []checks.Finding{}, Error: err.Error()}}
}
