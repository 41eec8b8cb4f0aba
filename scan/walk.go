package scan

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// walker turns roots into jobs, reporting unreadable paths and counting
// skipped entries on out. It runs in one goroutine.
type walker struct {
	follow bool
	jobs   chan<- job
	out    chan<- outcome
	// seen holds the paths already queued, so a path given twice (or a
	// file given next to its folder) is scanned once.
	seen map[string]bool
	// walked holds the resolved folders walked so far; a symbolic link to
	// one of them, into one or to an ancestor of one is not followed (no
	// loops, no file scanned twice through a link).
	walked []string
	// progress, where set, counts the files queued.
	progress *Progress
}

// walkRoots queues the files named among roots first, then walks the
// folders: a file named explicitly is reported as named (a non-PE file is an
// error) even when a folder given before it holds it too. Each root is
// looked up once.
func (w *walker) walkRoots(ctx context.Context, roots []string) {
	type rootInfo struct {
		path string
		fi   fs.FileInfo
		err  error
	}
	var rest []rootInfo
	for _, root := range roots {
		root = filepath.Clean(root)
		fi, err := os.Stat(root)
		if err == nil && fi.Mode().IsRegular() {
			w.queue(ctx, root, true)
			continue
		}
		rest = append(rest, rootInfo{root, fi, err})
	}
	for _, r := range rest {
		if ctx.Err() != nil {
			return
		}
		w.root(ctx, r.path, r.fi, r.err)
	}
}

// root handles a path given to Scan that is not a regular file, with what
// os.Stat said of it: a folder is walked (a symbolic link is followed since
// the caller named it), anything else reported.
func (w *walker) root(ctx context.Context, root string, fi fs.FileInfo, err error) {
	switch {
	case err != nil:
		w.fail(ctx, root, err)
	case fi.IsDir():
		w.dir(ctx, root)
	case fi.Mode().IsRegular():
		w.queue(ctx, root, true)
	default:
		w.fail(ctx, root, fmt.Errorf("not a regular file or folder (%v)", fi.Mode().Type()))
	}
}

// dir walks the folder shown as display (which may be a symbolic link),
// reporting paths under display rather than under its resolved target.
func (w *walker) dir(ctx context.Context, display string) {
	real, err := filepath.EvalSymlinks(display)
	if err != nil {
		real = display
	}
	w.walked = append(w.walked, real)
	filepath.WalkDir(real, func(p string, d fs.DirEntry, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		shown := display
		if rel, rerr := filepath.Rel(real, p); rerr == nil && rel != "." {
			shown = filepath.Join(display, rel)
		}
		if err != nil {
			w.fail(ctx, shown, err)
			return nil
		}
		w.entry(ctx, shown, d)
		return nil
	})
}

// entry handles one entry of a walk: files are queued, symbolic links
// followed or skipped, anything else skipped.
func (w *walker) entry(ctx context.Context, path string, d fs.DirEntry) {
	t := d.Type()
	switch {
	case t.IsDir():
	case t.IsRegular():
		w.queue(ctx, path, false)
	case t&fs.ModeSymlink != 0:
		w.symlink(ctx, path)
	default:
		w.skip(ctx, skippedSpecial)
	}
}

func (w *walker) symlink(ctx context.Context, path string) {
	if !w.follow {
		w.skip(ctx, skippedSymlink)
		return
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		w.fail(ctx, path, fmt.Errorf("broken symbolic link: %w", err))
	case fi.Mode().IsRegular():
		w.queue(ctx, path, false)
	case !fi.IsDir():
		w.skip(ctx, skippedSpecial)
	case w.covered(path):
		w.skip(ctx, skippedSymlink)
	default:
		w.dir(ctx, path)
	}
}

// covered reports whether the folder path resolves to a folder already
// walked, into one, or to an ancestor of one (a loop, as `find -L` sees it).
func (w *walker) covered(path string) bool {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return true
	}
	for _, d := range w.walked {
		if real == d || isUnder(real, d) || isUnder(d, real) {
			return true
		}
	}
	return false
}

// isUnder reports whether path lies inside folder dir.
func isUnder(path, dir string) bool {
	return strings.HasPrefix(path, strings.TrimSuffix(dir, string(filepath.Separator))+string(filepath.Separator))
}

func (w *walker) queue(ctx context.Context, path string, explicit bool) {
	if w.seen[path] {
		return
	}
	w.seen[path] = true
	if w.progress != nil {
		w.progress.Queued.Add(1)
	}
	select {
	case w.jobs <- job{path: path, explicit: explicit}:
	case <-ctx.Done():
	}
}

func (w *walker) fail(ctx context.Context, path string, err error) {
	send(ctx, w.out, errorOutcome(path, err))
}

func (w *walker) skip(ctx context.Context, why skipReason) {
	send(ctx, w.out, outcome{skip: why})
}
