// Package thp asks the operating system to back the Go heap with
// transparent huge pages.
//
// A short-lived process that allocates tens of megabytes pays for every
// fresh page of its heap with a page fault, and the kernel zeroes each page
// in it. On a virtual machine a fault can cost 10 µs or more: a scan of 41
// drivers took some 6,000 of them, a third of its CPU time. Linux with
// transparent huge pages in "madvise" mode (Debian's and Ubuntu's default)
// backs a region with 2 MiB pages only where the process asks for them, and
// the Go runtime does not ask for its heap. It did in Go 1.21.0 and stopped
// in 1.21.1 (golang/go#61718, #64332): a fault in advised memory may stall
// while the kernel compacts memory for a huge page (defrag "madvise", the
// default), and long-running processes grew. BackHeap asks for the part of
// the heap a short run will use, once, bounded by its caller; a process for
// which a stall matters more than the faults saved should not call it (the
// command honours GODEBUG=disablethp=1).
package thp

// Region is the part of the heap BackHeap advised: [Lo, Hi), empty when it
// advised nothing.
type Region struct{ Lo, Hi uintptr }

// Size returns the region's length in bytes.
func (r Region) Size() uintptr { return r.Hi - r.Lo }
