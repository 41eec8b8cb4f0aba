package pebuild

import "encoding/binary"

// Output is a built image: its bytes and where Build put things.
type Output struct {
	Bytes []byte
	// OptionalHeader, Directories and SectionTable are file offsets: of the
	// optional header, of data-directory entry 0 and of the first section
	// header.
	OptionalHeader int
	Directories    int
	SectionTable   int
	SizeOfHeaders  uint32
	// Sections are the sections as laid out, every default filled in.
	Sections []Section
	// DataDirectories are the 16 entries as written (entries beyond
	// DirectorySlots are not in the file).
	DataDirectories [16]DataDirectory
	Imports         ImportLayout
}

// ImportLayout says where Build put the import data (all RVAs).
type ImportLayout struct {
	Descriptors uint32 // the descriptor array
	IAT         Range  // every DLL's IAT slots, contiguous
	// FirstThunks, OriginalFirstThunks and Names hold, per imported DLL,
	// its IAT, its import lookup table and its name.
	FirstThunks         []uint32
	OriginalFirstThunks []uint32
	Names               []uint32
}

// FileHeader is the file offset of the COFF file header.
func (o *Output) FileHeader() int { return PEOffset + 4 }

// SectionHeader is the file offset of section i's header.
func (o *Output) SectionHeader(i int) int { return o.SectionTable + 40*i }

// Directory is the file offset of data-directory entry i.
func (o *Output) Directory(i int) int { return o.Directories + 8*i }

// Offset is the file offset of rva inside a section's written raw data.
func (o *Output) Offset(rva uint32) (int, bool) {
	for _, s := range o.Sections {
		if rva >= s.VirtualAddress && rva-s.VirtualAddress < s.SizeOfRawData && s.PointerToRawData != 0 {
			return int(s.PointerToRawData + rva - s.VirtualAddress), true
		}
	}
	return 0, false
}

// PutU16 writes v at file offset off.
func (o *Output) PutU16(off int, v uint16) { binary.LittleEndian.PutUint16(o.Bytes[off:], v) }

// PutU32 writes v at file offset off.
func (o *Output) PutU32(off int, v uint32) { binary.LittleEndian.PutUint32(o.Bytes[off:], v) }

// PutU64 writes v at file offset off.
func (o *Output) PutU64(off int, v uint64) { binary.LittleEndian.PutUint64(o.Bytes[off:], v) }

// PutRVA32 writes v at the file offset of rva; it panics where rva has no
// raw data, which is a mistake in the test.
func (o *Output) PutRVA32(rva, v uint32) {
	off, ok := o.Offset(rva)
	if !ok {
		panic("pebuild: RVA has no raw data")
	}
	o.PutU32(off, v)
}

// write serialises the laid-out image.
func (b *builder) write() *Output {
	im := b.im
	o := &Output{OptionalHeader: PEOffset + 24, DataDirectories: b.dirs, Imports: b.imports}
	o.SectionTable = o.OptionalHeader + im.optionalSize()
	o.Directories = o.OptionalHeader + 96
	if im.Is64() {
		o.Directories = o.OptionalHeader + 112
	}
	o.SizeOfHeaders = alignUp(b.headersEnd(), im.fileAlignment())
	buf := make([]byte, o.SizeOfHeaders)
	buf = b.writeRawData(buf, o)
	o.Bytes = buf
	b.writeHeaders(o)
	return o
}

// writeRawData appends each section's raw data and records the laid-out
// sections in o.
func (b *builder) writeRawData(buf []byte, o *Output) []byte {
	fa := b.im.fileAlignment()
	for _, s := range b.secs {
		if s.SizeOfRawData == 0 {
			s.SizeOfRawData = alignUp(uint32(len(s.Data)), fa)
		}
		if s.PointerToRawData == 0 && s.SizeOfRawData != 0 {
			start := alignUp(uint32(len(buf)), fa)
			s.PointerToRawData = start
			buf = append(buf, make([]byte, start+s.SizeOfRawData-uint32(len(buf)))...)
			copy(buf[start:start+s.SizeOfRawData], s.Data)
		}
		o.Sections = append(o.Sections, s)
	}
	return buf
}

func (b *builder) writeHeaders(o *Output) {
	im := b.im
	copy(o.Bytes, "MZ")
	o.PutU32(0x3c, PEOffset)
	copy(o.Bytes[PEOffset:], "PE\x00\x00")
	fh := o.FileHeader()
	o.PutU16(fh, im.machine())
	nsec := len(b.secs)
	if im.NumberOfSections != 0 {
		nsec = im.NumberOfSections
	}
	o.PutU16(fh+2, uint16(nsec))
	o.PutU16(fh+16, uint16(im.optionalSize()))
	o.PutU16(fh+18, 0x0022)
	b.writeOptional(o)
	for i, s := range o.Sections {
		h := o.SectionHeader(i)
		copy(o.Bytes[h:h+8], s.Name)
		o.PutU32(h+8, s.VirtualSize)
		o.PutU32(h+12, s.VirtualAddress)
		o.PutU32(h+16, s.SizeOfRawData)
		o.PutU32(h+20, s.PointerToRawData)
		o.PutU32(h+36, s.Characteristics)
	}
}

func (b *builder) writeOptional(o *Output) {
	im := b.im
	oh := o.OptionalHeader
	o.PutU16(oh, im.magic())
	o.PutU16(oh+2, 14) // linker 14.0
	o.PutU32(oh+16, b.entryPoint())
	if im.Is64() {
		o.PutU64(oh+24, uint64(orDefault64(im.ImageBase, 0x140000000)))
	} else {
		o.PutU32(oh+28, uint32(orDefault64(im.ImageBase, 0x10000)))
	}
	o.PutU32(oh+32, im.sectionAlignment())
	o.PutU32(oh+36, im.fileAlignment())
	o.PutU16(oh+40, 6) // OS and subsystem version 6.0
	o.PutU16(oh+48, 6)
	o.PutU32(oh+56, b.sizeOfImage())
	o.PutU32(oh+60, o.SizeOfHeaders)
	sub := im.Subsystem
	if sub == 0 {
		sub = 1
	}
	o.PutU16(oh+68, sub)
	o.PutU16(oh+70, im.DllCharacteristics)
	o.PutU32(o.Directories-4, im.rvaCount())
	for i := 0; i < min(im.slots(), 16); i++ {
		o.PutU32(o.Directory(i), b.dirs[i].RVA)
		o.PutU32(o.Directory(i)+4, b.dirs[i].Size)
	}
}

func orDefault64(v, def uint64) uint64 {
	if v == 0 {
		return def
	}
	return v
}

// entryPoint is the first executable section's start, or 0.
func (b *builder) entryPoint() uint32 {
	for _, s := range b.secs {
		if s.Characteristics&ScnExecute != 0 {
			return s.VirtualAddress
		}
	}
	return 0
}

func (b *builder) sizeOfImage() uint32 {
	end := uint32(0)
	for _, s := range b.secs {
		end = max(end, s.VirtualAddress+s.VirtualSize)
	}
	return alignUp(end, b.im.sectionAlignment())
}
