package scantest

import (
	"encoding/binary"
	"slices"

	"github.com/hvcicheck/hvcicheck/peimage"
)

// importLayout is where the import structures lie, as offsets from the
// start of the import blob.
type importLayout struct {
	size      uint32
	iat, ilt  []uint32   // per DLL
	hintNames [][]uint32 // per DLL, per function
	dllNames  []uint32   // per DLL
	iatSize   uint32
}

func (im *Image) importLayout() importLayout {
	ptr := im.ptrSize()
	n := uint32(len(im.Imports))
	l := importLayout{}
	off := (n + 1) * 20
	iatStart := alignUp(off, ptr)
	off = iatStart
	for _, d := range im.Imports {
		l.iat = append(l.iat, off)
		off += (uint32(len(d.Functions)) + 1) * ptr
	}
	l.iatSize = off - iatStart
	for _, d := range im.Imports {
		l.ilt = append(l.ilt, off)
		off += (uint32(len(d.Functions)) + 1) * ptr
	}
	for _, d := range im.Imports {
		var hn []uint32
		for _, fn := range d.Functions {
			hn = append(hn, off)
			off = alignUp(off+2+uint32(len(fn))+1, 2)
		}
		l.hintNames = append(l.hintNames, hn)
	}
	for _, d := range im.Imports {
		l.dllNames = append(l.dllNames, off)
		off += uint32(len(d.DLL)) + 1
	}
	l.size = alignUp(off, 8)
	return l
}

// reserveImports appends room for the import blob to the import section
// (creating it where missing) and returns the section's index and the
// blob's offset in it, or -1 when the image imports nothing.
func (im *Image) reserveImports(secs []Section) ([]Section, int, uint32) {
	if len(im.Imports) == 0 {
		return secs, -1, 0
	}
	idx := -1
	for i := range secs {
		if secs[i].Name == im.ImportSection {
			idx = i
			break
		}
	}
	if idx < 0 {
		secs = append(secs, Section{Name: im.ImportSection, Characteristics: RData})
		idx = len(secs) - 1
	}
	s := &secs[idx]
	off := alignUp(uint32(len(s.Data)), 8)
	s.Data = append(s.Data, make([]byte, off-uint32(len(s.Data))+im.importLayout().size)...)
	return secs, idx, off
}

// writeImports fills the reserved blob at off in s and sets directories 1
// and 12.
func (im *Image) writeImports(s *Section, off uint32, dirs *[16]peimage.DataDirectory) {
	l := im.importLayout()
	base := s.VA + off
	b := s.Data[off : off+l.size]
	le := binary.LittleEndian
	ptr := im.ptrSize()
	for i, d := range im.Imports {
		desc := b[20*i:]
		le.PutUint32(desc[0:], base+l.ilt[i])
		le.PutUint32(desc[12:], base+l.dllNames[i])
		le.PutUint32(desc[16:], base+l.iat[i])
		copy(b[l.dllNames[i]:], d.DLL)
		for j, fn := range d.Functions {
			copy(b[l.hintNames[i][j]+2:], fn)
			for _, table := range []uint32{l.iat[i], l.ilt[i]} {
				slot := b[table+uint32(j)*ptr:]
				if ptr == 8 {
					le.PutUint64(slot, uint64(base+l.hintNames[i][j]))
				} else {
					le.PutUint32(slot, base+l.hintNames[i][j])
				}
			}
		}
	}
	dirs[peimage.DirImport] = peimage.DataDirectory{RVA: base, Size: uint32(len(im.Imports)+1) * 20}
	if !im.NoIATDirectory {
		dirs[peimage.DirIAT] = peimage.DataDirectory{RVA: base + l.iat[0], Size: l.iatSize}
	}
}

// relocBlob encodes Relocs as base relocation blocks, one per 4 KiB page.
func (im *Image) relocBlob() []byte {
	typ := uint16(peimage.RelHighLow)
	if im.is64() {
		typ = peimage.RelDir64
	}
	var out []byte
	le := binary.LittleEndian
	rvas := slices.Sorted(slices.Values(im.Relocs))
	for i := 0; i < len(rvas); {
		page := rvas[i] &^ (peimage.PageSize - 1)
		var entries []uint16
		for ; i < len(rvas) && rvas[i]&^(peimage.PageSize-1) == page; i++ {
			entries = append(entries, typ<<12|uint16(rvas[i]&(peimage.PageSize-1)))
		}
		if len(entries)%2 == 1 {
			entries = append(entries, 0) // IMAGE_REL_BASED_ABSOLUTE padding
		}
		blk := make([]byte, 8+2*len(entries))
		le.PutUint32(blk[0:], page)
		le.PutUint32(blk[4:], uint32(len(blk)))
		for k, e := range entries {
			le.PutUint16(blk[8+2*k:], e)
		}
		out = append(out, blk...)
	}
	return out
}

// slotFunc returns the IAT slot RVA of an imported function (0 for a name
// not imported), the import blob lying at base.
func (im *Image) slotFunc(base uint32) func(string) uint32 {
	l := im.importLayout()
	return func(fn string) uint32 {
		for i, d := range im.Imports {
			for j, name := range d.Functions {
				if name == fn {
					return base + l.iat[i] + uint32(j)*im.ptrSize()
				}
			}
		}
		return 0
	}
}

// CallIAT encodes the x64 instruction "call qword ptr [rip+disp32]" at RVA
// at, calling through the IAT slot at RVA slot.
func CallIAT(at, slot uint32) []byte {
	b := []byte{0xff, 0x15, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(b[2:], slot-(at+6))
	return b
}
