package callsite

import (
	"encoding/binary"
	"sort"
)

// buildIndex scans the code bytes once, without decoding, for every
// possible reference to data (x64: a disp32 right after a ModRM byte that
// makes it rip-relative; x86: an absolute address) and every possible direct call or jump (E8/E9 rel32). Bytes that
// only look like such an instruction cost an extra function analysis at
// most: the decoder decides what really is one.
func (im *image) buildIndex() {
	if im.indexed {
		return
	}
	im.indexed = true
	im.markDataPages()
	for _, c := range im.code {
		im.indexSection(c)
	}
	for t, sites := range im.calls {
		switch {
		case im.Code(t) == nil:
		case hasCall(im, sites) && (im.pdataStart[t] || (!im.inPdata(t) && im.plausibleStart(t, sites))):
			im.starts[t] = true
		case !im.inPdata(t) && im.followsEnd(t):
			// Reached only by jumps, outside every .pdata function, and
			// right after the end of other code: a leaf reached by tail
			// calls. It bounds functions (funcAt) but does not stop the
			// decoding of the code that jumps there.
			im.jumpStarts = append(im.jumpStarts, t)
		}
	}
	im.sortStarts()
}

// markDataPages records which pages of the image belong to non-executable
// sections, for the reference scan.
func (im *image) markDataPages() {
	im.dataPage = make([]bool, im.size/0x1000+1)
	for i := range im.f.Sections {
		s := &im.f.Sections[i]
		if s.Executable() {
			continue
		}
		end := uint64(s.VirtualAddress) + uint64(max(s.VirtualSize, s.SizeOfRawData))
		for p := uint64(s.VirtualAddress) / 0x1000; p*0x1000 < end && p < uint64(len(im.dataPage)); p++ {
			im.dataPage[p] = true
		}
	}
	// An IAT merged into code (/MERGE:.rdata=.text, 0x2005) is still data.
	for slot := range im.slotName {
		if p := slot / 0x1000; int(p) < len(im.dataPage) {
			im.dataPage[p] = true
		}
	}
}

// sortStarts rebuilds the sorted list of known function starts.
func (im *image) sortStarts() {
	im.startList = im.startList[:0]
	for s := range im.starts {
		im.startList = append(im.startList, s)
	}
	im.startList = append(im.startList, im.jumpStarts...)
	sort.Slice(im.startList, func(i, j int) bool { return im.startList[i] < im.startList[j] })
}

// inPdata reports whether rva lies inside a .pdata function.
func (im *image) inPdata(rva uint32) bool {
	i := sort.Search(len(im.funcs), func(i int) bool { return im.funcs[i].End > rva })
	return i < len(im.funcs) && im.funcs[i].Start <= rva
}

// plausibleStart reports whether a direct call target outside .pdata looks
// like the start of a function rather than bytes that only decode as a
// call (small immediates make E8 xx xx 00 00 common inside instructions):
// it is 16-byte aligned, follows padding or a return, begins with a frame
// prologue, or is called from several places.
func (im *image) plausibleStart(t uint32, sites []uint32) bool {
	if t%16 == 0 || len(sites) >= 2 {
		return true
	}
	return im.followsEnd(t)
}

// followsEnd reports whether t begins a frame prologue, or follows
// padding, a return or the start of its section.
func (im *image) followsEnd(t uint32) bool {
	if im.isARM64() {
		return im.followsEndARM64(t)
	}
	code := im.Code(t)
	if len(code) >= 3 && (string(code[:3]) == "\x55\x8b\xec" || string(code[:3]) == "\x55\x89\xe5" || string(code[:3]) == "\x8b\xff\x55") {
		return true
	}
	prev := im.Code(t - 1)
	if len(prev) == 0 {
		return true // the first byte of a code section
	}
	switch prev[0] {
	case 0xCC, 0x90, 0xC3:
		return true
	}
	if p3 := im.Code(t - 3); len(p3) >= 3 && p3[0] == 0xC2 {
		return true // ret n
	}
	return false
}

// hasCall reports whether one of sites is an E8 call (not only E9 jumps).
func hasCall(im *image, sites []uint32) bool {
	if im.isARM64() {
		return hasCallARM64(im, sites)
	}
	for _, s := range sites {
		if b := im.Code(s); len(b) > 0 && b[0] == 0xE8 {
			return true
		}
	}
	return false
}

