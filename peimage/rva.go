package peimage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
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
	buf := make([]byte, n)
	if err := f.ReadRVAInto(buf, rva); err != nil {
		return nil, err
	}
	return buf, nil
}

// ReadRVAInto is ReadRVA into buf: it reads len(buf) bytes at rva, for a
// caller that reuses its buffers.
func (f *File) ReadRVAInto(buf []byte, rva uint32) error {
	n := len(buf)
	if int64(n) > f.lim.MaxReadBytes {
		return &LimitError{What: "read size", Limit: f.lim.MaxReadBytes, Got: int64(n)}
	}
	if s := f.SectionOf(rva); s != nil {
		return f.readSectionRange(s, rva, buf)
	}
	if uint64(rva)+uint64(n) <= uint64(f.Optional.SizeOfHeaders) && int64(rva)+int64(n) <= f.size {
		return f.readFull(int64(rva), buf)
	}
	return fmt.Errorf("RVA 0x%x is in no section", rva)
}

func (f *File) readSectionRange(s *Section, rva uint32, buf []byte) error {
	n := len(buf)
	size := max(s.VirtualSize, s.SizeOfRawData)
	if uint64(rva)+uint64(n) > uint64(s.VirtualAddress)+uint64(size) {
		return fmt.Errorf("%d bytes at RVA 0x%x run past the end of section %q", n, rva, s.Name)
	}
	delta := rva - s.VirtualAddress
	if delta >= s.SizeOfRawData {
		clear(buf)
		return nil
	}
	avail := min(uint32(n), s.SizeOfRawData-delta)
	off := int64(s.PointerToRawData) + int64(delta)
	if off+int64(avail) > f.size {
		if off >= f.size {
			return fmt.Errorf("section %q raw data at 0x%x lies outside the file", s.Name, s.PointerToRawData)
		}
		avail = uint32(f.size - off)
	}
	clear(buf[avail:])
	return f.readFull(off, buf[:avail])
}

// SectionData returns the bytes of section s as mapped in memory, up to its
// VirtualSize (or SizeOfRawData where VirtualSize is zero).
func (f *File) SectionData(s *Section) ([]byte, error) {
	return f.ReadRVA(s.VirtualAddress, int(sectionDataSize(s)))
}

// AppendSectionData appends the bytes SectionData returns to dst, for a
// caller that reuses its buffers.
func (f *File) AppendSectionData(dst []byte, s *Section) ([]byte, error) {
	n := int(sectionDataSize(s))
	if int64(n) > f.lim.MaxReadBytes {
		return dst, &LimitError{What: "read size", Limit: f.lim.MaxReadBytes, Got: int64(n)}
	}
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	if err := f.ReadRVAInto(dst[start:], s.VirtualAddress); err != nil {
		return dst[:start], err
	}
	return dst, nil
}

func sectionDataSize(s *Section) uint32 {
	if s.VirtualSize == 0 {
		return s.SizeOfRawData
	}
	return s.VirtualSize
}

// ReadU32 reads a little-endian uint32 at rva.
func (f *File) ReadU32(rva uint32) (uint32, error) {
	var b [4]byte
	if err := f.ReadRVAInto(b[:], rva); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// ReadU64 reads a little-endian uint64 at rva.
func (f *File) ReadU64(rva uint32) (uint64, error) {
	var b [8]byte
	if err := f.ReadRVAInto(b[:], rva); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
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
	var first [128]byte
	for n := min(limit, 128); ; n = min(limit, n*8) {
		b := first[:]
		if n > uint64(len(first)) {
			b = make([]byte, n)
		}
		b = b[:n]
		if err := f.readSectionRange(s, rva, b); err != nil {
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
