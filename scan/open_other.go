//go:build !unix

package scan

import (
	"io/fs"
	"os"
	"sync/atomic"
)

// osFile is a file opened by os.Open.
type osFile struct {
	*os.File
	abandoned atomic.Bool
}

// openFile opens the file path for reading and returns it with its size
// and type.
func openFile(path string) (openedFile, int64, fs.FileMode, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, 0, err
	}
	return &osFile{File: f}, fi.Size(), fi.Mode().Type(), nil
}

// ReadAt implements io.ReaderAt; reads fail once the file is abandoned.
func (f *osFile) ReadAt(p []byte, off int64) (int, error) {
	if f.abandoned.Load() {
		return 0, os.ErrClosed
	}
	return f.File.ReadAt(p, off)
}

// abandon makes every later read fail with os.ErrClosed.
func (f *osFile) abandon() { f.abandoned.Store(true) }
