package peimage_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/hvcicheck/hvcicheck/internal/pebuild"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// viBlock lays out one VS_VERSIONINFO node: header, key, value, children,
// each 32-bit aligned as in a real resource.
func viBlock(key string, value []byte, text bool, children ...[]byte) []byte {
	var b bytes.Buffer
	b.Write(make([]byte, 6))
	for _, u := range utf16.Encode([]rune(key)) {
		binary.Write(&b, binary.LittleEndian, u)
	}
	b.Write([]byte{0, 0})
	pad4(&b)
	b.Write(value)
	for _, c := range children {
		pad4(&b)
		b.Write(c)
	}
	out := b.Bytes()
	binary.LittleEndian.PutUint16(out[0:], uint16(len(out)))
	vl := len(value)
	if text {
		vl /= 2
		binary.LittleEndian.PutUint16(out[4:], 1)
	}
	binary.LittleEndian.PutUint16(out[2:], uint16(vl))
	return out
}

func pad4(b *bytes.Buffer) {
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
}

func utf16z(s string) []byte {
	var b bytes.Buffer
	for _, u := range utf16.Encode([]rune(s)) {
		binary.Write(&b, binary.LittleEndian, u)
	}
	b.Write([]byte{0, 0})
	return b.Bytes()
}

// versionResource is a VS_VERSIONINFO with one string table per language,
// each a map of key to value.
func versionResource(tables map[string]map[string]string, order ...string) []byte {
	var tbls [][]byte
	for _, lang := range order {
		var strs [][]byte
		for _, k := range []string{"CompanyName", "FileDescription", "FileVersion", "OriginalFilename", "ProductName"} {
			if v, ok := tables[lang][k]; ok {
				strs = append(strs, viBlock(k, utf16z(v), true))
			}
		}
		tbls = append(tbls, viBlock(lang, nil, true, strs...))
	}
	fixed := make([]byte, 52)
	binary.LittleEndian.PutUint32(fixed, 0xFEEF04BD)
	sfi := viBlock("StringFileInfo", nil, true, tbls...)
	vfi := viBlock("VarFileInfo", nil, true, viBlock("Translation", []byte{9, 4, 0xb0, 4}, false))
	return viBlock("VS_VERSION_INFO", fixed, false, sfi, vfi)
}

// resourceSection lays out a resource tree type 16 / ID 1 / language 0x409
// holding data, for a section at rva. It returns the section's bytes.
func resourceSection(rva uint32, data []byte) []byte {
	var b bytes.Buffer
	dir := func(entries ...[2]uint32) {
		hdr := make([]byte, 16)
		binary.LittleEndian.PutUint16(hdr[14:], uint16(len(entries)))
		b.Write(hdr)
		for _, e := range entries {
			binary.Write(&b, binary.LittleEndian, e[0])
			binary.Write(&b, binary.LittleEndian, e[1])
		}
	}
	// Root at 0 (16+8), name dir at 24 (16+8), language dir at 48 (16+8),
	// data entry at 72 (16), data at 88.
	dir([2]uint32{16, 0x80000000 | 24})
	dir([2]uint32{1, 0x80000000 | 48})
	dir([2]uint32{0x409, 72})
	binary.Write(&b, binary.LittleEndian, []uint32{rva + 88, uint32(len(data)), 0, 0})
	b.Write(data)
	return b.Bytes()
}

const rsrcRVA = 0x4000

// imageWithResources builds a driver whose .rsrc section (at rsrcRVA) holds
// rsrc and whose resource directory points at it.
func imageWithResources(t testing.TB, rsrc []byte) []byte {
	t.Helper()
	im := pebuild.Driver(pebuild.MachineAMD64)
	im.Sections = append(im.Sections, pebuild.Section{Name: ".rsrc", VirtualAddress: rsrcRVA, Characteristics: pebuild.RData, Data: rsrc})
	im.Directories[peimage.DirResource] = pebuild.DataDirectory{RVA: rsrcRVA, Size: uint32(len(rsrc))}
	return build(t, im).Bytes
}

