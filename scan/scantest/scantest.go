// Package scantest builds small synthetic PE images for tests and for the
// examples in the documentation: a clean kernel driver, and variations of it
// that break one rule each. The images are well formed enough for
// hvcicheck's parser and checks; they are not meant to load on Windows.
package scantest

import (
	"encoding/binary"
	"slices"

	"github.com/hvcicheck/hvcicheck/peimage"
)

// Section is one section of a synthetic image.
type Section struct {
	Name string
	// VA is the section's RVA; zero places it after the previous section,
	// rounded up to the image's SectionAlignment.
	VA uint32
	// VirtualSize is the size in memory; zero takes len(Data).
	VirtualSize     uint32
	Characteristics uint32
	Data            []byte
}

// Import is one imported DLL and the functions taken from it by name.
type Import struct {
	DLL       string
	Functions []string
}

// Image describes a synthetic PE image. Bytes lays it out.
type Image struct {
	// Machine is IMAGE_FILE_MACHINE_*; zero means x64. The image is PE32+
	// for 64-bit machines and PE32 otherwise.
	Machine            uint16
	Subsystem          uint16 // zero means NATIVE
	DllCharacteristics uint16
	SectionAlignment   uint32 // zero means 0x1000
	FileAlignment      uint32 // zero means 0x200
	EntryPoint         uint32
	Sections           []Section
	// Imports are laid out in the section named ImportSection (".rdata"
	// where empty), which must exist; data directories 1 and 12 point at
	// them unless NoIATDirectory is set (then only directory 1).
	Imports        []Import
	ImportSection  string
	NoIATDirectory bool
	// Relocs are RVAs patched by DIR64 (PE32+) or HIGHLOW (PE32) base
	// relocations, laid out in a ".reloc" section appended to the image.
	Relocs []uint32
	// Dirs overrides data directories after layout.
	Dirs map[int]peimage.DataDirectory
	// Code, where set, makes the contents of the section named ".text"
	// (which must exist): it is called with the section's RVA and a
	// function giving the RVA of an imported function's IAT slot, and must
	// return as many bytes whatever the RVAs (see CallIAT).
	Code func(va uint32, slot func(fn string) uint32) []byte
}

// Section characteristics of the usual sections.
const (
	Code  = peimage.SecCntCode | peimage.SecMemExecute | peimage.SecMemRead
	RData = peimage.SecCntInitData | peimage.SecMemRead
	Data  = peimage.SecCntInitData | peimage.SecMemRead | peimage.SecMemWrite
	RWX   = peimage.SecCntCode | peimage.SecMemExecute | peimage.SecMemRead | peimage.SecMemWrite
	// INIT is the discardable read-write-execute INIT section of drivers
	// built with Visual Studio 2013 and older.
	INIT = RWX | peimage.SecMemDiscardable
)

// Driver returns a clean x64 kernel driver: .text (read-execute), .rdata
// holding the imports from ntoskrnl.exe, and .data (read-write).
func Driver() Image {
	return Image{
		EntryPoint: 0x1000,
		Sections: []Section{
			{Name: ".text", Characteristics: Code, Data: []byte{0x31, 0xc0, 0xc3}},
			{Name: ".rdata", Characteristics: RData, Data: make([]byte, 16)},
			{Name: ".data", Characteristics: Data, Data: make([]byte, 16)},
		},
		Imports: []Import{{DLL: "ntoskrnl.exe", Functions: []string{"DbgPrint", "IoCreateDevice"}}},
	}
}

func (im *Image) is64() bool {
	switch im.Machine {
	case 0, peimage.MachineAMD64, peimage.MachineARM64, peimage.MachineIA64, peimage.MachineRISCV:
		return true
	}
	return false
}

func (im *Image) ptrSize() uint32 {
	if im.is64() {
		return 8
	}
	return 4
}

// Bytes lays the image out and returns its file contents.
func (im Image) Bytes() []byte {
	im.defaults()
	secs := slices.Clone(im.Sections)
	for i := range secs {
		secs[i].Data = slices.Clone(secs[i].Data)
	}
	text := slices.IndexFunc(secs, func(s Section) bool { return s.Name == ".text" })
	if im.Code != nil && text >= 0 {
		secs[text].Data = im.Code(0, func(string) uint32 { return 0 })
	}
	secs, impSec, impOff := im.reserveImports(secs)
	if len(im.Relocs) > 0 {
		secs = append(secs, Section{Name: ".reloc", Characteristics: RData | peimage.SecMemDiscardable, Data: im.relocBlob()})
	}
	im.placeSections(secs)
	var dirs [16]peimage.DataDirectory
	if impSec >= 0 {
		im.writeImports(&secs[impSec], impOff, &dirs)
	}
	if im.Code != nil && text >= 0 {
		slot := func(string) uint32 { return 0 }
		if impSec >= 0 {
			slot = im.slotFunc(secs[impSec].VA + impOff)
		}
		copy(secs[text].Data, im.Code(secs[text].VA, slot))
	}
	if len(im.Relocs) > 0 {
		last := &secs[len(secs)-1]
		dirs[peimage.DirBaseReloc] = peimage.DataDirectory{RVA: last.VA, Size: uint32(len(last.Data))}
	}
	for k, v := range im.Dirs {
		dirs[k] = v
	}
	return im.layout(secs, dirs)
}

