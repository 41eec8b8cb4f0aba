// Command benchfloor measures the floors of scripts/bench.sh: the least a
// scan of the same files must cost. It reads the files named on the command
// line (or, with -list FILE, one path per line of FILE) on as many
// goroutines as `hvcicheck scan` uses by default, one per CPU, and prints
// one line of totals.
//
// Modes (-mode):
//
//	hash          read every byte of every file once and SHA-256 it: the
//	              floor of a full scan, whose every result carries the
//	              file's SHA-256
//	authenticode  the same pass through SHA-256, SHA-1 and a second
//	              SHA-256: what hashing costs a scan that also reports
//	              Authenticode hashes
//	headers       parse the PE headers and section table of each file,
//	              reading only them: the floor of the image rules; the
//	              totals then count the bytes of executable sections (the
//	              "MB of code" of the benchmark's MB/s figures)
//
// It is a measuring tool, not part of hvcicheck:
//
//	go run ./internal/benchfloor -mode hash -list corpus.txt
package main

import (
	"bufio"
	"crypto/sha1"
	"crypto/sha256"
	"flag"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hvcicheck/hvcicheck/peimage"
)

func main() {
	mode := flag.String("mode", "hash", "what to do with each file: hash, authenticode or headers")
	list := flag.String("list", "", "read the file names from `FILE`, one per line")
	workers := flag.Int("workers", runtime.NumCPU(), "files read at once")
	flag.Parse()
	paths := flag.Args()
	if *list != "" {
		data, err := os.ReadFile(*list)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchfloor:", err)
			os.Exit(2)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				paths = append(paths, line)
			}
		}
	}
	var do func(string, *worker) error
	switch *mode {
	case "hash", "authenticode":
		do = hashFile
	case "headers":
		do = headers
	default:
		fmt.Fprintf(os.Stderr, "benchfloor: unknown -mode %q\n", *mode)
		os.Exit(2)
	}
	var t totals
	jobs := make(chan string)
	var wg sync.WaitGroup
	for range max(*workers, 1) {
		wg.Go(func() {
			w := newWorker(*mode == "authenticode")
			for p := range jobs {
				if err := do(p, w); err != nil {
					t.errors.Add(1)
					fmt.Fprintf(os.Stderr, "benchfloor: %s: %v\n", p, err)
				}
			}
			t.files.Add(w.files)
			t.bytes.Add(w.bytes)
			t.code.Add(w.code)
		})
	}
	for _, p := range paths {
		jobs <- p
	}
	close(jobs)
	wg.Wait()
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(out, "files %d bytes %d code %d errors %d\n", t.files.Load(), t.bytes.Load(), t.code.Load(), t.errors.Load())
	out.Flush()
	if t.errors.Load() > 0 {
		os.Exit(1)
	}
}

type totals struct {
	files, bytes, code, errors atomic.Int64
}

// worker is one goroutine's buffer, hashes and counts.
type worker struct {
	buf                []byte
	hashes             []hash.Hash
	w                  io.Writer
	files, bytes, code int64
}

func newWorker(authenticode bool) *worker {
	w := &worker{buf: make([]byte, 1<<20), hashes: []hash.Hash{sha256.New()}}
	if authenticode {
		w.hashes = append(w.hashes, sha1.New(), sha256.New())
	}
	ws := make([]io.Writer, len(w.hashes))
	for i, h := range w.hashes {
		ws[i] = h
	}
	w.w = io.MultiWriter(ws...)
	return w
}

// hashFile reads the file once, in 1 MiB reads, through the hashes.
func hashFile(path string, w *worker) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, h := range w.hashes {
		h.Reset()
	}
	n, err := io.CopyBuffer(w.w, struct{ io.Reader }{f}, w.buf)
	if err != nil {
		return err
	}
	for _, h := range w.hashes {
		h.Sum(nil)
	}
	w.files++
	w.bytes += n
	return nil
}

// headers parses the headers and the section table, reading only them.
func headers(path string, w *worker) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	img, err := peimage.Parse(f, fi.Size(), peimage.Limits{})
	if err != nil {
		return err
	}
	for i := range img.Sections {
		if s := &img.Sections[i]; s.Executable() {
			w.code += int64(s.MappedSize(1))
		}
	}
	w.files++
	w.bytes += fi.Size()
	return nil
}
