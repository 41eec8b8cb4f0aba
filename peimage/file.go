// Package peimage is hvcicheck's model of a PE image: the headers, the section
// table and bounds-checked parsers for the data directories the checks need.
//
// Unlike debug/pe it reads lazily: Parse reads the DOS, file and optional
// headers and the section table, nothing else; a data directory is read when a
// check asks for it, through the io.ReaderAt the file was opened with. Every
// read is bounded by the file's size and by Limits, so hostile input yields an
// error, never a panic or an unbounded allocation.
package peimage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrNotPE is returned (wrapped) by Parse when the input is not a PE image at
// all: no MZ header, no PE signature (NE, LE and ELF files, random bytes).
var ErrNotPE = errors.New("not a PE image")

// Machine types (IMAGE_FILE_MACHINE_*).
const (
	MachineI386  = 0x014c
	MachineAMD64 = 0x8664
	MachineARM64 = 0xaa64
	MachineARMNT = 0x01c4
	MachineARM   = 0x01c0
	MachineIA64  = 0x0200
	MachineEBC   = 0x0ebc
	MachineRISCV = 0x5064
)

// Section characteristics (IMAGE_SCN_*).
const (
	SecCntCode        = 0x00000020
	SecCntInitData    = 0x00000040
	SecCntUninitData  = 0x00000080
	SecMemDiscardable = 0x02000000
	SecMemNotPaged    = 0x08000000
	SecMemShared      = 0x10000000
	SecMemExecute     = 0x20000000
	SecMemRead        = 0x40000000
	SecMemWrite       = 0x80000000
)

// Data directory indexes (IMAGE_DIRECTORY_ENTRY_*).
const (
	DirExport      = 0
	DirImport      = 1
	DirResource    = 2
	DirException   = 3
	DirSecurity    = 4
	DirBaseReloc   = 5
	DirDebug       = 6
	DirLoadConfig  = 10
	DirIAT         = 12
	DirDelayImport = 13
)

// Subsystems (IMAGE_SUBSYSTEM_*).
const (
	SubsystemNative           = 1
	SubsystemWindowsGUI       = 2
	SubsystemWindowsCUI       = 3
	SubsystemEFIApplication   = 10
	SubsystemEFIBootService   = 11
	SubsystemEFIRuntimeDriver = 12
	SubsystemEFIROM           = 13
)

// PageSize is the page size of every architecture Windows runs drivers on.
const PageSize = 0x1000

// DataDirectory is one entry of the optional header's data-directory array.
type DataDirectory struct {
	RVA  uint32
	Size uint32
}

// OptionalHeader holds the optional-header fields hvcicheck uses, widened to
// 64 bits where PE32 and PE32+ differ.
type OptionalHeader struct {
	Magic               uint16 // 0x10b (PE32) or 0x20b (PE32+)
	AddressOfEntryPoint uint32
	ImageBase           uint64
	SectionAlignment    uint32
	FileAlignment       uint32
	SizeOfImage         uint32
	SizeOfHeaders       uint32
	CheckSum            uint32
	Subsystem           uint16
	DllCharacteristics  uint16
	// NumberOfRvaAndSizes is the count the header claims; DataDirectories
	// holds min(claimed, what fits in SizeOfOptionalHeader, 16) entries and
	// zero entries beyond that.
	NumberOfRvaAndSizes uint32
	DataDirectories     [16]DataDirectory
	// DirectoryCount is how many entries of DataDirectories came from the file.
	DirectoryCount int
	// Offset is the file offset of the optional header.
	Offset int64
}

// Section is one entry of the section table.
type Section struct {
	Index int
	// Name is the 8-byte header name with trailing NULs removed, exactly as
	// in the header (a "/4" long-name reference stays "/4"; File.LongName
	// resolves it).
	Name             string
	VirtualSize      uint32
	VirtualAddress   uint32
	SizeOfRawData    uint32
	PointerToRawData uint32
	Characteristics  uint32
	// HeaderOffset is the file offset of this section's 40-byte header.
	HeaderOffset int64
}

// Executable reports whether the section has IMAGE_SCN_MEM_EXECUTE.
func (s *Section) Executable() bool { return s.Characteristics&SecMemExecute != 0 }

// Writable reports whether the section has IMAGE_SCN_MEM_WRITE.
func (s *Section) Writable() bool { return s.Characteristics&SecMemWrite != 0 }

