package report

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hvcicheck/hvcicheck/scan"
)

// ProgressDelay is how long a scan runs before the progress line appears:
// a scan that ends sooner shows none.
const ProgressDelay = time.Second

// progressInterval is how often the line is redrawn.
const progressInterval = 250 * time.Millisecond

// ProgressLine draws one self-overwriting line on a terminal (standard
// error), "hvcicheck: 120/480 files, 35.2 files/s", while a scan runs. It is
// meant for terminals only (see ShowProgress); machine output never has it.
type ProgressLine struct {
	w     io.Writer
	p     *scan.Progress
	delay time.Duration
	start time.Time
	now   func() time.Time

	stop chan struct{}
	done chan struct{}
	once sync.Once

	mu    sync.Mutex
	shown bool

	// The walk hands files to the workers only as fast as they take them,
	// so its count is never ahead; a quick count of the files under the
	// roots (folder listings only) gives the total sooner.
	counted   atomic.Int64
	countDone atomic.Bool
	cancel    context.CancelFunc
}

// ShowProgress reports whether a progress line may be drawn on w: w is a
// terminal and TERM is not "dumb".
func ShowProgress(w io.Writer, getenv func(string) string) bool {
	if getenv("TERM") == "dumb" {
		return false
	}
	return isTerminal(w)
}

// StartProgress starts drawing p's counts on w after delay, every
// progressInterval, until Stop. roots are the scanned paths, whose regular
// files are counted for the total (symbolic links are not followed for
// the count, so the total is an estimate with --follow-symlinks).
func StartProgress(w io.Writer, p *scan.Progress, delay time.Duration, roots ...string) *ProgressLine {
	ctx, cancel := context.WithCancel(context.Background())
	l := &ProgressLine{w: w, p: p, delay: delay, start: time.Now(), now: time.Now, stop: make(chan struct{}), done: make(chan struct{}), cancel: cancel}
	go l.count(ctx, roots)
	go l.run()
	return l
}

// count counts the regular files under roots.
func (l *ProgressLine) count(ctx context.Context, roots []string) {
	defer l.countDone.Store(true)
	for _, root := range roots {
		fi, err := os.Stat(root)
		if err != nil {
			continue
		}
		if !fi.IsDir() {
			l.counted.Add(1)
			continue
		}
		filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err == nil && d.Type().IsRegular() {
				l.counted.Add(1)
			}
			return nil
		})
	}
}

func (l *ProgressLine) run() {
	defer close(l.done)
	wait := time.NewTimer(l.delay)
	defer wait.Stop()
	select {
	case <-l.stop:
		return
	case <-wait.C:
	}
	tick := time.NewTicker(progressInterval)
	defer tick.Stop()
	for {
		l.draw()
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
	}
}

// Text is the progress line's text, without the carriage return.
func (l *ProgressLine) Text() string {
	done, queued := l.p.Done.Load(), l.p.Queued.Load()
	n, known := queued, l.p.WalkDone.Load()
	if !known && l.countDone.Load() {
		n, known = max(queued, l.counted.Load()), true
	} else if !known {
		n = max(queued, l.counted.Load())
	}
	n = max(n, done)
	total := fmt.Sprintf("%d", n)
	if !known {
		total += "+" // still finding files
	}
	elapsed := l.now().Sub(l.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(done) / elapsed
	}
	return fmt.Sprintf("hvcicheck: %d/%s files, %.1f files/s", done, total, rate)
}

func (l *ProgressLine) draw() {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "\r\x1b[K%s", l.Text())
	l.shown = true
}

// Stop stops drawing and erases the line, leaving the terminal as it was.
func (l *ProgressLine) Stop() {
	l.once.Do(func() {
		if l.cancel != nil {
			l.cancel()
		}
		close(l.stop)
		<-l.done
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.shown {
			fmt.Fprint(l.w, "\r\x1b[K")
		}
	})
}
