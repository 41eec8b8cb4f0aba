// Package pebuild writes minimal PE32 and PE32+ images from a description,
// for tests that need hand-built (and hand-broken) headers.
//
// An Image describes the headers, the sections with their raw data, the data
// directories, and optionally an import table and base relocations, which
// Build lays out itself. Build returns the bytes together with the file
// offsets and RVAs of what it laid out, so a test can break one field after
// building (Output.PutU32 and friends) instead of describing every field.
//
// The package depends on nothing in hvcicheck, so the peimage tests can use
// it without an import cycle.
package pebuild

import "fmt"

// Machine types (IMAGE_FILE_MACHINE_*).
const (
	MachineI386  = 0x014c
	MachineAMD64 = 0x8664
	MachineARM64 = 0xaa64
)

// Optional-header magics.
const (
	MagicPE32     = 0x10b
	MagicPE32Plus = 0x20b
)

// Section characteristics (IMAGE_SCN_*).
const (
	ScnCode        = 0x00000020
	ScnInitData    = 0x00000040
	ScnUninitData  = 0x00000080
	ScnDiscardable = 0x02000000
	ScnNotPaged    = 0x08000000
	ScnExecute     = 0x20000000
	ScnRead        = 0x40000000
	ScnWrite       = 0x80000000

	// Text is a code section: CNT_CODE | MEM_EXECUTE | MEM_READ.
	Text = ScnCode | ScnExecute | ScnRead
	// RData is a read-only data section.
	RData = ScnInitData | ScnRead
	// Data is a read-write data section.
	Data = ScnInitData | ScnRead | ScnWrite
	// RWX is a code section that is also writable.
	RWX = Text | ScnWrite
)

// Data directory indexes.
const (
	DirImport    = 1
	DirException = 3
	DirBaseReloc = 5
	DirIAT       = 12
)

// Base relocation types.
const (
	RelAbsolute = 0
	RelHighLow  = 3
	RelDir64    = 10
)

// PEOffset is the e_lfanew Build writes: the "PE\0\0" signature's offset.
const PEOffset = 0x80

// DataDirectory is one data-directory entry.
type DataDirectory struct{ RVA, Size uint32 }

// Range is a half-open RVA range [Start, End).
type Range struct{ Start, End uint32 }

// Section describes one section. Zero fields take defaults, listed per field.
type Section struct {
	Name string // at most 8 bytes; may be empty
	// VirtualAddress 0: the next multiple of the section alignment after
	// the previous section (the first section goes at one alignment unit,
	// at least 0x1000 when the alignment is a page or more).
	VirtualAddress uint32
	VirtualSize    uint32 // 0: len(Data) (after imports are appended)
	// SizeOfRawData 0: len(Data) rounded up to the file alignment.
	SizeOfRawData uint32
	// PointerToRawData 0: laid out after the previous section's raw data,
	// and Data written there. A non-zero value is written to the header
	// as is and Data is not written anywhere.
	PointerToRawData uint32
	Characteristics  uint32
	Data             []byte
}

// Import is one imported DLL. A function name "#n" imports ordinal n.
type Import struct {
	DLL       string
	Functions []string
}

// Reloc is one base relocation to lay out.
type Reloc struct {
	RVA  uint32
	Type uint8
}

// Image describes a PE image. Zero fields take the defaults listed per field.
type Image struct {
	Machine uint16 // 0: AMD64
	Magic   uint16 // 0: PE32+ for AMD64/ARM64, PE32 otherwise
	// SectionAlignment 0: 0x1000. FileAlignment 0: 0x200.
	SectionAlignment, FileAlignment uint32
	ImageBase                       uint64 // 0: 0x140000000 (PE32+) or 0x10000 (PE32)
	Subsystem                       uint16 // 0: NATIVE (1)
	DllCharacteristics              uint16
	// NumberOfRvaAndSizes 0: 16. It is the count written to the header.
	NumberOfRvaAndSizes uint32
	// DirectorySlots is how many 8-byte entries the optional header has
	// room for, which sets SizeOfOptionalHeader. 0: min(NumberOfRvaAndSizes, 16).
	DirectorySlots int
	// NumberOfSections is the count the file header claims. 0: len(Sections).
	NumberOfSections int
	Sections         []Section
	// Directories are written as given. Build fills the import, IAT and
	// base-relocation entries it lays out, unless a test set them here.
	Directories [16]DataDirectory

	// Imports are laid out at the end of the section named ImportSection
	// ("": a new ".idata" read-only data section after the others): the
	// IAT first, then the descriptors, lookup tables and names.
	Imports       []Import
	ImportSection string
	// NoIATDirectory leaves data directory 12 empty although there are
	// imports, so readers fall back to the descriptors' FirstThunk arrays.
	NoIATDirectory bool

	// Relocs are grouped by page into blocks in a new ".reloc" section
	// after the others.
	Relocs []Reloc
}

