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
	dir := f.Optional.DataDirectories[DirBaseReloc]
	if dir.RVA == 0 || dir.Size == 0 {
		return nil, nil
	}
	if int64(dir.Size) > f.lim.MaxReadBytes {
		return nil, &LimitError{What: "base relocation directory size", Limit: f.lim.MaxReadBytes, Got: int64(dir.Size)}
	}
	data, err := f.ReadRVA(dir.RVA, int(dir.Size))
	if err != nil {
		return nil, fmt.Errorf("base relocation directory: %w", err)
	}
	var out []Reloc
	for off := 0; off+8 <= len(data); {
		page := binary.LittleEndian.Uint32(data[off:])
		size := int(binary.LittleEndian.Uint32(data[off+4:]))
		if size < 8 || off+size > len(data) {
			return out, fmt.Errorf("base relocation block at directory offset 0x%x has size %d", off, size)
		}
		for p := off + 8; p+2 <= off+size; p += 2 {
			e := binary.LittleEndian.Uint16(data[p:])
			typ := uint8(e >> 12)
			if typ == RelAbsolute {
				continue
			}
			if len(out) >= f.lim.MaxRelocs {
				return out, &LimitError{What: "base relocations", Limit: int64(f.lim.MaxRelocs)}
			}
			out = append(out, Reloc{RVA: page + uint32(e&0xfff), Type: typ})
			if typ == RelHighAdj {
				p += 2 // the next entry is this one's parameter
			}
		}
		off += size
	}
	return out, nil
}
