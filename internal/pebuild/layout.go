package pebuild

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// builder holds one Build in progress.
type builder struct {
	im   *Image
	secs []Section
	dirs [16]DataDirectory

	impSec   int    // index of the section holding the imports, or -1
	impOff   uint32 // offset of the import block in that section's data
	relocSec int    // index of the .reloc section, or -1
	imports  ImportLayout
}

// reserveImports appends room for the import block to its section (adding
// an .idata section where ImportSection is empty).
func (b *builder) reserveImports() error {
	b.impSec = -1
	if len(b.im.Imports) == 0 {
		return nil
	}
	if b.im.ImportSection == "" {
		b.secs = append(b.secs, Section{Name: ".idata", Characteristics: RData})
		b.impSec = len(b.secs) - 1
	}
	for i := range b.secs {
		if b.impSec < 0 && b.secs[i].Name == b.im.ImportSection {
			b.impSec = i
		}
	}
	if b.impSec < 0 {
		return fmt.Errorf("ImportSection %q names no section", b.im.ImportSection)
	}
	s := &b.secs[b.impSec]
	b.impOff = alignUp(uint32(len(s.Data)), 8)
	size := b.layoutImports(0, nil)
	s.Data = append(s.Data, make([]byte, b.impOff+size-uint32(len(s.Data)))...)
	return nil
}

// layoutImports lays the import block out at RVA base and, where buf is not
// nil, writes it into buf and records the layout. It returns the block's size.
func (b *builder) layoutImports(base uint32, buf []byte) uint32 {
	ptr := uint32(4)
	if b.im.Is64() {
		ptr = 8
	}
	imps := b.im.Imports
	var iatSize uint32
	for _, d := range imps {
		iatSize += uint32(len(d.Functions)+1) * ptr
	}
	desc := iatSize
	ilt := desc + uint32(len(imps)+1)*20
	names := ilt + iatSize
	var l ImportLayout
	l.Descriptors = base + desc
	l.IAT = Range{Start: base, End: base + iatSize}
	iat := uint32(0)
	for i, d := range imps {
		l.FirstThunks = append(l.FirstThunks, base+iat)
		l.OriginalFirstThunks = append(l.OriginalFirstThunks, base+ilt)
		for j, fn := range d.Functions {
			names = alignUp(names, 2) // hint/name entries are 2-aligned
			thunk := thunkFor(fn, base+names, ptr)
			if thunk>>(ptr*8-1) == 0 {
				names = putString(buf, names+2, fn) // a zero hint, then the name
			}
			putPtr(buf, iat+uint32(j)*ptr, thunk, ptr)
			putPtr(buf, ilt+uint32(j)*ptr, thunk, ptr)
		}
		n := uint32(len(d.Functions)+1) * ptr
		iat += n
		ilt += n
		l.Names = append(l.Names, base+names)
		names = putString(buf, names, d.DLL)
		putDescriptor(buf, desc+uint32(20*i), l.OriginalFirstThunks[i], l.Names[i], l.FirstThunks[i])
	}
	if buf != nil {
		b.imports = l
	}
	return names
}

// thunkFor is the lookup-table entry for fn: an ordinal with the top bit set
// for "#n", else the RVA of its hint/name entry.
func thunkFor(fn string, hintName, ptr uint32) uint64 {
	var ord uint64
	if _, err := fmt.Sscanf(fn, "#%d", &ord); err == nil {
		return ord | 1<<(ptr*8-1)
	}
	return uint64(hintName)
}

// putString writes s and its NUL at off in buf (when buf is not nil) and
// returns the offset after them.
func putString(buf []byte, off uint32, s string) uint32 {
	if buf != nil {
		copy(buf[off:], s)
	}
	return off + uint32(len(s)) + 1
}

func putPtr(buf []byte, off uint32, v uint64, ptr uint32) {
	switch {
	case buf == nil:
	case ptr == 8:
		binary.LittleEndian.PutUint64(buf[off:], v)
	default:
		binary.LittleEndian.PutUint32(buf[off:], uint32(v))
	}
}

