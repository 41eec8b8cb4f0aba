package thp

import (
	"syscall"
	"testing"
	"unsafe"
)

// BenchmarkFreshPages measures what BackHeap is for: touching fresh
// anonymous memory one byte per 4 KiB page, mapped anew at every
// iteration, with and without MADV_HUGEPAGE. On the VM of
// docs/performance.md 20 MiB cost 56 ms in small pages (5,400 faults of
// about 10 µs).
//
//	go test ./internal/thp -run '^$' -bench FreshPages
func BenchmarkFreshPages(b *testing.B) {
	const size = 20 << 20
	for _, c := range []struct {
		name   string
		advise bool
	}{{"small", false}, {"huge", true}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				if err := touchFresh(size, c.advise); err != nil {
					b.Skip(err)
				}
			}
		})
	}
}

// touchFresh maps n bytes (plus a huge page, to align them), optionally
// advises them for huge pages, touches every 4 KiB page and unmaps them.
func touchFresh(n int, advise bool) error {
	mem, err := syscall.Mmap(-1, 0, n+hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return err
	}
	defer syscall.Munmap(mem)
	off := 0
	for (uintptrOf(mem)+uintptr(off))%hugePage != 0 {
		off += 4096
	}
	region := mem[off : off+n]
	if advise {
		if err := syscall.Madvise(region, madvHugepage); err != nil {
			return err
		}
	}
	for i := 0; i < len(region); i += 4096 {
		region[i] = 1
	}
	return nil
}

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
