package scan

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// How a file is read. A file that is hashed is read whole once, for its
// hashes; the rules then read small parts of it (headers, import names,
// relocations, code), often thousands of small reads per image. fileReader
// serves those from memory, so that a file costs one pass over its bytes
// and a handful of system calls, with memory bounded per worker:
//
//   - a file to hash of up to wholeFileMax bytes (most drivers) is read into
//     the worker's buffer: its first firstRead bytes at the first read (the
//     whole of a small file; all a non-PE file met in a walk costs), the
//     rest when a read or the hashing needs it; hashing and every later read
//     use the buffer;
//   - a larger file is hashed in hashChunk pieces, and the small reads of
//     it, or of a file that is not hashed (image rules only, --no-hash, over
//     the size limit), go through a cache of cacheExtents extents: a read
//     that misses it reads, in one system call, the pages (pageSize) that
//     hold it and those that follow up to readAhead bytes (the tables an
//     image rule reads lie close together: import descriptors and names,
//     resources, relocations), or only the first page for a read at offset
//     0 (the headers and section table: all a non-PE file costs); a read of
//     directMin bytes or more (a code section) goes to the file. A file
//     that is not hashed thus costs one small read for its headers and
//     about one per table the rules look at.
//
// A worker holds one buffer, kept from file to file: up to wholeFileMax
// bytes for a file read whole (grown to the largest such file met), the
// extent cache and the hash chunk for a larger one. The next file reuses it
// once the analysis that used it has ended; an abandoned (timed-out)
// analysis, which may still be reading, keeps it, and the worker that
// replaces its own allocates another.
const (
	wholeFileMax = 1 << 20
	firstRead    = 64 << 10
	hashChunk    = 1 << 20
	pageSize     = 4 << 10
	readAhead    = 16 << 10
	directMin    = 16 << 10
	cacheExtents = 24
)

// An extent of the cache holds up to extentSize bytes: the pages of a read
// shorter than directMin, or readAhead bytes. The extent cache and the hash
// chunk share the buffer of a large file.
const (
	extentSize      = max(directMin+pageSize, readAhead)
	cacheOffset     = 0
	chunkOffset     = cacheExtents * extentSize
	blockBufferSize = chunkOffset + hashChunk
)

// fileReader is the io.ReaderAt an analysis reads one file through. It is
// safe for concurrent use, as io.ReaderAt requires. A worker keeps one from
// file to file (reset), and with it its buffer: a scan allocates about one
// buffer per worker, not one per file.
type fileReader struct {
	mu   sync.Mutex
	f    io.ReaderAt
	size int64
	buf  []byte // nil once released
	// spare is the buffer of a released reader, for reset to reuse.
	spare []byte

	// whole mode: the file's first len(data) bytes are in buf
	whole   bool
	data    []byte
	loadErr error // why fewer than size bytes could be read

	// block mode: the extent cache
	extents [cacheExtents]extent
	next    int // the extent to replace next (round robin)
}

// extent is a run of the file's bytes held in the cache.
type extent struct {
	off int64 // file offset, a multiple of pageSize; -1 when empty
	n   int   // bytes held
}

// newFileReader returns a reader of f, whose size is size; hashed says
// whether the file will be hashed (read whole).
func newFileReader(f io.ReaderAt, size int64, hashed bool) *fileReader {
	r := &fileReader{}
	r.reset(f, size, hashed)
	return r
}

// reset makes r a reader of f, as newFileReader does, reusing the buffer
// of the file it read before. r must be released, or new: no analysis may
// still read through it.
func (r *fileReader) reset(f io.ReaderAt, size int64, hashed bool) {
	r.f, r.size, r.whole = f, size, hashed && size <= wholeFileMax
	r.data, r.loadErr, r.next = nil, nil, 0
	n := chunkOffset
	switch {
	case r.whole:
		n = int(size)
	case hashed:
		n = blockBufferSize
	}
	if r.spare == nil || cap(r.spare) < n {
		// Grown by doubling (to the largest buffer a reader needs), not to
		// each larger file met in turn.
		r.spare = make([]byte, n, max(n, min(2*cap(r.spare), blockBufferSize), 64<<10))
	}
	r.buf, r.spare = r.spare[:n], nil
	for i := range r.extents {
		r.extents[i].off = -1
	}
}