func putDescriptor(buf []byte, off, ilt, name, iat uint32) {
	if buf == nil {
		return
	}
	binary.LittleEndian.PutUint32(buf[off:], ilt)
	binary.LittleEndian.PutUint32(buf[off+12:], name)
	binary.LittleEndian.PutUint32(buf[off+16:], iat)
}

// addRelocSection appends a .reloc section holding im.Relocs as one block
// per page, in page order.
func (b *builder) addRelocSection() {
	b.relocSec = -1
	if len(b.im.Relocs) == 0 {
		return
	}
	byPage := map[uint32][]uint16{}
	var pages []uint32
	for _, r := range b.im.Relocs {
		page := r.RVA &^ 0xfff
		if _, ok := byPage[page]; !ok {
			pages = append(pages, page)
		}
		byPage[page] = append(byPage[page], uint16(r.Type)<<12|uint16(r.RVA&0xfff))
	}
	sort.Slice(pages, func(i, j int) bool { return pages[i] < pages[j] })
	var data []byte
	for _, page := range pages {
		entries := byPage[page]
		if len(entries)%2 != 0 {
			entries = append(entries, 0) // ABSOLUTE padding to a 4-byte block size
		}
		data = append(data, RelocBlock(page, uint32(8+2*len(entries)), entries...)...)
	}
	b.secs = append(b.secs, Section{Name: ".reloc", Characteristics: RData | ScnDiscardable, Data: data})
	b.relocSec = len(b.secs) - 1
}

// RelocBlock returns one base-relocation block as written in the file: the
// page RVA, the block size as given (it need not match the entries, so a test
// can write a block of size 0 or one larger than its directory) and the
// entries, each type<<12 | page offset.
func RelocBlock(page, size uint32, entries ...uint16) []byte {
	p := make([]byte, 8+2*len(entries))
	binary.LittleEndian.PutUint32(p, page)
	binary.LittleEndian.PutUint32(p[4:], size)
	for i, e := range entries {
		binary.LittleEndian.PutUint16(p[8+2*i:], e)
	}
	return p
}

// headersEnd is the file offset just past the section table.
func (b *builder) headersEnd() uint32 {
	return uint32(PEOffset + 24 + b.im.optionalSize() + 40*len(b.secs))
}

// assignAddresses gives every section without one a VirtualAddress and a
// VirtualSize.
func (b *builder) assignAddresses() {
	align := b.im.sectionAlignment()
	next := alignUp(b.headersEnd(), align)
	if align >= 0x1000 {
		next = max(next, 0x1000)
	}
	for i := range b.secs {
		s := &b.secs[i]
		if s.VirtualAddress == 0 {
			s.VirtualAddress = next
		}
		if s.VirtualSize == 0 {
			s.VirtualSize = uint32(len(s.Data))
		}
		next = max(next, alignUp(s.VirtualAddress+max(s.VirtualSize, 1), align))
	}
}

// writeImports fills the import block now that its RVA is known, and the
// import and IAT directories.
func (b *builder) writeImports() {
	b.dirs = b.im.Directories
	if b.impSec < 0 {
		return
	}
	s := &b.secs[b.impSec]
	b.layoutImports(s.VirtualAddress+b.impOff, s.Data[b.impOff:])
	if b.dirs[DirImport] == (DataDirectory{}) {
		b.dirs[DirImport] = DataDirectory{RVA: b.imports.Descriptors, Size: uint32(len(b.im.Imports)+1) * 20}
	}
	if !b.im.NoIATDirectory && b.dirs[DirIAT] == (DataDirectory{}) {
		b.dirs[DirIAT] = DataDirectory{RVA: b.imports.IAT.Start, Size: b.imports.IAT.End - b.imports.IAT.Start}
	}
}

// writeRelocs fills the base-relocation directory.
func (b *builder) writeRelocs() {
	if b.relocSec < 0 || b.dirs[DirBaseReloc] != (DataDirectory{}) {
		return
	}
	s := &b.secs[b.relocSec]
	b.dirs[DirBaseReloc] = DataDirectory{RVA: s.VirtualAddress, Size: uint32(len(s.Data))}
}
