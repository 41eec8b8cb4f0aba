package callsite

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSeedsAfterALoop: a block's seeds first computed while a loop's walk
// passed through it (so a writer's end was still being computed) are
// computed again when the block itself asks. PCTcore64 (shared corpus;
// skipped without it) sets ebp = 1 in the entry block of the function at
// 0x2472c and passes it as the pool type of ExAllocatePoolWithTag in
// blocks after loops: every one of those calls must get PagedPool from the
// quick pass, exactly.
func TestSeedsAfterALoop(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "shared", "corpus", "byovd", "PCTcore64-Killer_PCTcore64.sys"))
	if err != nil {
		t.Skip("no shared corpus")
	}
	im, f := x64Image(t, data)
	imports, _ := f.Imports()
	w := &walker{im: im, summaries: map[uint32][]pending{}, seen: map[string]bool{}, processed: map[uint32]bool{},
		quickDone: map[uint32]bool{}, apiGlobals: map[uint32]bool{}}
	w.seedFromImports(imports)
	r := im.reached(0x2472c)
	if r == nil {
		t.Fatal("the function at 0x2472c was not decoded")
	}
	fi, _, _ := w.runCallBlocks(r)
	calls := 0
	for i := range fi.calls {
		ev := &fi.calls[i]
		if c := im.resolve(ev); c.api == nil || c.api.Name != "ExAllocatePoolWithTag" {
			continue
		}
		calls++
		if v, ok := ev.args[0].Const(); !ok || v != 1 || ev.exact&1 == 0 {
			t.Errorf("ExAllocatePoolWithTag at %#x: pool type %v (exact %v), want PagedPool (1), exact", ev.site, ev.args[0], ev.exact&1 != 0)
		}
	}
	if calls < 10 {
		t.Errorf("%d calls of ExAllocatePoolWithTag found, want the function's 11", calls)
	}
}
