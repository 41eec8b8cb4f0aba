package callsite

import (
	"unsafe"

	"github.com/hvcicheck/hvcicheck/dataflow"
	"github.com/hvcicheck/hvcicheck/ir"
)

// Workspace holds the storage an analysis grows (its memos' maps, decoded
// functions, block runs' states and buffers) for the next analysis to
// reuse instead of allocating it again. A scan analyses thousands of
// images one after another on each worker: with a workspace the analysis
// of the driver set allocates a third of what it did, and less garbage to
// collect makes a scan of many files faster (docs/performance.md, "a
// workspace per worker").
//
// A Workspace serves one analysis at a time: give each goroutine its own
// (Options.Workspace). The zero value is ready to use. Nothing an
// analysis returns refers to it.
type Workspace struct {
	prev  *image // the last analysis's image, whose storage the next takes
	busy  bool   // an analysis is using it (still set after a panic)
	table *Table // the API table, read-only once built

	insns  slab[machineInsn]
	blocks slab[rblock]
	edges  slab[int32]
	masks  slab[uint64]
	values slab[dataflow.Value]
	lifted slab[ir.Insn]
	calls  slab[ir.Operand]
	events slab[callEvent]
	// eventBufs are free buffers for a function's calls while the full
	// analysis records them (keepEvents moves them to events).
	eventBufs [][]callEvent
	// states are every state a block run used: all free again at the next
	// analysis.
	states []*dataflow.State
}

// takeEvents returns an empty buffer for a function's calls.
func (w *Workspace) takeEvents() []callEvent { return popFree(&w.eventBufs) }

// popFree takes the last element of a free list (the zero value when it is
// empty).
func popFree[T any](free *[]T) T {
	var v T
	if n := len(*free); n > 0 {
		v, *free = (*free)[n-1], (*free)[:n-1]
	}
	return v
}

// keepEvents returns the calls of buf in storage of the image's lifetime,
// and takes the buffer back.
func (w *Workspace) keepEvents(buf []callEvent) []callEvent {
	if len(buf) == 0 {
		if buf != nil {
			w.eventBufs = append(w.eventBufs, buf)
		}
		return nil
	}
	out := w.events.alloc(len(buf))
	copy(out, buf)
	w.eventBufs = append(w.eventBufs, buf[:0])
	return out
}

// maxRetained bounds, in bytes, the storage a workspace keeps between
// analyses: after an unusually large image it lets the garbage collector
// have what that one needed.
const maxRetained = 32 << 20

// begin readies w for an analysis and returns the image storage the last
// one left (nil: none to reuse). A workspace still busy was left by a
// panicking analysis, in whatever state it was: it starts over empty.
func (w *Workspace) begin() *image {
	if w.busy || w.retained() > maxRetained {
		*w = Workspace{}
	}
	w.busy = true
	if w.table == nil {
		w.table = NewTable()
	}
	prev := w.prev
	w.prev = nil
	w.insns.reset()
	w.blocks.reset()
	w.edges.reset()
	w.masks.reset()
	w.values.reset()
	w.lifted.reset()
	w.calls.reset()
	w.events.reset()
	return prev
}

// end takes back im's storage (nil: none) for the next analysis.
func (w *Workspace) end(im *image) {
	w.prev, w.busy = nil, false
	if im != nil {
		w.prev = im.storage()
	}
	for _, st := range w.states {
		st.Detach()
	}
}

// storage returns what of im the next image reuses: its maps emptied and
// its buffers, nothing that refers to this image's file or results (a
// workspace kept between files must not keep the last one's analysis
// alive: the garbage collector's heap goal grows with what is live).
func (im *image) storage() *image {
	return &image{
		starts: emptied(im.starts), slotName: emptied(im.slotName), wdfTable: emptied(im.wdfTable),
		symIndex: emptied(im.symIndex), funcMemo: emptied(im.funcMemo), storeMemo: emptied(im.storeMemo),
		reachMemo: emptied(im.reachMemo), codeMemo: emptied(im.codeMemo), globalMemo: emptied(im.globalMemo),
		pdataStart: emptied(im.pdataStart), refs: emptied(im.refs), calls: emptied(im.calls),
		syms: clearedSlice(im.syms), startList: im.startList[:0], jumpStarts: im.jumpStarts[:0],
		atScratch: im.atScratch, liftScratch: im.liftScratch[:0],
		insnScratch: im.insnScratch[:0], callScratch: im.callScratch[:0], scratches: im.scratches, runStates: clearedSlice(im.runStates), codeBytes: im.codeBytes[:0],
	}
}

// clearedSlice returns s emptied, its elements zeroed first so that the
// storage refers to nothing.
func clearedSlice[T any](s []T) []T {
	clear(s)
	return s[:0]
}

// retained estimates the bytes w keeps (a state counted as 32 values: its
// registers and a few slots).
func (w *Workspace) retained() int {
	code := 0
	if w.prev != nil {
		code = cap(w.prev.codeBytes)
	}
	return code + w.insns.bytes() + w.blocks.bytes() + w.edges.bytes() + w.masks.bytes() + w.values.bytes() + w.lifted.bytes() + w.calls.bytes() + w.events.bytes() +
		len(w.states)*int(unsafe.Sizeof(dataflow.Value{}))*32
}

// slab hands out zeroed slices of T carved from large chunks that reset
// keeps for the next analysis: the many small slices of one image's
// analysis cost one allocation per chunk, and none once a workspace has
// grown to the sizes its images need.
type slab[T any] struct {
	chunks [][]T
	cur    int // the chunk being carved
	off    int // how much of it is handed out
}

// slabChunkBytes is the size of a slab's chunks (a larger request gets a
// chunk of its own size). Chunks are not grown by doubling: the garbage
// collector scans a chunk of a type with pointers whole, and a large
// chunk's unused tail would then be paged in for nothing.
const slabChunkBytes = 64 << 10

// alloc returns n zeroed elements (capacity n: appending to the slice
// copies it out of the slab).
func (s *slab[T]) alloc(n int) []T {
	for s.cur < len(s.chunks) {
		c := s.chunks[s.cur]
		if s.off+n <= len(c) {
			out := c[s.off : s.off+n : s.off+n]
			s.off += n
			clear(out)
			return out
		}
		s.cur, s.off = s.cur+1, 0
	}
	var t T
	size := max(slabChunkBytes/max(int(unsafe.Sizeof(t)), 1), n)
	s.chunks = append(s.chunks, make([]T, size))
	s.cur, s.off = len(s.chunks)-1, n
	return s.chunks[s.cur][:n:n]
}

// reset makes every chunk free again.
func (s *slab[T]) reset() { s.cur, s.off = 0, 0 }

// bytes is the size of s's chunks.
func (s *slab[T]) bytes() int {
	var t T
	n := 0
	for _, c := range s.chunks {
		n += len(c)
	}
	return n * int(unsafe.Sizeof(t))
}
