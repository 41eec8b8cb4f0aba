package thp

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"
)

// madvHugepage is Linux's MADV_HUGEPAGE.
const madvHugepage = 14

// hugePage is the size of a transparent huge page on the architectures Go
// runs Linux on with THP (x86-64, arm64 with 4 KiB pages).
const hugePage = 2 << 20

// BackHeap asks Linux to back about n bytes of the Go heap with transparent
// huge pages. It makes the heap map n bytes (one allocation it drops at
// once), advises the whole 2 MiB pages among them, and collects the
// allocation, so that the heap's next allocations take their pages there.
// The advice changes only how pages are supplied, never what they hold;
// the pages are touched only when the heap uses them, so the resident size
// grows by at most one huge page per region of the heap in use. Where the
// kernel has no transparent huge pages, or they are off, the advice is
// ignored or refused (an error), and nothing else changes.
func BackHeap(n int) (Region, error) {
	if n < 2*hugePage {
		return Region{}, fmt.Errorf("thp: %d bytes hold no whole huge page", n)
	}
	block := make([]byte, n) // fresh from the OS: not zeroed, not touched
	start := uintptr(unsafe.Pointer(unsafe.SliceData(block)))
	r := Region{
		Lo: (start + hugePage - 1) &^ (hugePage - 1),
		Hi: (start + uintptr(n)) &^ (hugePage - 1),
	}
	err := syscall.Madvise(block[r.Lo-start:r.Hi-start], madvHugepage)
	runtime.GC() // frees the block, whose pages the heap reuses first
	if err != nil {
		return Region{}, fmt.Errorf("thp: madvise(MADV_HUGEPAGE): %w", err)
	}
	return r, nil
}
