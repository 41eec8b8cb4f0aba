package scan

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
)

// How a file is read. Every file is read whole once, for its hashes; the
// rules then read small parts of it (headers, import names, relocations,
// code), often thousands of small reads per image. fileReader serves those
// from memory, so that a file costs one pass over its bytes and a handful of
// system calls, with memory bounded per worker:
//
//   - a file to hash of up to wholeFileMax bytes (most drivers) is read into
//     the worker's buffer: its first firstRead bytes at the first read (the
//     whole of a small file; all a non-PE file met in a walk costs), the
//     rest when a read or the hashing needs it; hashing and every later read
//     use the buffer;
//   - a larger file is hashed in hashChunk pieces, and the small reads of
//     it, or of a file that is not hashed (--no-hash, over the size limit),
//     go through a cache of cacheBlocks blocks of cacheBlockSize bytes;
//     reads of a block or more (a code section) go to the file.
//
// A worker holds one buffer: up to wholeFileMax bytes for a file read whole
// (grown to the largest such file met), the block cache and the hash chunk
// for a larger one. It goes back to the free list when the analysis that
// uses it ends (not when a timed-out analysis is abandoned: it may still be
// reading).
const (
	wholeFileMax   = 1 << 20
	firstRead      = 64 << 10
	hashChunk      = 1 << 20
	cacheBlockSize = 16 << 10
	cacheBlocks    = 32
)

// The block cache and the hash chunk share the buffer of a large file.
const (
	cacheOffset     = 0
	chunkOffset     = cacheBlocks * cacheBlockSize
	blockBufferSize = chunkOffset + hashChunk
)

// freeBuffers are the buffers not in use. Unlike a sync.Pool, which the
// garbage collector empties at every cycle, it keeps them: a scan allocates
// about one buffer per worker, not one per file.
var freeBuffers = make(chan []byte, runtime.GOMAXPROCS(0))

// getBuffer returns a buffer of n bytes.
func getBuffer(n int) []byte {
	select {
	case b := <-freeBuffers:
		if cap(b) >= n {
			return b[:n]
		}
	default:
	}
	return make([]byte, n, max(n, 64<<10))
}

func putBuffer(b []byte) {
	select {
	case freeBuffers <- b:
	default:
	}
}

// fileReader is the io.ReaderAt an analysis reads one file through. It is
// safe for concurrent use, as io.ReaderAt requires.
type fileReader struct {
	mu   sync.Mutex
	f    io.ReaderAt
	size int64
	buf  []byte // from getBuffer; nil once released

	// whole mode: the file's first len(data) bytes are in buf
	whole   bool
	data    []byte
	loadErr error // why fewer than size bytes could be read

	// block mode
	blocks [cacheBlocks]cacheBlock
	next   int // the block to replace next (round robin)
}

type cacheBlock struct {
	off int64 // file offset, a multiple of cacheBlockSize; -1 when empty
	n   int   // valid bytes
}

// newFileReader returns a reader of f, whose size is size; hashed says
// whether the file will be hashed (read whole).
func newFileReader(f io.ReaderAt, size int64, hashed bool) *fileReader {
	r := &fileReader{f: f, size: size, whole: hashed && size <= wholeFileMax}
	switch {
	case r.whole:
		r.buf = getBuffer(int(size))
	case hashed:
		r.buf = getBuffer(blockBufferSize)
	default:
		r.buf = getBuffer(chunkOffset)
	}
	for i := range r.blocks {
		r.blocks[i].off = -1
	}
	return r
}

// release returns the buffer to the free list; later reads fail.
func (r *fileReader) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.buf != nil {
		putBuffer(r.buf)
		r.buf, r.data = nil, nil
		for i := range r.blocks {
			r.blocks[i].off = -1
		}
	}
}