func TestVersionInfo(t *testing.T) {
	res := versionResource(map[string]map[string]string{
		"040704b0": {"CompanyName": "Firma GmbH", "FileDescription": "Treiber", "OriginalFilename": "only-de.sys"},
		"040904b0": {"CompanyName": "Contoso Ltd.", "FileDescription": "Contoso Driver", "FileVersion": "1.2.3.4", "ProductName": "Contoso <script>"},
	}, "040704b0", "040904b0")
	f := mustParse(t, imageWithResources(t, resourceSection(rsrcRVA, res)))
	v, err := f.VersionInfo()
	if err != nil {
		t.Fatal(err)
	}
	want := peimage.VersionInfo{CompanyName: "Contoso Ltd.", ProductName: "Contoso <script>", FileDescription: "Contoso Driver", FileVersion: "1.2.3.4", OriginalFilename: "only-de.sys"}
	if *v != want {
		t.Errorf("got %+v\nwant %+v", *v, want)
	}
}

func TestVersionInfoNone(t *testing.T) {
	f := mustParse(t, build(t, pebuild.Driver(pebuild.MachineAMD64)).Bytes)
	if _, err := f.VersionInfo(); !errors.Is(err, peimage.ErrNoVersionInfo) {
		t.Errorf("no resources: %v", err)
	}
	// Resources, but no RT_VERSION: a tree with type 3 (RT_ICON) only.
	rs := resourceSection(rsrcRVA, []byte("icon"))
	binary.LittleEndian.PutUint32(rs[16:], 3)
	f = mustParse(t, imageWithResources(t, rs))
	if _, err := f.VersionInfo(); !errors.Is(err, peimage.ErrNoVersionInfo) {
		t.Errorf("no RT_VERSION: %v", err)
	}
}

func TestVersionInfoStrings(t *testing.T) {
	// Strings are kept as written (the reports escape them), lone
	// surrogates become U+FFFD, padding spaces go.
	lone := string(utf16.Decode([]uint16{0xD800}))
	// FileVersion "x" becomes a lone surrogate by hand below.
	res := versionResource(map[string]map[string]string{
		"040904b0": {"CompanyName": "evil\u202eexe.sys", "ProductName": "  padded  ", "FileDescription": "a\x1b[2Jb", "FileVersion": "x"},
	}, "040904b0")
	i := bytes.Index(res, utf16z("x"))
	binary.LittleEndian.PutUint16(res[i:], 0xD800)
	f := mustParse(t, imageWithResources(t, resourceSection(rsrcRVA, res)))
	v, err := f.VersionInfo()
	if err != nil {
		t.Fatal(err)
	}
	if v.CompanyName != "evil\u202eexe.sys" || v.ProductName != "padded" || v.FileDescription != "a\x1b[2Jb" || v.FileVersion != "\uFFFD" {
		t.Errorf("got %+q (lone %q)", *v, lone)
	}
}

