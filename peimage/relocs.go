package peimage

import (
	"encoding/binary"
	"fmt"
)

// Base relocation types (IMAGE_REL_BASED_*).
const (
	RelAbsolute = 0
	RelHigh     = 1
	RelLow      = 2
	RelHighLow  = 3
	RelHighAdj  = 4
	RelARMMov32 = 5 // also MIPS_JMPADDR, RISCV_HIGH20
	RelThumb32  = 7
	RelDir64    = 10
)

// Reloc is one base relocation: the RVA it patches and its type.
type Reloc struct {
	RVA  uint32
	Type uint8
}

// Width returns the number of bytes a relocation of this type patches (0 for
// padding entries and types hvcicheck does not size).
func (r Reloc) Width() uint32 {
	switch r.Type {
	case RelHighLow:
		return 4
	case RelDir64:
		return 8
	case RelHigh, RelLow:
		return 2
	case RelARMMov32, RelThumb32:
		return 8
	}
	return 0
}

// BaseRelocs parses the base relocation directory (data directory 5),
// skipping IMAGE_REL_BASED_ABSOLUTE padding. It returns what it read before
// an error together with that error.
func (f *File) BaseRelocs() ([]Reloc, error) {
	var out []Reloc
	err := f.EachBaseReloc(func(r Reloc) { out = append(out, r) })
	return out, err
}

// EachBaseReloc calls visit with each base relocation, in the order of the
// directory, as BaseRelocs returns them, without holding them all: a rule
// that looks at each relocation once needs no list of them. It stops at the
// first error (after visiting what came before it) and returns it.
func (f *File) EachBaseReloc(visit func(Reloc)) error {
	dir := f.Optional.DataDirectories[DirBaseReloc]
	if dir.RVA == 0 || dir.Size == 0 {
		return nil
	}
	if int64(dir.Size) > f.lim.MaxReadBytes {
		return &LimitError{What: "base relocation directory size", Limit: f.lim.MaxReadBytes, Got: int64(dir.Size)}
	}
	data, err := f.ReadRVA(dir.RVA, int(dir.Size))
	if err != nil {
		return fmt.Errorf("base relocation directory: %w", err)
	}
	count := 0
	for off := 0; off+8 <= len(data); {
		page := binary.LittleEndian.Uint32(data[off:])
		size := int(binary.LittleEndian.Uint32(data[off+4:]))
		if size < 8 || off+size > len(data) {
			return fmt.Errorf("base relocation block at directory offset 0x%x has size %d", off, size)
		}
		if err := f.eachInBlock(page, data[off+8:off+size], &count, visit); err != nil {
			return err
		}
		off += size
	}
	return nil
}

// eachInBlock visits the entries of one relocation block (those of page),
// counting them in count against MaxRelocs.
func (f *File) eachInBlock(page uint32, entries []byte, count *int, visit func(Reloc)) error {
	for p := 0; p+2 <= len(entries); p += 2 {
		e := binary.LittleEndian.Uint16(entries[p:])
		typ := uint8(e >> 12)
		if typ == RelAbsolute {
			continue
		}
		if *count >= f.lim.MaxRelocs {
			return &LimitError{What: "base relocations", Limit: int64(f.lim.MaxRelocs)}
		}
		*count++
		visit(Reloc{RVA: page + uint32(e&0xfff), Type: typ})
		if typ == RelHighAdj {
			p += 2 // the next entry is this one's parameter
		}
	}
	return nil
}