func (im *Image) defaults() {
	if im.Machine == 0 {
		im.Machine = peimage.MachineAMD64
	}
	if im.Subsystem == 0 {
		im.Subsystem = peimage.SubsystemNative
	}
	if im.SectionAlignment == 0 {
		im.SectionAlignment = peimage.PageSize
	}
	if im.FileAlignment == 0 {
		im.FileAlignment = 0x200
	}
	if im.ImportSection == "" {
		im.ImportSection = ".rdata"
	}
}

func alignUp(n, a uint32) uint32 {
	if a == 0 {
		return n
	}
	return (n + a - 1) / a * a
}

// placeSections gives every section without a VA the next aligned RVA.
func (im *Image) placeSections(secs []Section) {
	next := alignUp(im.headerSize(len(secs)), im.SectionAlignment)
	for i := range secs {
		s := &secs[i]
		if s.VA == 0 {
			s.VA = next
		}
		next = alignUp(s.VA+max(s.VirtualSize, uint32(len(s.Data)), 1), im.SectionAlignment)
	}
}

func (im *Image) optionalSize() uint32 {
	if im.is64() {
		return 240
	}
	return 224
}

func (im *Image) headerSize(nsec int) uint32 {
	return alignUp(0x40+4+20+im.optionalSize()+40*uint32(nsec), im.FileAlignment)
}

// layout writes headers, section table and section data.
func (im *Image) layout(secs []Section, dirs [16]peimage.DataDirectory) []byte {
	hdr := im.headerSize(len(secs))
	raw := make([]uint32, len(secs))
	end := hdr
	for i, s := range secs {
		raw[i] = end
		end += alignUp(uint32(len(s.Data)), im.FileAlignment)
	}
	out := make([]byte, end)
	copy(out, "MZ")
	le := binary.LittleEndian
	le.PutUint32(out[0x3c:], 0x40)
	copy(out[0x40:], "PE\x00\x00")
	fh := out[0x44:]
	le.PutUint16(fh[0:], im.Machine)
	le.PutUint16(fh[2:], uint16(len(secs)))
	le.PutUint16(fh[16:], uint16(im.optionalSize()))
	le.PutUint16(fh[18:], 0x0022)
	im.writeOptional(out[0x58:], secs, hdr, dirs)
	st := out[0x58+im.optionalSize():]
	for i, s := range secs {
		h := st[40*i:]
		copy(h[:8], s.Name)
		le.PutUint32(h[8:], max(s.VirtualSize, uint32(len(s.Data))))
		le.PutUint32(h[12:], s.VA)
		le.PutUint32(h[16:], alignUp(uint32(len(s.Data)), im.FileAlignment))
		le.PutUint32(h[20:], raw[i])
		le.PutUint32(h[36:], s.Characteristics)
		copy(out[raw[i]:], s.Data)
	}
	return out
}

func (im *Image) writeOptional(o []byte, secs []Section, hdr uint32, dirs [16]peimage.DataDirectory) {
	le := binary.LittleEndian
	sizeOfImage := alignUp(hdr, im.SectionAlignment)
	for _, s := range secs {
		sizeOfImage = max(sizeOfImage, alignUp(s.VA+max(s.VirtualSize, uint32(len(s.Data))), im.SectionAlignment))
	}
	dirOff := 96
	if im.is64() {
		le.PutUint16(o[0:], 0x20b)
		le.PutUint64(o[24:], 0x140000000)
		dirOff = 112
	} else {
		le.PutUint16(o[0:], 0x10b)
		le.PutUint32(o[28:], 0x10000)
	}
	le.PutUint32(o[16:], im.EntryPoint)
	le.PutUint32(o[32:], im.SectionAlignment)
	le.PutUint32(o[36:], im.FileAlignment)
	le.PutUint16(o[40:], 10) // OS version 10.0
	le.PutUint16(o[48:], 10) // subsystem version 10.0
	le.PutUint32(o[56:], sizeOfImage)
	le.PutUint32(o[60:], hdr)
	le.PutUint16(o[68:], im.Subsystem)
	le.PutUint16(o[70:], im.DllCharacteristics)
	le.PutUint32(o[dirOff-4:], 16)
	for i, d := range dirs {
		le.PutUint32(o[dirOff+8*i:], d.RVA)
		le.PutUint32(o[dirOff+8*i+4:], d.Size)
	}
}