// Discardable reports whether the section has IMAGE_SCN_MEM_DISCARDABLE.
func (s *Section) Discardable() bool { return s.Characteristics&SecMemDiscardable != 0 }

// MappedSize is the size of the section in memory as the loader maps it:
// VirtualSize, or SizeOfRawData where VirtualSize is zero, rounded up to
// align (the image's SectionAlignment, or whatever the caller wants).
func (s *Section) MappedSize(align uint32) uint32 {
	n := s.VirtualSize
	if n == 0 {
		n = s.SizeOfRawData
	}
	if align > 1 && align&(align-1) == 0 {
		if r := uint64(n) + uint64(align) - 1; r <= 0xFFFFFFFF {
			n = uint32(r) &^ (align - 1)
		}
	}
	return n
}

// File is a parsed PE image.
type File struct {
	r    io.ReaderAt
	size int64
	lim  Limits

	// PEOffset is e_lfanew, the file offset of the "PE\0\0" signature.
	PEOffset             int64
	Machine              uint16
	NumberOfSections     uint16 // as claimed by the file header
	TimeDateStamp        uint32
	PointerToSymbolTable uint32
	NumberOfSymbols      uint32
	SizeOfOptionalHeader uint16
	Characteristics      uint16
	Optional             OptionalHeader
	Sections             []Section
	// SectionTableOffset is the file offset of the first section header.
	SectionTableOffset int64
	// Anomalies lists oddities of the headers that did not stop parsing, in
	// plain words (a 12-entry directory array, fewer sections than claimed …).
	Anomalies []string
}

// Size returns the size of the underlying file in bytes.
func (f *File) Size() int64 { return f.size }

// Is64 reports whether the optional header is PE32+.
func (f *File) Is64() bool { return f.Optional.Magic == 0x20b }

// Limits returns the limits the file was parsed with.
func (f *File) Limits() Limits { return f.lim }

// Parse reads the headers and section table of the PE image in r, whose
// size is size. It returns an error wrapping ErrNotPE when r is not a PE
// image, and another error when it is one too damaged to analyse.
func Parse(r io.ReaderAt, size int64, lim Limits) (*File, error) {
	lim = lim.withDefaults()
	f := &File{r: r, size: size, lim: lim}
	if err := f.parseHeaders(); err != nil {
		return nil, err
	}
	if lim.MaxFileSize > 0 && size > lim.MaxFileSize {
		return nil, &LimitError{What: "file size", Limit: lim.MaxFileSize, Got: size}
	}
	return f, nil
}

func (f *File) parseHeaders() error {
	var dos [64]byte
	n := int(min(max(f.size, 0), int64(len(dos))))
	if f.readFull(0, dos[:n]) != nil || n < 2 || dos[0] != 'M' || dos[1] != 'Z' {
		return fmt.Errorf("%w: no MZ header", ErrNotPE)
	}
	if n < len(dos) {
		return fmt.Errorf("%w: the file ends inside the DOS header (%d bytes)", ErrNotPE, n)
	}
	lfanew := int64(binary.LittleEndian.Uint32(dos[0x3c:]))
	var sig [4]byte
	if lfanew < 4 || f.readFull(lfanew, sig[:]) != nil {
		return fmt.Errorf("%w: e_lfanew 0x%x points outside the file", ErrNotPE, lfanew)
	}
	if string(sig[:]) != "PE\x00\x00" {
		kind := "no PE signature"
		if sig[0] == 'N' && sig[1] == 'E' {
			kind = "an NE (16-bit) executable"
		} else if sig[0] == 'L' && (sig[1] == 'E' || sig[1] == 'X') {
			kind = "an LE/LX executable"
		}
		return fmt.Errorf("%w: %s at offset 0x%x", ErrNotPE, kind, lfanew)
	}
	f.PEOffset = lfanew
	var fh [20]byte
	if err := f.readFull(lfanew+4, fh[:]); err != nil {
		return fmt.Errorf("file header: %w", err)
	}
	f.Machine = binary.LittleEndian.Uint16(fh[0:])
	f.NumberOfSections = binary.LittleEndian.Uint16(fh[2:])
	f.TimeDateStamp = binary.LittleEndian.Uint32(fh[4:])
	f.PointerToSymbolTable = binary.LittleEndian.Uint32(fh[8:])
	f.NumberOfSymbols = binary.LittleEndian.Uint32(fh[12:])
	f.SizeOfOptionalHeader = binary.LittleEndian.Uint16(fh[16:])
	f.Characteristics = binary.LittleEndian.Uint16(fh[18:])
	if err := f.parseOptional(lfanew + 24); err != nil {
		return err
	}
	return f.parseSections()
}

