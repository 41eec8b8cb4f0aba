package scan

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hvcicheck/hvcicheck/callsite"
	"github.com/hvcicheck/hvcicheck/checks"
)

// worker analyses the files of a scan one at a time on its own goroutine,
// with no hand-over per file. A file that outlasts the per-file time limit
// is reported by its watchdog, which also abandons the file (its reads then
// fail, so a stuck analysis ends soon) and starts a new worker in the stuck
// one's place; the stuck worker exits when its analysis returns. wg counts the live workers:
// a replacement takes over the count of the worker it replaces.
type worker struct {
	s       *Scanner
	ctx     context.Context
	jobs    <-chan job
	out     chan<- outcome
	wg      *sync.WaitGroup
	hashing bool // s.Hashing(), computed once

	// reader, snap and workspace serve one file after the other; a
	// replacement worker has its own (the stuck analysis still holds
	// these).
	reader    fileReader
	snap      snapshot
	workspace callsite.Workspace
}

// newWorker returns a worker of s's scan.
func newWorker(ctx context.Context, s *Scanner, jobs <-chan job, out chan<- outcome, wg *sync.WaitGroup) *worker {
	return &worker{s: s, ctx: ctx, jobs: jobs, out: out, wg: wg, hashing: s.Hashing()}
}

// replacement returns a new worker to take w's place, with a reader and a
// snapshot of its own.
func (w *worker) replacement() *worker { return newWorker(w.ctx, w.s, w.jobs, w.out, w.wg) }

// run takes jobs until there are none left or the worker is replaced.
func (w *worker) run() {
	for j := range w.jobs {
		if w.ctx.Err() != nil {
			continue
		}
		if !w.scanFile(j) {
			return // replaced: the new worker counts in wg
		}
	}
	w.wg.Done()
}

// deliver sends o to the caller (unless the scan is cancelled) and counts
// the file done.
func (w *worker) deliver(o outcome) {
	send(w.ctx, w.out, o)
	if w.s.Progress != nil {
		w.s.Progress.Done.Add(1)
	}
}

// openedFile is a file a worker reads.
type openedFile interface {
	io.ReaderAt
	io.Closer
	// abandon makes every later read fail, from any goroutine: the
	// watchdog's way to make a stuck analysis end soon.
	abandon()
}

// scanFile opens, analyses and reports one file. It returns false when the
// watchdog gave up on the analysis: the worker has been replaced and must
// exit.
func (w *worker) scanFile(j job) bool {
	f, size, typ, err := openFile(j.path)
	if err != nil {
		w.deliver(errorOutcome(j.path, err))
		return true
	}
	// Closed once the analysis has returned, even an abandoned one: no read
	// is then in progress.
	defer f.Close()
	switch {
	case typ != 0 && !j.explicit:
		w.deliver(outcome{skip: skippedSpecial})
		return true
	case typ != 0:
		w.deliver(outcome{res: FileResult{Path: j.path, Findings: []checks.Finding{}, Error: fmt.Sprintf("not a regular file (%v)", typ)}})
		return true
	}
	hash := w.hashing && size <= w.s.maxFileSize()
	w.reader.reset(f, size, hash)
	return w.analyze(input{name: j.path, r: &w.reader, size: size, explicit: j.explicit, hash: hash, workspace: &w.workspace}, f)
}

// Analysis states, between a worker and its watchdog: whichever moves the
// state from running reports the file.
const (
	running int32 = iota
	finished
	abandoned
)

// analyze analyses one opened file under the per-file time limit and
// reports it; it returns false when the watchdog reported it first.
func (w *worker) analyze(in input, f openedFile) bool {
	start := time.Now()
	snap := &w.snap
	snap.set(FileResult{Path: in.name, Size: in.size, Findings: []checks.Finding{}})
	var state atomic.Int32
	if d := w.s.perFileTimeout(); d > 0 {
		t := time.AfterFunc(d, func() {
			if state.CompareAndSwap(running, abandoned) {
				f.abandon()
				w.deliver(timedOut(snap))
				go w.replacement().run()
			}
		})
		defer t.Stop()
	}
	o := w.s.protected(in, snap)
	if !state.CompareAndSwap(running, finished) {
		return false
	}
	w.deliver(w.s.lateCheck(o, snap, start))
	return true
}
