package pebuild

import (
	"encoding/binary"
	"fmt"
	"iter"
	"math/rand/v2"
)

// Mutant is one deterministic mutation of an image.
type Mutant struct {
	// Name says what was changed, to reproduce a failure.
	Name string
	Data []byte
}

// field is a header field or data range of an image: its file offset and
// size in bytes.
type field struct {
	name      string
	off, size int
}

// extremes are the values a 32-bit field is set to.
var extremes = []uint32{0, 1, 2, 0x7f, 0x80, 0xfff, 0x1000, 0x1001, 0x7fffffff, 0x80000000, 0xfffff000, 0xfffffffe, 0xffffffff}

// Mutants yields n deterministic mutants of the PE image data (the same
// seed gives the same mutants): header and section-table fields set to
// extreme values, bit flips in the headers and in the import, exception,
// relocation and IAT data, truncations at every header boundary and across
// the file, and a few combined mutations. It works on any bytes; where they
// are no PE image it mutates the first bytes.
func Mutants(data []byte, seed uint64, n int) iter.Seq[Mutant] {
	return func(yield func(Mutant) bool) {
		r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		fields := layoutFields(data)
		regions := directoryRegions(data)
		for i := 0; i < n; i++ {
			m := Mutant{Data: append([]byte(nil), data...)}
			kinds := 1
			if i%8 == 7 {
				kinds = 2 + r.IntN(3) // combined mutations
			}
			for k := 0; k < kinds; k++ {
				m.Name += mutateOnce(r, &m.Data, fields, regions) + ";"
			}
			if !yield(m) {
				return
			}
		}
	}
}

// mutateOnce applies one random mutation to *data and describes it.
func mutateOnce(r *rand.Rand, data *[]byte, fields, regions []field) string {
	d := *data
	switch c := r.IntN(10); {
	case c < 4 && len(fields) > 0: // a header field set to an extreme
		f := fields[r.IntN(len(fields))]
		v := extremes[r.IntN(len(extremes))]
		if r.IntN(4) == 0 {
			v = uint32(len(d)) + uint32(r.IntN(3)) - 1
		}
		putField(d, f, v)
		return fmt.Sprintf("%s@0x%x=0x%x", f.name, f.off, v)
	case c < 6 && len(regions) > 0: // a dword in a directory set to an extreme
		f := regions[r.IntN(len(regions))]
		off := f.off + r.IntN(max(f.size-3, 1))&^3
		v := extremes[r.IntN(len(extremes))]
		putField(d, field{off: off, size: 4}, v)
		return fmt.Sprintf("%s+0x%x=0x%x", f.name, off-f.off, v)
	case c < 9: // bit flips in the headers or a directory
		f := field{name: "headers", off: 0, size: min(len(d), 0x400)}
		if len(regions) > 0 && r.IntN(2) == 0 {
			f = regions[r.IntN(len(regions))]
		}
		return flipBits(r, d, f)
	default: // truncation
		n := truncationPoint(r, d, fields)
		*data = d[:n]
		return fmt.Sprintf("truncate@0x%x", n)
	}
}

// putField writes v into f, as much of it as fits in f and in d.
func putField(d []byte, f field, v uint32) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	for i := 0; i < f.size && i < 4 && f.off+i < len(d); i++ {
		d[f.off+i] = b[i]
	}
}

// flipBits flips one to four random bits inside f.
func flipBits(r *rand.Rand, d []byte, f field) string {
	if f.size <= 0 || f.off >= len(d) {
		return "no-op"
	}
	s := f.name + ":flip"
	for k := 1 + r.IntN(4); k > 0; k-- {
		off := f.off + r.IntN(min(f.size, len(d)-f.off))
		bit := byte(1) << r.IntN(8)
		d[off] ^= bit
		s += fmt.Sprintf("@0x%x^%02x", off, bit)
	}
	return s
}

// truncationPoint is a header boundary (or one byte either side of one),
// or a random offset.
func truncationPoint(r *rand.Rand, d []byte, fields []field) int {
	if len(fields) > 0 && r.IntN(2) == 0 {
		f := fields[r.IntN(len(fields))]
		return min(max(f.off+r.IntN(3)-1, 0), len(d))
	}
	return r.IntN(len(d) + 1)
}