func (f *File) parseOptional(off int64) error {
	n := int(f.SizeOfOptionalHeader)
	if n < 2 {
		return fmt.Errorf("optional header is missing (SizeOfOptionalHeader %d): an object file or a damaged image", n)
	}
	buf := make([]byte, n)
	if err := f.readFull(off, buf); err != nil {
		return fmt.Errorf("optional header (%d bytes at 0x%x) runs past the end of the file", n, off)
	}
	o := &f.Optional
	o.Offset = off
	o.Magic = binary.LittleEndian.Uint16(buf)
	var dirOff int
	switch o.Magic {
	case 0x10b:
		if n < 96 {
			return fmt.Errorf("PE32 optional header too short: %d bytes", n)
		}
		o.ImageBase = uint64(binary.LittleEndian.Uint32(buf[28:]))
		dirOff = 96
	case 0x20b:
		if n < 112 {
			return fmt.Errorf("PE32+ optional header too short: %d bytes", n)
		}
		o.ImageBase = binary.LittleEndian.Uint64(buf[24:])
		dirOff = 112
	default:
		return fmt.Errorf("unknown optional header magic 0x%x", o.Magic)
	}
	o.AddressOfEntryPoint = binary.LittleEndian.Uint32(buf[16:])
	o.SectionAlignment = binary.LittleEndian.Uint32(buf[32:])
	o.FileAlignment = binary.LittleEndian.Uint32(buf[36:])
	o.SizeOfImage = binary.LittleEndian.Uint32(buf[56:])
	o.SizeOfHeaders = binary.LittleEndian.Uint32(buf[60:])
	o.CheckSum = binary.LittleEndian.Uint32(buf[64:])
	o.Subsystem = binary.LittleEndian.Uint16(buf[68:])
	o.DllCharacteristics = binary.LittleEndian.Uint16(buf[70:])
	o.NumberOfRvaAndSizes = binary.LittleEndian.Uint32(buf[dirOff-4:])
	f.checkMagicMatchesMachine()
	count := int(min(o.NumberOfRvaAndSizes, 16))
	if fit := (n - dirOff) / 8; fit < count {
		f.Anomalies = append(f.Anomalies, fmt.Sprintf("NumberOfRvaAndSizes is %d but the optional header holds only %d entries", o.NumberOfRvaAndSizes, fit))
		count = fit
	}
	if o.NumberOfRvaAndSizes != 16 {
		f.Anomalies = append(f.Anomalies, fmt.Sprintf("data-directory array has %d entries (16 expected)", o.NumberOfRvaAndSizes))
	}
	for i := 0; i < count; i++ {
		p := buf[dirOff+8*i:]
		o.DataDirectories[i] = DataDirectory{RVA: binary.LittleEndian.Uint32(p), Size: binary.LittleEndian.Uint32(p[4:])}
	}
	o.DirectoryCount = count
	return nil
}

// checkMagicMatchesMachine notes a PE32 header on a 64-bit machine or the
// reverse. Windows refuses such an image; the analysis goes on with the
// layout the magic describes, since that is how the headers are laid out.
func (f *File) checkMagicMatchesMachine() {
	want := uint16(0)
	switch f.Machine {
	case MachineAMD64, MachineARM64, MachineIA64:
		want = 0x20b
	case MachineI386, MachineARMNT, MachineARM:
		want = 0x10b
	}
	if want != 0 && want != f.Optional.Magic {
		f.Anomalies = append(f.Anomalies, fmt.Sprintf("optional header magic 0x%x does not match machine %s", f.Optional.Magic, MachineName(f.Machine)))
	}
}

