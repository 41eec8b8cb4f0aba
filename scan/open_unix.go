//go:build unix

package scan

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync/atomic"
	"syscall"
)

// fdFile is a file opened for reading by its descriptor alone: os.Open
// would also offer a regular file to the network poller (four fcntl calls
// and an epoll_ctl that fails) and give it a finalizer, a third of the cost
// of a file for the image rules. Its owner closes it when it no longer
// reads; abandon, safe from another goroutine, makes later reads fail
// without closing the descriptor under a read in progress.
type fdFile struct {
	fd        int
	path      string
	abandoned atomic.Bool
}

// openFile opens the file path for reading and returns it with its size
// and type.
func openFile(path string) (openedFile, int64, fs.FileMode, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK, 0) // a named pipe must not block the open
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return nil, 0, 0, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := &fdFile{fd: fd, path: path}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, 0, 0, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&syscall.S_IFMT == syscall.S_IFREG {
		return f, st.Size, 0, nil
	}
	return f, st.Size, fileType(uint32(st.Mode)), nil
}

// fileType is the type bits of fs.FileMode for the mode of stat(2).
func fileType(mode uint32) fs.FileMode {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return 0
	case syscall.S_IFDIR:
		return fs.ModeDir
	case syscall.S_IFLNK:
		return fs.ModeSymlink
	case syscall.S_IFIFO:
		return fs.ModeNamedPipe
	case syscall.S_IFSOCK:
		return fs.ModeSocket
	case syscall.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		return fs.ModeDevice
	}
	return fs.ModeIrregular
}

// ReadAt implements io.ReaderAt with pread(2).
func (f *fdFile) ReadAt(p []byte, off int64) (int, error) {
	done := 0
	for done < len(p) {
		if f.abandoned.Load() {
			return done, os.ErrClosed
		}
		n, err := syscall.Pread(f.fd, p[done:], off+int64(done))
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return done, &os.PathError{Op: "read", Path: f.path, Err: err}
		case n == 0:
			return done, io.EOF
		}
		done += n
	}
	return done, nil
}

// abandon makes every later read fail with os.ErrClosed.
func (f *fdFile) abandon() { f.abandoned.Store(true) }

// Close closes the descriptor; no read may be in progress or follow.
func (f *fdFile) Close() error {
	if err := syscall.Close(f.fd); err != nil {
		return fmt.Errorf("close %s: %w", f.path, err)
	}
	return nil
}