// le16 and le32 read little-endian values, 0 past the end of d.
func le16(d []byte, off int) int {
	if off < 0 || off+2 > len(d) {
		return 0
	}
	return int(binary.LittleEndian.Uint16(d[off:]))
}

func le32(d []byte, off int) uint32 {
	if off < 0 || off+4 > len(d) {
		return 0
	}
	return binary.LittleEndian.Uint32(d[off:])
}

// layoutFields lists the header fields of a PE image: e_lfanew, the file
// header, the optional header's fields, each data-directory entry and each
// section-header field.
func layoutFields(d []byte) []field {
	fs := []field{{"e_lfanew", 0x3c, 4}}
	pe := int(le32(d, 0x3c))
	if pe <= 0 || pe+24 > len(d) {
		return fs
	}
	fh := pe + 4
	fs = append(fs, field{"Signature", pe, 4}, field{"Machine", fh, 2}, field{"NumberOfSections", fh + 2, 2},
		field{"PointerToSymbolTable", fh + 8, 4}, field{"NumberOfSymbols", fh + 12, 4},
		field{"SizeOfOptionalHeader", fh + 16, 2})
	oh := fh + 20
	soh := le16(d, fh+16)
	dirs := oh + 96
	if le16(d, oh) == MagicPE32Plus {
		dirs = oh + 112
	}
	fs = append(fs, field{"Magic", oh, 2}, field{"AddressOfEntryPoint", oh + 16, 4}, field{"ImageBase", oh + 24, 4},
		field{"SectionAlignment", oh + 32, 4}, field{"FileAlignment", oh + 36, 4}, field{"SizeOfImage", oh + 56, 4},
		field{"SizeOfHeaders", oh + 60, 4}, field{"Subsystem", oh + 68, 2}, field{"DllCharacteristics", oh + 70, 2},
		field{"NumberOfRvaAndSizes", dirs - 4, 4})
	for i := 0; i < 16 && dirs+8*i+8 <= oh+soh; i++ {
		fs = append(fs, field{fmt.Sprintf("Dir%d.RVA", i), dirs + 8*i, 4}, field{fmt.Sprintf("Dir%d.Size", i), dirs + 8*i + 4, 4})
	}
	table := oh + soh
	for i := 0; i < le16(d, fh+2) && table+40*i+40 <= len(d); i++ {
		h := table + 40*i
		for _, sf := range []struct {
			name string
			off  int
		}{{"Name", 0}, {"VirtualSize", 8}, {"VirtualAddress", 12}, {"SizeOfRawData", 16}, {"PointerToRawData", 20}, {"Characteristics", 36}} {
			fs = append(fs, field{fmt.Sprintf("Section%d.%s", i, sf.name), h + sf.off, 4})
		}
	}
	return fs
}

// directoryRegions lists the file ranges of the import, exception, base
// relocation and IAT directories (at most 0x400 bytes of each), found
// through the section table.
func directoryRegions(d []byte) []field {
	pe := int(le32(d, 0x3c))
	if pe <= 0 || pe+24 > len(d) {
		return nil
	}
	oh := pe + 24
	soh := le16(d, pe+20)
	dirs := oh + 96
	if le16(d, oh) == MagicPE32Plus {
		dirs = oh + 112
	}
	var fs []field
	for _, i := range []int{DirImport, DirException, DirBaseReloc, DirIAT} {
		if dirs+8*i+8 > oh+soh {
			continue
		}
		rva, size := le32(d, dirs+8*i), le32(d, dirs+8*i+4)
		if off, ok := rvaOffset(d, oh+soh, le16(d, pe+6), rva); ok && size > 0 {
			fs = append(fs, field{fmt.Sprintf("Dir%d", i), off, int(min(size, 0x400, uint32(len(d)-off)))})
		}
	}
	return fs
}

// rvaOffset translates rva through the section table at table.
func rvaOffset(d []byte, table, n int, rva uint32) (int, bool) {
	for i := 0; i < n && table+40*i+40 <= len(d); i++ {
		h := table + 40*i
		va, raw, ptr := le32(d, h+12), le32(d, h+16), le32(d, h+20)
		if rva >= va && rva-va < raw && int64(ptr)+int64(rva-va) < int64(len(d)) {
			return int(ptr + rva - va), true
		}
	}
	return 0, false
}