// release ends the reading of the file: later reads fail. The buffer is
// kept for reset.
func (r *fileReader) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.buf != nil {
		r.spare, r.buf, r.data = r.buf[:0], nil, nil
		for i := range r.extents {
			r.extents[i].off = -1
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
	if len(p) >= directMin {
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

// readCached serves a small read (off inside the file) from the extent
// cache, reading the pages that hold it on a miss.
func (r *fileReader) readCached(p []byte, off int64) (int, error) {
	for i := range r.extents {
		if n, ok := r.copyFrom(i, p, off); ok {
			return n, r.shortErr(n, len(p), nil)
		}
	}
	i := r.next
	r.next = (r.next + 1) % cacheExtents
	start := off &^ (pageSize - 1)
	ahead := int64(readAhead)
	if start == 0 {
		ahead = pageSize
	}
	end := min(max((off+int64(len(p))+pageSize-1)&^(pageSize-1), start+ahead), r.size)
	buf := r.extentBytes(i)[:end-start]
	n, err := r.f.ReadAt(buf, start)
	if n <= int(off-start) {
		r.extents[i].off = -1
		return 0, r.shortErr(0, len(p), err)
	}
	r.extents[i] = extent{off: start, n: n}
	got, _ := r.copyFrom(i, p, off)
	return got, r.shortErr(got, len(p), err)
}

// copyFrom copies into p what extent i holds of the bytes at off; ok says
// whether that is all the file can give (the whole of p, or the rest of the
// file).
func (r *fileReader) copyFrom(i int, p []byte, off int64) (n int, ok bool) {
	e := r.extents[i]
	if e.off < 0 || off < e.off || off >= e.off+int64(e.n) {
		return 0, false
	}
	n = copy(p, r.extentBytes(i)[off-e.off:e.n])
	return n, n == len(p) || e.off+int64(e.n) == r.size
}

// shortErr is the error of a read of want bytes that gave got: nil when it
// gave them all, else err, or io.EOF where err says nothing more.
func (r *fileReader) shortErr(got, want int, err error) error {
	switch {
	case got == want:
		return nil
	case err == nil:
		return io.EOF
	}
	return err
}

func (r *fileReader) extentBytes(i int) []byte {
	start := cacheOffset + i*extentSize
	return r.buf[start : start+extentSize]
}

// hashFile writes the first size bytes of r to w (the hashes), in one
// pass: from memory where r holds the whole file, else in large pieces.
func hashFile(w io.Writer, r io.ReaderAt, size int64) error {
	fr, ok := r.(*fileReader)
	if !ok {
		return copyAll(w, r, size, make([]byte, min(max(size, 1), otherHashChunk)))
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
		return copyAll(w, fr.f, size, make([]byte, min(max(size, 1), otherHashChunk)))
	}
	return copyAll(w, fr.f, size, fr.buf[chunkOffset:chunkOffset+hashChunk])
}

// otherHashChunk is the piece in which a reader other than a worker's
// (Scanner.Analyze's) is hashed.
const otherHashChunk = 64 << 10

// copyAll writes the first size bytes of r to w through buf; a file that
// turns out shorter is an error.
func copyAll(w io.Writer, r io.ReaderAt, size int64, buf []byte) error {
	n, err := io.CopyBuffer(w, io.NewSectionReader(r, 0, size), buf)
	if err == nil && n < size {
		err = io.ErrUnexpectedEOF // the file shrank since it was measured
	}
	return err
}
