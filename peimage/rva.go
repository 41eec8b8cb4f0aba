package peimage

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Limits bounds what parsing one image may cost. A zero field takes its
// default (DefaultLimits).
type Limits struct {
	MaxFileSize   int64 // largest file analysed, in bytes
	MaxSections   int   // largest section count accepted
	MaxImports    int   // imported functions read, over all DLLs
	MaxRelocs     int   // base relocation entries read
	MaxFunctions  int   // .pdata entries read
	MaxReadBytes  int64 // largest single read of image data (a section's code)
	MaxStringSize int   // longest name read from the image
}

// DefaultLimits are the limits used where a field of Limits is zero.
var DefaultLimits = Limits{
	MaxFileSize:   512 << 20,
	MaxSections:   4096,
	MaxImports:    65536,
	MaxRelocs:     4 << 20,
	MaxFunctions:  1 << 20,
	MaxReadBytes:  256 << 20,
	MaxStringSize: 4096,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxFileSize != 0 {
		d.MaxFileSize = l.MaxFileSize
	}
	if l.MaxSections != 0 {
		d.MaxSections = l.MaxSections
	}
	if l.MaxImports != 0 {
		d.MaxImports = l.MaxImports
	}
	if l.MaxRelocs != 0 {
		d.MaxRelocs = l.MaxRelocs
	}
	if l.MaxFunctions != 0 {
		d.MaxFunctions = l.MaxFunctions
	}
	if l.MaxReadBytes != 0 {
		d.MaxReadBytes = l.MaxReadBytes
	}
	if l.MaxStringSize != 0 {
		d.MaxStringSize = l.MaxStringSize
	}
	return d
}

// LimitError reports that an image exceeds one of the Limits. The analysis
// of that part stops; the result says so instead of claiming "clean".
type LimitError struct {
	What  string
	Limit int64
	Got   int64
}

func (e *LimitError) Error() string {
	if e.Got != 0 {
		return fmt.Sprintf("limit reached: %s %d exceeds %d", e.What, e.Got, e.Limit)
	}
	return fmt.Sprintf("limit reached: %s exceeds %d", e.What, e.Limit)
}

// SectionOf returns the section whose mapped range holds rva, or nil. The
// range is [VirtualAddress, VirtualAddress+max(VirtualSize, SizeOfRawData)).
// Where sections overlap, the first in the table wins, as in the loader's
// view of the header.
func (f *File) SectionOf(rva uint32) *Section {
	for i := range f.Sections {
		s := &f.Sections[i]
		size := max(s.VirtualSize, s.SizeOfRawData)
		if rva >= s.VirtualAddress && uint64(rva) < uint64(s.VirtualAddress)+uint64(size) {
			return s
		}
	}
	return nil
}

// ReadRVA reads n bytes of the image at rva as mapped in memory. Bytes
// beyond a section's raw data (its zero-filled tail) read as zero; a range
// not inside one section, or n above MaxReadBytes, is an error.
func (f *File) ReadRVA(rva uint32, n int) ([]byte, error) {
	if n < 0 || int64(n) > f.lim.MaxReadBytes {
		return nil, &LimitError{What: "read size", Limit: f.lim.MaxReadBytes, Got: int64(n)}
	}
	if s := f.SectionOf(rva); s != nil {
		return f.readSectionRange(s, rva, n)
	}
	if uint64(rva)+uint64(n) <= uint64(f.Optional.SizeOfHeaders) && int64(rva)+int64(n) <= f.size {
		buf := make([]byte, n)
		return buf, f.readFull(int64(rva), buf)
	}
	return nil, fmt.Errorf("RVA 0x%x is in no section", rva)
}

func (f *File) readSectionRange(s *Section, rva uint32, n int) ([]byte, error) {
	size := max(s.VirtualSize, s.SizeOfRawData)
	if uint64(rva)+uint64(n) > uint64(s.VirtualAddress)+uint64(size) {
		return nil, fmt.Errorf("%d bytes at RVA 0x%x run past the end of section %q", n, rva, s.Name)
	}
	buf := make([]byte, n)
	delta := rva - s.VirtualAddress
	if delta >= s.SizeOfRawData {
		return buf, nil
	}
	avail := min(uint32(n), s.SizeOfRawData-delta)
	off := int64(s.PointerToRawData) + int64(delta)
	if off+int64(avail) > f.size {
		if off >= f.size {
			return nil, fmt.Errorf("section %q raw data at 0x%x lies outside the file", s.Name, s.PointerToRawData)
		}
		avail = uint32(f.size - off)
	}
	if err := f.readFull(off, buf[:avail]); err != nil {
		return nil, err
	}
	return buf, nil
}

// SectionData returns the bytes of section s as mapped in memory, up to its
// VirtualSize (or SizeOfRawData where VirtualSize is zero).
func (f *File) SectionData(s *Section) ([]byte, error) {
	n := s.VirtualSize
	if n == 0 {
		n = s.SizeOfRawData
	}
	return f.ReadRVA(s.VirtualAddress, int(n))
}

// ReadU32 reads a little-endian uint32 at rva.
func (f *File) ReadU32(rva uint32) (uint32, error) {
	b, err := f.ReadRVA(rva, 4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

// ReadU64 reads a little-endian uint64 at rva.
func (f *File) ReadU64(rva uint32) (uint64, error) {
	b, err := f.ReadRVA(rva, 8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// ReadCString reads a NUL-terminated string at rva, at most MaxStringSize
// bytes long.
func (f *File) ReadCString(rva uint32) (string, error) {
	s := f.SectionOf(rva)
	if s == nil {
		return "", fmt.Errorf("string at RVA 0x%x is in no section", rva)
	}
	end := uint64(s.VirtualAddress) + uint64(max(s.VirtualSize, s.SizeOfRawData))
	limit := min(uint64(f.lim.MaxStringSize), end-uint64(rva))
	// Names are short: read a little first, the rest only when needed.
	for n := min(limit, 128); ; n = min(limit, n*8) {
		b, err := f.readSectionRange(s, rva, int(n))
		if err != nil {
			return "", err
		}
		if i := bytes.IndexByte(b, 0); i >= 0 {
			return string(b[:i]), nil
		}
		if n == limit {
			break
		}
	}
	if limit == uint64(f.lim.MaxStringSize) {
		return "", &LimitError{What: fmt.Sprintf("length of the string at RVA 0x%x", rva), Limit: int64(limit)}
	}
	return "", fmt.Errorf("string at RVA 0x%x has no terminator within %d bytes", rva, limit)
}

// VAToRVA converts a virtual address (image base relative) to an RVA; ok is
// false when va lies outside the image.
func (f *File) VAToRVA(va uint64) (uint32, bool) {
	base := f.Optional.ImageBase
	if va < base || va-base >= uint64(max(f.Optional.SizeOfImage, 1)) {
		return 0, false
	}
	return uint32(va - base), true
}

// FileOffset translates an RVA to the file offset of its byte; ok is false
// when the byte has no file backing (zero-filled tail, or outside sections).
func (f *File) FileOffset(rva uint32) (int64, bool) {
	s := f.SectionOf(rva)
	if s == nil || rva-s.VirtualAddress >= s.SizeOfRawData {
		return 0, false
	}
	off := int64(s.PointerToRawData) + int64(rva-s.VirtualAddress)
	return off, off < f.size
}