// load makes the buffer hold the file up to end at least: the first block
// at the first read, all of it at the next.
func (r *fileReader) load(end int64) {
	have := int64(len(r.data))
	if end <= have || have == r.size || r.loadErr != nil {
		return
	}
	want := r.size
	if have == 0 {
		want = min(r.size, firstRead)
		if end > want {
			want = r.size
		}
	}
	n, err := r.f.ReadAt(r.buf[have:want], have)
	r.data = r.buf[:have+int64(n)]
	if int64(n) < want-have {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF // the file shrank since it was measured
		}
		r.loadErr = err
	}
}

// ReadAt implements io.ReaderAt.
func (r *fileReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("read at negative offset %d", off)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.buf == nil {
		return 0, os.ErrClosed
	}
	if off >= r.size {
		return 0, io.EOF
	}
	if r.whole {
		r.load(min(off+int64(len(p)), r.size))
		if off >= int64(len(r.data)) {
			return 0, r.eof()
		}
		n := copy(p, r.data[off:])
		if n < len(p) {
			return n, r.eof()
		}
		return n, nil
	}
	if len(p) >= cacheBlockSize {
		return r.f.ReadAt(p, off)
	}
	return r.readCached(p, off)
}

// eof is the error of a read past what load could read (io.EOF past the
// end of the file).
func (r *fileReader) eof() error {
	if r.loadErr != nil {
		return r.loadErr
	}
	return io.EOF
}

// readCached serves a small read from the block cache.
func (r *fileReader) readCached(p []byte, off int64) (int, error) {
	done := 0
	for done < len(p) {
		pos := off + int64(done)
		b, err := r.block(pos - pos%cacheBlockSize)
		if err != nil {
			return done, err
		}
		in := int(pos % cacheBlockSize)
		if in >= len(b) {
			return done, io.EOF
		}
		done += copy(p[done:], b[in:])
	}
	return done, nil
}

// block returns the cached bytes of the block at off, reading it if needed.
func (r *fileReader) block(off int64) ([]byte, error) {
	for i := range r.blocks {
		if r.blocks[i].off == off {
			return r.blockBytes(i)[:r.blocks[i].n], nil
		}
	}
	i := r.next
	r.next = (r.next + 1) % cacheBlocks
	b := r.blockBytes(i)
	n, err := r.f.ReadAt(b, off)
	if n == 0 && err != nil {
		r.blocks[i].off = -1
		return nil, err
	}
	r.blocks[i] = cacheBlock{off: off, n: n}
	return b[:n], nil
}

func (r *fileReader) blockBytes(i int) []byte {
	start := cacheOffset + i*cacheBlockSize
	return r.buf[start : start+cacheBlockSize]
}

// hashFile writes the first size bytes of r to w (the hashes), in one
// pass: from memory where r holds the whole file, else in large pieces.
func hashFile(w io.Writer, r io.ReaderAt, size int64) error {
	fr, ok := r.(*fileReader)
	if !ok {
		buf := getBuffer(hashChunk)
		defer putBuffer(buf)
		return copyAll(w, r, size, buf)
	}
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if fr.buf == nil {
		return os.ErrClosed
	}
	if fr.whole {
		fr.load(size)
		if fr.loadErr != nil {
			return fr.loadErr
		}
		_, err := w.Write(fr.data[:size])
		return err
	}
	// The chunk lies beside the block cache, which survives hashing.
	if len(fr.buf) < blockBufferSize {
		buf := getBuffer(hashChunk)
		defer putBuffer(buf)
		return copyAll(w, fr.f, size, buf)
	}
	return copyAll(w, fr.f, size, fr.buf[chunkOffset:chunkOffset+hashChunk])
}

// copyAll writes the first size bytes of r to w through buf; a file that
// turns out shorter is an error.
func copyAll(w io.Writer, r io.ReaderAt, size int64, buf []byte) error {
	n, err := io.CopyBuffer(w, io.NewSectionReader(r, 0, size), buf)
	if err == nil && n < size {
		err = io.ErrUnexpectedEOF // the file shrank since it was measured
	}
	return err
}