// Is64 reports whether the image gets a PE32+ optional header.
func (im *Image) Is64() bool { return im.magic() == MagicPE32Plus }

func (im *Image) machine() uint16 {
	if im.Machine == 0 {
		return MachineAMD64
	}
	return im.Machine
}

func (im *Image) magic() uint16 {
	if im.Magic != 0 {
		return im.Magic
	}
	if m := im.machine(); m == MachineAMD64 || m == MachineARM64 {
		return MagicPE32Plus
	}
	return MagicPE32
}

func (im *Image) sectionAlignment() uint32 { return orDefault(im.SectionAlignment, 0x1000) }

func (im *Image) fileAlignment() uint32 { return orDefault(im.FileAlignment, 0x200) }

func (im *Image) rvaCount() uint32 { return orDefault(im.NumberOfRvaAndSizes, 16) }

func (im *Image) slots() int {
	if im.DirectorySlots != 0 {
		return im.DirectorySlots
	}
	return int(min(im.rvaCount(), 16))
}

// optionalSize is SizeOfOptionalHeader.
func (im *Image) optionalSize() int {
	base := 96
	if im.Is64() {
		base = 112
	}
	return base + 8*im.slots()
}

func orDefault(v, def uint32) uint32 {
	if v == 0 {
		return def
	}
	return v
}

// alignUp rounds v up to a multiple of a (a power of two or any non-zero
// value; 0 leaves v as is).
func alignUp(v, a uint32) uint32 {
	if a == 0 {
		return v
	}
	return (v + a - 1) / a * a
}

// Driver returns the description of a small well-formed kernel driver for
// machine: .text (code), .rdata (holding the imports from ntoskrnl.exe and
// HAL.dll, with the IAT at its start), .data, and a .reloc section with one
// pointer-sized relocation per data page.
func Driver(machine uint16) *Image {
	im := &Image{Machine: machine}
	rel := uint8(RelHighLow)
	if im.Is64() {
		rel = RelDir64
	}
	im.Sections = []Section{
		{Name: ".text", Characteristics: Text | ScnNotPaged, Data: fill(0x180, 0xcc)},
		{Name: ".rdata", Characteristics: RData | ScnNotPaged, Data: fill(0x40, 0x11)},
		{Name: ".data", Characteristics: Data | ScnNotPaged, Data: fill(0x100, 0x22)},
	}
	im.ImportSection = ".rdata"
	im.Imports = []Import{
		{DLL: "ntoskrnl.exe", Functions: []string{"IoCreateDevice", "ExAllocatePoolWithTag", "#17"}},
		{DLL: "HAL.dll", Functions: []string{"KeStallExecutionProcessor"}},
	}
	im.Relocs = []Reloc{{RVA: 0x3010, Type: rel}, {RVA: 0x3020, Type: rel}}
	return im
}

func fill(n int, b byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = b
	}
	return p
}

// Build lays the image out and writes it. It fails on a description it
// cannot write (a section name longer than 8 bytes, an ImportSection that
// names no section).
func (im *Image) Build() (*Output, error) {
	b := &builder{im: im, secs: append([]Section(nil), im.Sections...)}
	for i := range b.secs {
		if len(b.secs[i].Name) > 8 {
			return nil, fmt.Errorf("section name %q is longer than 8 bytes", b.secs[i].Name)
		}
		b.secs[i].Data = append([]byte(nil), b.secs[i].Data...)
	}
	if err := b.reserveImports(); err != nil {
		return nil, err
	}
	b.addRelocSection()
	b.assignAddresses()
	b.writeImports()
	b.writeRelocs()
	return b.write(), nil
}
