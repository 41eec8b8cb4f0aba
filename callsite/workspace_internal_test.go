package callsite

import "testing"

// TestSlabReuse checks that a slab hands out zeroed slices of capacity n,
// reuses its chunks after reset, and gives a large request a chunk of its
// own.
func TestSlabReuse(t *testing.T) {
	var s slab[uint64]
	a := s.alloc(3)
	for i := range a {
		a[i] = 7
	}
	if len(a) != 3 || cap(a) != 3 {
		t.Fatalf("alloc(3): len %d cap %d", len(a), cap(a))
	}
	s.reset()
	b := s.alloc(3)
	if &a[0] != &b[0] {
		t.Error("the chunk was not reused after reset")
	}
	for i, v := range b {
		if v != 0 {
			t.Errorf("reused element %d = %d, want 0", i, v)
		}
	}
	big := s.alloc(slabChunkBytes) // more elements than a chunk holds
	if len(big) != slabChunkBytes || len(s.chunks) != 2 {
		t.Errorf("a large request: len %d, %d chunks", len(big), len(s.chunks))
	}
}

// TestWorkspaceAfterPanic checks that a workspace whose analysis never
// ended (it panicked) starts over empty, and that an ended one hands its
// storage on without the image's contents.
func TestWorkspaceAfterPanic(t *testing.T) {
	ws := &Workspace{}
	if prev := ws.begin(); prev != nil {
		t.Fatal("a new workspace has storage to hand on")
	}
	im := &image{funcMemo: map[uint32]*funcInfo{1: {}}, syms: []symInfo{{name: "x"}}}
	ws.end(im)
	prev := ws.begin()
	if prev == nil || prev.funcMemo == nil || len(prev.funcMemo) != 0 || len(prev.syms) != 0 || cap(prev.syms) == 0 {
		t.Fatalf("ended workspace handed on %+v", prev)
	}
	if prev.syms[:1][0].name != "" {
		t.Error("the storage still refers to the last image's symbols")
	}
	ws.insns.alloc(5)
	// No end: the analysis panicked.
	if prev := ws.begin(); prev != nil || len(ws.insns.chunks) != 0 {
		t.Errorf("a busy workspace was reused: prev %v, %d chunks", prev, len(ws.insns.chunks))
	}
}
