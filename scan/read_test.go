package scan

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/scan/scantest"
)

// TestFileReader checks that fileReader reads what the file holds, at any
// offset and length, in whole and block mode, and hashes it.
func TestFileReader(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	sizes := []int{0, 1, 100, firstRead - 1, firstRead, firstRead + 1, directMin*3 + 7, wholeFileMax, wholeFileMax + 1, wholeFileMax + 2*directMin + 5, pageSize - 1, pageSize, pageSize + 1}
	for _, size := range sizes {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		want := sha256.Sum256(data)
		for _, whole := range []bool{true, false} {
			r := newFileReader(bytes.NewReader(data), int64(size), whole)
			h := sha256.New()
			if err := hashFile(h, r, int64(size)); err != nil {
				t.Fatalf("size %d whole %v: hash: %v", size, whole, err)
			}
			if !bytes.Equal(h.Sum(nil), want[:]) {
				t.Errorf("size %d whole %v: wrong hash", size, whole)
			}
			reads := [][2]int{{0, 64}, {0, size}, {size, 1}, {size + 5, 3}, {max(size-10, 0), 20}}
			for range 200 {
				off := rng.IntN(size + 2)
				n := rng.IntN(3 * directMin)
				if rng.IntN(4) == 0 {
					n = rng.IntN(64)
				}
				reads = append(reads, [2]int{off, n})
			}
			for _, rd := range reads {
				checkRead(t, r, data, int64(rd[0]), rd[1])
			}
			r.release()
			if _, err := r.ReadAt(make([]byte, 1), 0); !errors.Is(err, os.ErrClosed) {
				t.Errorf("size %d whole %v: read after release: %v", size, whole, err)
			}
		}
	}
}

// TestFileReaderReset reuses one reader for files of every size and mode,
// as a worker does: each reads as its own.
func TestFileReaderReset(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var r fileReader
	for _, size := range []int{wholeFileMax + 5, 100, 0, firstRead + 1, 3*directMin + 7, wholeFileMax, 10} {
		for _, hashed := range []bool{false, true} {
			data := make([]byte, size)
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			r.reset(bytes.NewReader(data), int64(size), hashed)
			if hashed {
				want := sha256.Sum256(data)
				h := sha256.New()
				if err := hashFile(h, &r, int64(size)); err != nil || !bytes.Equal(h.Sum(nil), want[:]) {
					t.Errorf("size %d: hash: %v", size, err)
				}
			}
			for range 50 {
				checkRead(t, &r, data, int64(rng.IntN(size+2)), rng.IntN(2*directMin))
			}
			r.release()
			if _, err := r.ReadAt(make([]byte, 1), 0); !errors.Is(err, os.ErrClosed) {
				t.Errorf("size %d: read after release: %v", size, err)
			}
		}
	}
}

// checkRead compares one read of r with the same read of data.
func checkRead(t *testing.T, r io.ReaderAt, data []byte, off int64, n int) {
	t.Helper()
	got := make([]byte, n)
	gn, gerr := r.ReadAt(got, off)
	want := make([]byte, n)
	wn, werr := bytes.NewReader(data).ReadAt(want, off)
	if gn != wn || !bytes.Equal(got[:gn], want[:wn]) || (gerr == nil) != (werr == nil) {
		t.Errorf("size %d: ReadAt(%d bytes at %d) = %d, %v; want %d, %v", len(data), n, off, gn, gerr, wn, werr)
	}
}

// shrinking reads as a file cut to n bytes after it was measured.
type shrinking struct {
	data []byte
	n    int64
}

func (s shrinking) ReadAt(p []byte, off int64) (int, error) {
	return bytes.NewReader(s.data[:s.n]).ReadAt(p, off)
}

// TestFileReaderShrunk: a file that shrinks under the scanner gives a read
// error, not a hash of part of it.
func TestFileReaderShrunk(t *testing.T) {
	data := scantest.Driver().Bytes()
	for _, whole := range []bool{true, false} {
		r := newFileReader(shrinking{data, int64(len(data)) - 100}, int64(len(data)), whole)
		if err := hashFile(sha256.New(), r, int64(len(data))); err == nil {
			t.Errorf("whole %v: no error", whole)
		}
		r.release()
	}
	img := shrinking{data, int64(len(data)) - 100}
	res := (&Scanner{Analyzers: checks.All()}).Analyze(context.Background(), "x.sys", newFileReader(img, int64(len(data)), true), int64(len(data)))
	if res.SHA256 != "" || res.Error == "" {
		t.Errorf("shrunk file: %+v", res)
	}
}

// TestFileReaderConcurrent reads from several goroutines at once, as
// io.ReaderAt allows (run with -race).
func TestFileReaderConcurrent(t *testing.T) {
	data := make([]byte, wholeFileMax+3*directMin)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, whole := range []bool{true, false} {
		r := newFileReader(bytes.NewReader(data), int64(len(data)), whole)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 50 {
					off := int64((g*50+i)*4099) % int64(len(data))
					checkRead(t, r, data, off, 5000)
				}
			})
		}
		wg.Wait()
		r.release()
	}
}

// TestScanLargeAndSmallFiles scans a file read whole and one read in
// blocks, with and without hashing: same findings, right hashes.
func TestScanLargeAndSmallFiles(t *testing.T) {
	small := scantest.WritableExecutable().Bytes()
	large := append(scantest.WritableExecutable().Bytes(), make([]byte, wholeFileMax)...) // an overlay
	dir := writeFiles(t, map[string][]byte{"small.sys": small, "large.sys": large})
	for _, noHash := range []bool{false, true} {
		s := &Scanner{Analyzers: checks.All()}
		if noHash {
			s.Hash = HashNever
		}
		got, _ := scanAll(t, s, dir, dir)
		for name, data := range map[string][]byte{"small.sys": small, "large.sys": large} {
			r := got[name]
			want := ""
			if !noHash {
				sum := sha256.Sum256(data)
				want = hex.EncodeToString(sum[:])
			}
			if r.SHA256 != want || r.Error != "" || len(r.Findings) != 1 || r.Findings[0].Rule != "writable-executable-section" {
				t.Errorf("%s (no hash %v): %+v", name, noHash, r)
			}
		}
	}
	// A file over the size limit is not read whole to learn it is a PE image.
	r := newFileReader(bytes.NewReader(small), int64(len(small)), false)
	defer r.release()
	if _, err := r.ReadAt(make([]byte, 64), 0); err != nil || len(r.data) != 0 {
		t.Errorf("block mode read %d bytes whole, err %v", len(r.data), err)
	}
}
