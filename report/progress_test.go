package report

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hvcicheck/hvcicheck/scan"
	"github.com/hvcicheck/hvcicheck/scan/scantest"
)

// syncBuffer is a bytes.Buffer safe for the progress goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestProgressLine(t *testing.T) {
	var w syncBuffer
	var p scan.Progress
	p.Queued.Store(10)
	p.Done.Store(3)
	l := StartProgress(&w, &p, 0)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(w.String(), "hvcicheck: 3/10 files") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	p.WalkDone.Store(true)
	p.Done.Store(10)
	for !strings.Contains(w.String(), "hvcicheck: 10/10 files") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	l.Stop()
	l.Stop() // twice is fine
	out := w.String()
	if !strings.HasPrefix(out, "\r\x1b[Khvcicheck: 3/10") || !strings.Contains(out, "\r\x1b[Khvcicheck: 3/10 files, ") || !strings.Contains(out, "\r\x1b[Khvcicheck: 10/10 files, ") || !strings.HasSuffix(out, "files/s\r\x1b[K") {
		t.Errorf("output %q", out)
	}
}

func TestProgressQuickScanShowsNothing(t *testing.T) {
	var w syncBuffer
	l := StartProgress(&w, &scan.Progress{}, time.Hour)
	l.Stop()
	if w.String() != "" {
		t.Errorf("a scan shorter than the delay drew %q", w.String())
	}
}

func TestProgressText(t *testing.T) {
	var p scan.Progress
	p.Queued.Store(400)
	p.Done.Store(100)
	p.WalkDone.Store(true)
	start := time.Unix(1000, 0)
	l := &ProgressLine{p: &p, start: start, now: func() time.Time { return start.Add(4 * time.Second) }}
	if got := l.Text(); got != "hvcicheck: 100/400 files, 25.0 files/s" {
		t.Errorf("Text() = %q", got)
	}
	// While the walk and the count go on, the larger count, with a "+".
	p.WalkDone.Store(false)
	l.counted.Store(900)
	if got := l.Text(); got != "hvcicheck: 100/900+ files, 25.0 files/s" {
		t.Errorf("Text() = %q", got)
	}
	l.countDone.Store(true)
	if got := l.Text(); got != "hvcicheck: 100/900 files, 25.0 files/s" {
		t.Errorf("Text() = %q", got)
	}
}

func TestProgressCount(t *testing.T) {
	dir := writeImages(t)
	var w syncBuffer
	l := StartProgress(&w, &scan.Progress{}, time.Hour, dir, dir+"/rwx.sys", dir+"/missing")
	deadline := time.Now().Add(5 * time.Second)
	for !l.countDone.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	l.Stop()
	if got, want := l.counted.Load(), int64(len(scantest.Examples())+1); got != want {
		t.Errorf("counted %d files, want %d", got, want)
	}
}

func TestShowProgress(t *testing.T) {
	env := func(string) string { return "" }
	if ShowProgress(&bytes.Buffer{}, env) {
		t.Error("progress on a buffer")
	}
}