func (im *image) indexSection(c codeSection) {
	if im.isARM64() {
		im.indexARM64(c)
		return
	}
	data := c.data
	x86 := im.arch.PtrSize == 4
	for i := 0; i+4 <= len(data); i++ {
		// Only a byte before a disp32 or rel32 (a ModRM byte of mod 00,
		// r/m 101, or E8/E9), or an EB, starts anything the x64 index
		// takes: the others are passed over without a load.
		if !x86 && !indexTrigger[data[i]] && (i == 0 || !indexTrigger[data[i-1]]) {
			continue
		}
		v := binary.LittleEndian.Uint32(data[i:])
		pos := c.va + uint32(i)
		if data[i] == 0xEB {
			// A short jump: a tail call only when it lands on a function
			// start that .pdata names, or, in an image without .pdata, on
			// code right after the end of other code (other short jumps
			// stay in a function).
			if t := pos + 2 + uint32(int32(int8(data[i+1]))); im.pdataStart[t] || (len(im.funcs) == 0 && im.followsEnd(t)) {
				im.calls[t] = append(im.calls[t], pos)
			}
		}
		if i > 0 && (data[i-1] == 0xE8 || data[i-1] == 0xE9) {
			t := pos + 4 + v
			if im.Code(t) != nil {
				im.calls[t] = append(im.calls[t], pos-1)
			}
		}
		var t uint32
		switch {
		case x86:
			if uint64(v) < im.base || uint64(v)-im.base >= uint64(im.size) {
				continue
			}
			t = uint32(uint64(v) - im.base)
		case i == 0 || data[i-1]&0xC7 != 0x05:
			// A rip-relative operand is a ModRM byte of mod 00, r/m 101
			// right before its disp32: other bytes are none.
			continue
		default:
			t = pos + 4 + v // the disp32's target if no immediate follows
		}
		if t < im.size && im.isData(t) {
			im.refs[t] = append(im.refs[t], pos)
		}
	}
}

// indexTrigger marks the bytes that precede a field the x64 index reads:
// E8 and E9 (a rel32 follows), EB (a rel8), and the ModRM bytes of a
// rip-relative operand (a disp32 follows).
var indexTrigger = func() (t [256]bool) {
	t[0xE8], t[0xE9], t[0xEB] = true, true, true
	for reg := 0; reg < 8; reg++ {
		t[reg<<3|0x05] = true
	}
	return t
}()

// isData reports whether rva lies in a page of a non-executable section.
func (im *image) isData(rva uint32) bool {
	p := rva / 0x1000
	return int(p) < len(im.dataPage) && im.dataPage[p]
}

// referrers returns the code addresses that may reference data at rva: on
// x64 a disp32 followed by an immediate of 0, 1, 2 or 4 bytes.
func (im *image) referrers(rva uint32) []uint32 {
	im.buildIndex()
	if im.arch.PtrSize == 4 || im.isARM64() {
		return im.refs[rva]
	}
	var out []uint32
	for _, imm := range []uint32{0, 1, 2, 4} {
		out = append(out, im.refs[rva-imm]...)
	}
	return out
}

// callersOf returns the sites of direct calls and jumps to rva.
func (im *image) callersOf(rva uint32) []uint32 {
	im.buildIndex()
	return im.calls[rva]
}

// functionsAt maps code addresses to the functions holding them, without
// duplicates, in address order.
func (im *image) functionsAt(sites []uint32) []uint32 {
	seen := map[uint32]bool{}
	var out []uint32
	for _, s := range sites {
		fn, ok := im.funcAt(s)
		if ok && !seen[fn.Start] {
			seen[fn.Start] = true
			out = append(out, fn.Start)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// pointerCells returns the RVAs of pointer-sized, aligned cells in the
// image's read-only data that hold the address of rva: mingw's .refptr
// indirections, through which code reaches an extern global. The cells are
// indexed by the address they hold in one pass over the data, on first use.
func (im *image) pointerCells(rva uint32) []uint32 {
	if im.cells == nil {
		im.cells = im.indexCells()
	}
	return im.cells[rva]
}

// indexCells maps every image address held by an aligned pointer-sized
// cell of read-only data to the cells that hold it.
func (im *image) indexCells() map[uint32][]uint32 {
	out := map[uint32][]uint32{}
	p := uint32(im.arch.PtrSize)
	for i := range im.f.Sections {
		s := &im.f.Sections[i]
		if s.Executable() || s.Writable() || s.Discardable() {
			continue
		}
		data, err := im.f.SectionData(s)
		if err != nil {
			continue
		}
		for off := uint32(0); off+p <= uint32(len(data)); off += p {
			v := uint64(binary.LittleEndian.Uint32(data[off:]))
			if p == 8 {
				v = binary.LittleEndian.Uint64(data[off:])
			}
			if v >= im.base && v-im.base < uint64(im.size) {
				t := uint32(v - im.base)
				out[t] = append(out[t], s.VirtualAddress+off)
			}
		}
	}
	return out
}

// referrersDeep is referrers(rva) plus the referrers of every read-only
// pointer cell that holds rva's address.
func (im *image) referrersDeep(rva uint32) []uint32 {
	out := im.referrers(rva)
	for _, cell := range im.pointerCells(rva) {
		out = append(out, im.referrers(cell)...)
	}
	return out
}
