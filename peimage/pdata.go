package peimage

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// RuntimeFunction is one function's extent from the exception directory
// (.pdata). End is exclusive; for ARM64 packed records it is computed from
// the packed function length.
type RuntimeFunction struct {
	Start, End uint32
	// Primary is, for an x64 entry whose unwind information is chained
	// (UNW_FLAG_CHAININFO: a fragment of a function MSVC split into parts),
	// the start of the function it belongs to; else Start.
	Primary uint32
}

// RuntimeFunctions parses the exception directory (data directory 3) of an
// x64 or ARM64 image into function extents, sorted by start. Each entry is
// returned as it is (an x64 function split into chained parts yields one
// extent per part); callers that need whole functions merge them.
func (f *File) RuntimeFunctions() ([]RuntimeFunction, error) {
	dir := f.Optional.DataDirectories[DirException]
	if dir.RVA == 0 || dir.Size == 0 {
		return nil, nil
	}
	var entry int
	switch f.Machine {
	case MachineAMD64:
		entry = 12
	case MachineARM64:
		entry = 8
	default:
		return nil, nil
	}
	n := int(dir.Size) / entry
	if n > f.lim.MaxFunctions {
		return nil, &LimitError{What: "exception directory entries", Limit: int64(f.lim.MaxFunctions), Got: int64(n)}
	}
	data, err := f.ReadRVA(dir.RVA, n*entry)
	if err != nil {
		return nil, fmt.Errorf("exception directory: %w", err)
	}
	out := make([]RuntimeFunction, 0, n)
	for i := 0; i < n; i++ {
		p := data[i*entry:]
		rf, ok := f.runtimeFunction(p)
		if ok {
			out = append(out, rf)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out, nil
}

func (f *File) runtimeFunction(p []byte) (RuntimeFunction, bool) {
	start := binary.LittleEndian.Uint32(p)
	if f.Machine == MachineAMD64 {
		end := binary.LittleEndian.Uint32(p[4:])
		primary := f.chainRoot(start, binary.LittleEndian.Uint32(p[8:]))
		return RuntimeFunction{Start: start, End: end, Primary: primary}, start != 0 && end > start
	}
	word := binary.LittleEndian.Uint32(p[4:])
	if word&3 != 0 { // packed unwind data: FunctionLength in bits 2..12, in 4-byte units
		length := (word >> 2) & 0x7ff
		end := start + 4*length
		return RuntimeFunction{Start: start, End: end, Primary: start}, start != 0 && length != 0 && end > start
	}
	// word is the RVA of an .xdata record; FunctionLength is its low 18 bits.
	hdr, err := f.ReadU32(word)
	if err != nil {
		return RuntimeFunction{}, false
	}
	length := hdr & 0x3ffff
	end := start + 4*length // an entry whose end wraps past 4 GiB is dropped
	return RuntimeFunction{Start: start, End: end, Primary: start}, start != 0 && length != 0 && end > start
}

// maxChain bounds the chained unwind records followed to a function's root.
const maxChain = 8

// chainRoot follows x64 chained unwind information from the entry at start
// (whose UNWIND_INFO is at unwind) to the primary entry, and returns its
// start. An unreadable record ends the chain where it is.
func (f *File) chainRoot(start, unwind uint32) uint32 {
	for i := 0; i < maxChain; i++ {
		hdr, err := f.ReadRVA(unwind&^1, 4)
		if err != nil || hdr[0]>>3&0x4 == 0 { // UNW_FLAG_CHAININFO
			return start
		}
		codes := uint32(hdr[2]+1) &^ 1
		parent, err := f.ReadRVA(unwind&^1+4+2*codes, 12)
		if err != nil {
			return start
		}
		start = binary.LittleEndian.Uint32(parent)
		unwind = binary.LittleEndian.Uint32(parent[8:])
	}
	return start
}
