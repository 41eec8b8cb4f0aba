//go:build !linux

package thp

// BackHeap does nothing outside Linux: other systems either back the heap
// with large pages themselves or offer no per-region advice.
func BackHeap(n int) (Region, error) { return Region{}, nil }
