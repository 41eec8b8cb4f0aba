package thp

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestBackHeap checks that the region BackHeap returns lies in a mapping
// the kernel lists as advised for huge pages ("hg" in VmFlags of
// /proc/self/smaps).
func TestBackHeap(t *testing.T) {
	r, err := BackHeap(8 << 20)
	if errors.Is(err, syscall.EINVAL) {
		t.Skipf("kernel without transparent huge pages: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if r.Size() < hugePage || r.Lo%hugePage != 0 || r.Hi%hugePage != 0 {
		t.Fatalf("region %#x-%#x: want whole huge pages", r.Lo, r.Hi)
	}
	flags, err := vmFlags(r.Lo)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(" "+flags+" ", " hg ") {
		t.Errorf("mapping of %#x has VmFlags %q, want hg", r.Lo, flags)
	}
	// The heap goes on working in the region.
	buf := make([][]byte, 64)
	for i := range buf {
		buf[i] = make([]byte, 64<<10)
		buf[i][len(buf[i])-1] = byte(i)
	}
}

func TestBackHeapTooSmall(t *testing.T) {
	if _, err := BackHeap(hugePage); err == nil {
		t.Error("BackHeap(one huge page): want an error (an allocation that size may hold no whole huge page)")
	}
}

// vmFlags returns the VmFlags of the mapping holding addr.
func vmFlags(addr uintptr) (string, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return "", err
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x", &lo, &hi); n == 2 && strings.Count(strings.Fields(line)[0], "-") == 1 {
			in = lo <= addr && addr < hi
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmFlags:")), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("no mapping holds %#x", addr)
}
