package peimage_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/hvcicheck/hvcicheck/internal/pebuild"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// relocImage is the x64 driver without its own relocations and with a
// .reloc section at 0x5000 holding blocks, described by a directory of
// dirSize bytes (len(blocks) where dirSize is 0).
func relocImage(dirSize uint32, blocks ...[]byte) *pebuild.Image {
	im := pebuild.Driver(pebuild.MachineAMD64)
	im.Relocs = nil
	data := slices.Concat(blocks...)
	if dirSize == 0 {
		dirSize = uint32(len(data))
	}
	im.Sections = append(im.Sections, pebuild.Section{Name: ".reloc", VirtualAddress: 0x5000, Characteristics: pebuild.RData, Data: data})
	im.Directories[pebuild.DirBaseReloc] = pebuild.DataDirectory{RVA: 0x5000, Size: dirSize}
	return im
}

// entry is one relocation entry: type<<12 | page offset.
func entry(typ uint8, off uint16) uint16 { return uint16(typ)<<12 | off }

// TestBaseRelocs covers well-formed blocks and blocks of size 0, shorter
// than their header, larger than the directory, a directory larger than its
// section, HIGHADJ's parameter and the relocation limit.
func TestBaseRelocs(t *testing.T) {
	block := pebuild.RelocBlock(0x1000, 16, entry(10, 0xff8), entry(10, 0xff9), entry(0, 0), entry(3, 0x10))
	cases := []struct {
		name  string
		image *pebuild.Image
		lim   peimage.Limits
		want  []peimage.Reloc
		err   string
		limit bool
	}{
		{name: "driver", image: pebuild.Driver(pebuild.MachineAMD64), want: []peimage.Reloc{{RVA: 0x3010, Type: 10}, {RVA: 0x3020, Type: 10}}},
		{name: "ABSOLUTE padding skipped", image: relocImage(0, block), want: []peimage.Reloc{{RVA: 0x1ff8, Type: 10}, {RVA: 0x1ff9, Type: 10}, {RVA: 0x1010, Type: 3}}},
		{
			name:  "block of size 0",
			image: relocImage(0, pebuild.RelocBlock(0x1000, 0, entry(10, 8))),
			err:   "base relocation block at directory offset 0x0 has size 0",
		},
		{
			name:  "block of size 4",
			image: relocImage(0, block, pebuild.RelocBlock(0x2000, 4, entry(10, 8))),
			want:  []peimage.Reloc{{RVA: 0x1ff8, Type: 10}, {RVA: 0x1ff9, Type: 10}, {RVA: 0x1010, Type: 3}},
			err:   "base relocation block at directory offset 0x10 has size 4",
		},
		{
			name:  "block larger than the directory",
			image: relocImage(0, block, pebuild.RelocBlock(0x2000, 0x1000, entry(10, 8), entry(10, 16))),
			want:  []peimage.Reloc{{RVA: 0x1ff8, Type: 10}, {RVA: 0x1ff9, Type: 10}, {RVA: 0x1010, Type: 3}},
			err:   "base relocation block at directory offset 0x10 has size 4096",
		},
		{
			name:  "directory larger than its section",
			image: relocImage(0x2000, block),
			err:   `base relocation directory: 8192 bytes at RVA 0x5000 run past the end of section ".reloc"`,
		},
		{
			name:  "trailing bytes shorter than a block header",
			image: relocImage(uint32(len(block))+6, block),
			want:  []peimage.Reloc{{RVA: 0x1ff8, Type: 10}, {RVA: 0x1ff9, Type: 10}, {RVA: 0x1010, Type: 3}},
		},
		{
			name:  "HIGHADJ takes the next entry as its parameter",
			image: relocImage(0, pebuild.RelocBlock(0x1000, 16, entry(4, 0x10), 0x3020, entry(3, 0x20), 0)),
			want:  []peimage.Reloc{{RVA: 0x1010, Type: 4}, {RVA: 0x1020, Type: 3}},
		},
		{
			// Reading only what fits would drop the second block unnoticed.
			name:  "directory larger than MaxReadBytes",
			image: relocImage(0, block, pebuild.RelocBlock(0x2000, 12, entry(10, 0xff9), 0)), lim: peimage.Limits{MaxReadBytes: 16},
			err: "limit reached: base relocation directory size 28 exceeds 16", limit: true,
		},
		{
			name: "limit", image: relocImage(0, block), lim: peimage.Limits{MaxRelocs: 2},
			want: []peimage.Reloc{{RVA: 0x1ff8, Type: 10}, {RVA: 0x1ff9, Type: 10}},
			err:  "limit reached: base relocations exceeds 2", limit: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := build(t, c.image).Bytes
			f, err := peimage.Parse(bytesReader(data), int64(len(data)), c.lim)
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.BaseRelocs()
			if !slices.Equal(got, c.want) {
				t.Errorf("relocs %v, want %v", got, c.want)
			}
			if c.err == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				return
			}
			wantErr(t, err, false, c.err)
			var le *peimage.LimitError
			if errors.As(err, &le) != c.limit {
				t.Errorf("error %v: LimitError %v, want %v", err, !c.limit, c.limit)
			}
		})
	}
}

// TestRelocWidth checks the bytes each relocation type patches.
func TestRelocWidth(t *testing.T) {
	want := map[uint8]uint32{0: 0, 1: 2, 2: 2, 3: 4, 4: 0, 5: 8, 6: 0, 7: 8, 8: 0, 9: 0, 10: 8, 11: 0}
	for typ, w := range want {
		if got := (peimage.Reloc{Type: typ}).Width(); got != w {
			t.Errorf("type %d: width %d, want %d", typ, got, w)
		}
	}
}