// TestVersionInfoHostile breaks the tree and the VS_VERSIONINFO in the ways
// a hostile image might: each must give an error (for the version info
// only), never a panic or a hang.
func TestVersionInfoHostile(t *testing.T) {
	good := versionResource(map[string]map[string]string{"040904b0": {"CompanyName": "Contoso", "ProductName": "P"}}, "040904b0")
	cases := map[string]struct {
		rsrc    func() []byte
		partial bool // some strings read before the damage
		text    string
	}{
		"entry count": {func() []byte {
			rs := resourceSection(rsrcRVA, good)
			binary.LittleEndian.PutUint16(rs[14:], 0xFFFF)
			binary.LittleEndian.PutUint16(rs[12:], 0xFFFF)
			return rs
		}, false, "limit reached: resource directory entries"},
		"loop to the root": {func() []byte {
			rs := resourceSection(rsrcRVA, good)
			binary.LittleEndian.PutUint32(rs[20:], 0x80000000) // root -> root
			return rs
		}, false, "deeper than 3 levels"},
		"subdirectory outside": {func() []byte {
			rs := resourceSection(rsrcRVA, good)
			binary.LittleEndian.PutUint32(rs[20:], 0x80000000|0x7ffffff0)
			return rs
		}, false, "resource directory at +0x7ffffff0"},
		"data outside": {func() []byte {
			rs := resourceSection(rsrcRVA, good)
			binary.LittleEndian.PutUint32(rs[72:], 0xfffffff0)
			return rs
		}, false, "version resource"},
		"huge size": {func() []byte {
			rs := resourceSection(rsrcRVA, good)
			binary.LittleEndian.PutUint32(rs[76:], 0xffffffff)
			return rs
		}, false, "version resource"},
		"named entry with a bad name": {func() []byte {
			rs := resourceSection(rsrcRVA, good)
			binary.LittleEndian.PutUint16(rs[12:], 1)
			binary.LittleEndian.PutUint16(rs[14:], 0)
			binary.LittleEndian.PutUint32(rs[16:], 0x80000000|0x7fff0000)
			return rs
		}, false, "name at +0x7fff0000"},
		"root key": {func() []byte {
			bad := bytes.Clone(good)
			bad[6] = 'X'
			return resourceSection(rsrcRVA, bad)
		}, false, "root key"},
		"length past the data": {func() []byte {
			bad := bytes.Clone(good)
			binary.LittleEndian.PutUint16(bad, uint16(len(bad)+100))
			return resourceSection(rsrcRVA, bad)
		}, false, "does not fit"},
		"child length past its parent": {func() []byte {
			bad := bytes.Clone(good)
			i := bytes.Index(bad, utf16z("ProductName")) - 6
			binary.LittleEndian.PutUint16(bad[i:], 0x7000)
			return resourceSection(rsrcRVA, bad)
		}, true, "does not fit in its parent"},
		"key without terminator": {func() []byte {
			bad := bytes.Clone(good)
			i := bytes.Index(bad, utf16z("ProductName")) - 6
			binary.LittleEndian.PutUint16(bad[i:], 10) // header + 2 key units
			return resourceSection(rsrcRVA, bad)
		}, true, "key has no terminator"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := mustParse(t, imageWithResources(t, c.rsrc()))
			v, err := f.VersionInfo()
			if err == nil || !strings.Contains(err.Error(), c.text) {
				t.Fatalf("error %v, want one containing %q", err, c.text)
			}
			if c.partial {
				if v == nil || v.CompanyName != "Contoso" || v.Error == "" {
					t.Errorf("partial result %+v", v)
				}
			}
		})
	}
}

func TestVersionInfoCorpus(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "corpus", "byovd")
	paths, _ := filepath.Glob(filepath.Join(dir, "*.sys"))
	if len(paths) == 0 {
		t.Skip("no corpus at", dir)
	}
	withCompany := 0
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parse(data)
		if err != nil {
			continue
		}
		v, err := f.VersionInfo()
		if err != nil && !errors.Is(err, peimage.ErrNoVersionInfo) {
			t.Errorf("%s: %v", filepath.Base(p), err)
			continue
		}
		if v != nil && v.CompanyName != "" && v.FileVersion != "" {
			withCompany++
		}
	}
	if withCompany < len(paths)/2 {
		t.Errorf("only %d of %d drivers have CompanyName and FileVersion", withCompany, len(paths))
	}
	// A known one.
	data, err := os.ReadFile(filepath.Join(dir, "Ksapi64-Killer_ksapi64.sys"))
	if err != nil {
		return
	}
	v, err := mustParse(t, data).VersionInfo()
	if err != nil || v.CompanyName != "Kingsoft Corporation" || v.OriginalFilename != "ksapi.sys" || v.FileVersion != "2017,12,06,131" {
		t.Errorf("ksapi64.sys: %+v, %v", v, err)
	}
}

func FuzzVersionInfo(f *testing.F) {
	good := versionResource(map[string]map[string]string{"040904b0": {"CompanyName": "Contoso", "ProductName": "P"}}, "040904b0")
	f.Add(resourceSection(rsrcRVA, good))
	f.Add(resourceSection(rsrcRVA, good[:40]))
	f.Fuzz(func(t *testing.T, rsrc []byte) {
		if len(rsrc) > 1<<16 {
			return
		}
		data := imageWithResources(t, rsrc)
		fl, err := parse(data)
		if err != nil {
			return
		}
		fl.VersionInfo() // must not panic
	})
}