func (f *File) parseSections() error {
	f.SectionTableOffset = f.Optional.Offset + int64(f.SizeOfOptionalHeader)
	claimed := int(f.NumberOfSections)
	if claimed > f.lim.MaxSections {
		return &LimitError{What: "section count", Limit: int64(f.lim.MaxSections), Got: int64(claimed)}
	}
	avail := int((f.size - f.SectionTableOffset) / 40)
	if avail < 0 {
		avail = 0
	}
	n := claimed
	if n > avail {
		f.Anomalies = append(f.Anomalies, fmt.Sprintf("the file header claims %d sections but the file holds only %d section headers", claimed, avail))
		n = avail
	}
	if n == 0 {
		f.Anomalies = append(f.Anomalies, "the image has no sections")
		return nil
	}
	buf := make([]byte, 40*n)
	if err := f.readFull(f.SectionTableOffset, buf); err != nil {
		return fmt.Errorf("section table: %w", err)
	}
	f.Sections = make([]Section, n)
	for i := range f.Sections {
		h := buf[40*i:]
		s := &f.Sections[i]
		s.Index = i
		s.Name = sectionName(h[:8])
		s.VirtualSize = binary.LittleEndian.Uint32(h[8:])
		s.VirtualAddress = binary.LittleEndian.Uint32(h[12:])
		s.SizeOfRawData = binary.LittleEndian.Uint32(h[16:])
		s.PointerToRawData = binary.LittleEndian.Uint32(h[20:])
		s.Characteristics = binary.LittleEndian.Uint32(h[36:])
		s.HeaderOffset = f.SectionTableOffset + int64(40*i)
	}
	return nil
}

// sectionName is the name in a section header's 8 bytes, without the
// trailing NULs. The usual names are returned without allocating.
func sectionName(b []byte) string {
	b = bytes.TrimRight(b, "\x00")
	switch string(b) {
	case ".text":
		return ".text"
	case ".data":
		return ".data"
	case ".rdata":
		return ".rdata"
	case ".bss":
		return ".bss"
	case ".idata":
		return ".idata"
	case ".edata":
		return ".edata"
	case ".pdata":
		return ".pdata"
	case ".xdata":
		return ".xdata"
	case ".reloc":
		return ".reloc"
	case ".rsrc":
		return ".rsrc"
	case ".tls":
		return ".tls"
	case ".CRT":
		return ".CRT"
	case "INIT":
		return "INIT"
	case "PAGE":
		return "PAGE"
	case ".rodata":
		return ".rodata"
	}
	return string(b)
}

// LongName returns the name of section s resolved through the COFF string
// table where its header holds a "/N" reference (mingw names its debug
// sections so) and the table is readable; else s.Name. Parse does not
// resolve the names, which only the debug info and the reports need: each
// call reads the name from the table (at most longNameMax bytes).
func (f *File) LongName(s *Section) string {
	off := longNameOffset(s.Name)
	if off < 0 || f.PointerToSymbolTable == 0 {
		return s.Name
	}
	strtab := int64(f.PointerToSymbolTable) + 18*int64(f.NumberOfSymbols)
	b := make([]byte, longNameMax)
	n, _ := f.r.ReadAt(b, strtab+off)
	if i := bytes.IndexByte(b[:n], 0); i > 0 {
		return string(b[:i])
	}
	return s.Name
}

// longNameMax is the longest long section name read (the terminating NUL
// included).
const longNameMax = 64

// longNameOffset returns the string-table offset of a "/N" section name,
// or -1 for another name.
func longNameOffset(name string) int64 {
	if len(name) < 2 || name[0] != '/' {
		return -1
	}
	var off int64
	for _, c := range name[1:] {
		if c < '0' || c > '9' {
			return -1
		}
		off = off*10 + int64(c-'0')
	}
	if off < 4 {
		return -1
	}
	return off
}

// readFull reads exactly len(p) bytes at off or fails.
func (f *File) readFull(off int64, p []byte) error {
	if off < 0 || off+int64(len(p)) > f.size {
		return fmt.Errorf("%d bytes at offset 0x%x lie outside the %d-byte file", len(p), off, f.size)
	}
	n, err := f.r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("read %d bytes at 0x%x: %w", len(p), off, err)
}

// MachineName is the short name hvcicheck reports for a machine type:
// "x64", "x86", "arm64", "arm", or "0x…" for others.
func MachineName(m uint16) string {
	switch m {
	case MachineAMD64:
		return "x64"
	case MachineI386:
		return "x86"
	case MachineARM64:
		return "arm64"
	case MachineARMNT, MachineARM:
		return "arm"
	case MachineIA64:
		return "ia64"
	case MachineEBC:
		return "ebc"
	case MachineRISCV:
		return "riscv64"
	}
	return fmt.Sprintf("0x%04x", m)
}
