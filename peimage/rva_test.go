package peimage_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hvcicheck/hvcicheck/internal/pebuild"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// TestSectionOfEdges checks which section holds the RVAs around the end of
// the driver's .text (VirtualSize 0x180, SizeOfRawData 0x200, next section
// at 0x2000): the extent is max(VirtualSize, SizeOfRawData), not the page.
func TestSectionOfEdges(t *testing.T) {
	_, f := buildParse(t, pebuild.Driver(pebuild.MachineAMD64))
	for rva, want := range map[uint32]string{
		0xfff: "", 0x1000: ".text", 0x117f: ".text", 0x1180: ".text", 0x11ff: ".text",
		0x1200: "", 0x1fff: "", 0x2000: ".rdata", 0x41ff: ".reloc", 0x4200: "", 0xffffffff: "",
	} {
		got := ""
		if s := f.SectionOf(rva); s != nil {
			got = s.Name
		}
		if got != want {
			t.Errorf("SectionOf(0x%x) = %q, want %q", rva, got, want)
		}
	}
}

// TestMappedSize checks the rounding of a section's size to an alignment.
func TestMappedSize(t *testing.T) {
	cases := []struct {
		vs, raw, align, want uint32
	}{
		{vs: 0x180, raw: 0x200, align: 0x1000, want: 0x1000},
		{vs: 0x1000, raw: 0x200, align: 0x1000, want: 0x1000},
		{vs: 0x1001, raw: 0, align: 0x1000, want: 0x2000},
		{vs: 0, raw: 0x200, align: 0x1000, want: 0x1000}, // no VirtualSize: the raw size
		{vs: 0x180, raw: 0x200, align: 0x80, want: 0x180},
		{vs: 0x181, raw: 0x200, align: 0x80, want: 0x200},
		{vs: 0x180, raw: 0x200, align: 0x1800, want: 0x180}, // not a power of two: as is
		{vs: 0x180, raw: 0x200, align: 0, want: 0x180},
		{vs: 0xfffff001, raw: 0, align: 0x1000, want: 0xfffff001}, // would wrap: as is
	}
	for _, c := range cases {
		s := peimage.Section{VirtualSize: c.vs, SizeOfRawData: c.raw}
		if got := s.MappedSize(c.align); got != c.want {
			t.Errorf("MappedSize(VirtualSize 0x%x, SizeOfRawData 0x%x, align 0x%x) = 0x%x, want 0x%x", c.vs, c.raw, c.align, got, c.want)
		}
	}
}

// TestReadRVA covers reads from the headers, a section's raw data, its
// zero-filled tail, across two sections and beyond the limit.
func TestReadRVA(t *testing.T) {
	out, f := buildParse(t, pebuild.Driver(pebuild.MachineAMD64))
	if b, err := f.ReadRVA(0, 2); err != nil || string(b) != "MZ" {
		t.Errorf("ReadRVA(0, 2) = %q, %v", b, err)
	}
	if b, err := f.ReadRVA(0x1000, 4); err != nil || !bytes.Equal(b, []byte{0xcc, 0xcc, 0xcc, 0xcc}) {
		t.Errorf("ReadRVA(.text) = %x, %v", b, err)
	}
	if b, err := f.ReadRVA(0x117e, 4); err != nil || !bytes.Equal(b, []byte{0xcc, 0xcc, 0, 0}) {
		t.Errorf("ReadRVA(end of .text's VirtualSize) = %x, %v", b, err)
	}
	_, err := f.ReadRVA(0x11fe, 4)
	wantErr(t, err, false, `4 bytes at RVA 0x11fe run past the end of section ".text"`)
	_, err = f.ReadRVA(out.SizeOfHeaders, 4)
	wantErr(t, err, false, "RVA 0x400 is in no section")
	_, err = f.ReadRVA(0x1000, 256<<20+1)
	var le *peimage.LimitError
	if !errors.As(err, &le) || le.What != "read size" {
		t.Errorf("a read over MaxReadBytes: %v", err)
	}
	if _, err = f.ReadRVA(0x1000, -1); !errors.As(err, &le) {
		t.Errorf("a negative read: %v", err)
	}
	if v, err := f.ReadU64(out.Imports.IAT.Start); err != nil || v == 0 {
		t.Errorf("ReadU64(IAT) = 0x%x, %v", v, err)
	}
	d, err := f.SectionData(&f.Sections[0])
	if err != nil || len(d) != 0x180 {
		t.Errorf("SectionData(.text) = %d bytes, %v", len(d), err)
	}
	// Into a reused, dirty buffer: the zero-filled tail is still zero.
	buf := bytes.Repeat([]byte{0xee}, 4)
	if err := f.ReadRVAInto(buf, 0x117e); err != nil || !bytes.Equal(buf, []byte{0xcc, 0xcc, 0, 0}) {
		t.Errorf("ReadRVAInto(end of .text's VirtualSize) = %x, %v", buf, err)
	}
	buf = bytes.Repeat([]byte{0xee}, 2)
	if err := f.ReadRVAInto(buf, 0x11f0); err != nil || !bytes.Equal(buf, []byte{0, 0}) {
		t.Errorf("ReadRVAInto(past .text's raw data) = %x, %v", buf, err)
	}
	app, err := f.AppendSectionData([]byte("prefix"), &f.Sections[0])
	if err != nil || string(app[:6]) != "prefix" || !bytes.Equal(app[6:], d) {
		t.Errorf("AppendSectionData(.text) = %d bytes, %v", len(app), err)
	}
}

// TestReadCString covers a terminated string, one running to the end of its
// section and one longer than MaxStringSize.
func TestReadCString(t *testing.T) {
	im := pebuild.Driver(pebuild.MachineAMD64)
	im.Sections = append(im.Sections,
		pebuild.Section{Name: "STR", VirtualAddress: 0x5000, Characteristics: pebuild.RData, Data: []byte(strings.Repeat("A", 0x200))})
	data := build(t, im).Bytes
	for _, c := range []struct {
		rva  uint32
		lim  peimage.Limits
		want string
		err  string
	}{
		{rva: 0x5000, err: "string at RVA 0x5000 has no terminator within 512 bytes"},
		{rva: 0x51ff, err: "string at RVA 0x51ff has no terminator within 1 bytes"},
		{rva: 0x5000, lim: peimage.Limits{MaxStringSize: 16}, err: "limit reached: length of the string at RVA 0x5000 exceeds 16"},
		{rva: 0x7000, err: "string at RVA 0x7000 is in no section"},
		{rva: 0x1180, want: ""}, // .text's zero-filled raw tail
		{rva: 0x117e, want: "\xcc\xcc"},
	} {
		f, err := peimage.Parse(bytesReader(data), int64(len(data)), c.lim)
		if err != nil {
			t.Fatal(err)
		}
		s, err := f.ReadCString(c.rva)
		if c.err != "" {
			wantErr(t, err, false, c.err)
		} else if err != nil || s != c.want {
			t.Errorf("ReadCString(0x%x) = %q, %v; want %q", c.rva, s, err, c.want)
		}
	}
}

// TestLongNames checks "/N" names resolved through the COFF string table,
// and those left alone: not a number, an offset inside the table's size
// field, a table past the end of the file.
func TestLongNames(t *testing.T) {
	im := pebuild.Driver(pebuild.MachineAMD64)
	im.Sections[0].Name, im.Sections[1].Name, im.Sections[2].Name = "/4", "/x", "/2"
	im.ImportSection = "/x"
	out := build(t, im)
	strtab := len(out.Bytes)
	out.Bytes = append(out.Bytes, "\x1a\x00\x00\x00.text$averylongname\x00"...)
	out.PutU32(out.FileHeader()+8, uint32(strtab))
	f := mustParse(t, out.Bytes)
	var got []string
	for _, s := range f.Sections {
		got = append(got, s.Name+"="+f.LongName(&s))
	}
	if want := []string{"/4=.text$averylongname", "/x=/x", "/2=/2", ".reloc=.reloc"}; !slices.Equal(got, want) {
		t.Errorf("names %q, want %q", got, want)
	}
	out.PutU32(out.FileHeader()+8, 0x7fffff00)
	if f := mustParse(t, out.Bytes); f.LongName(&f.Sections[0]) != "/4" {
		t.Errorf("a string table past the end of the file gave %q", f.LongName(&f.Sections[0]))
	}
}

// TestLongNamesNotRead: Parse leaves the string table alone; LongName
// reads it.
func TestLongNamesNotRead(t *testing.T) {
	im := pebuild.Driver(pebuild.MachineAMD64)
	im.Sections[0].Name = "/4"
	out := build(t, im)
	strtab := len(out.Bytes)
	out.Bytes = append(out.Bytes, "\x10\x00\x00\x00.debug_info\x00"...)
	out.PutU32(out.FileHeader()+8, uint32(strtab))
	r := &recordingReader{data: out.Bytes}
	f, err := peimage.Parse(r, int64(len(out.Bytes)), peimage.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if r.maxEnd > int64(strtab) {
		t.Errorf("Parse read up to 0x%x, into the string table at 0x%x", r.maxEnd, strtab)
	}
	if got := f.LongName(&f.Sections[0]); got != ".debug_info" {
		t.Errorf("LongName = %q", got)
	}
}

// recordingReader reads data and records the end of the farthest read.
type recordingReader struct {
	data   []byte
	maxEnd int64
}

func (r *recordingReader) ReadAt(p []byte, off int64) (int, error) {
	r.maxEnd = max(r.maxEnd, off+int64(len(p)))
	return bytesReader(r.data).ReadAt(p, off)
}

// TestVAToRVA checks the image-base arithmetic at the image's edges.
func TestVAToRVA(t *testing.T) {
	_, f := buildParse(t, pebuild.Driver(pebuild.MachineAMD64))
	base := f.Optional.ImageBase
	for va, want := range map[uint64]int64{
		base: 0, base + 0x1234: 0x1234, base + uint64(f.Optional.SizeOfImage) - 1: int64(f.Optional.SizeOfImage) - 1,
		base + uint64(f.Optional.SizeOfImage): -1, base - 1: -1, 0: -1,
	} {
		rva, ok := f.VAToRVA(va)
		if (want < 0) == ok || (ok && int64(rva) != want) {
			t.Errorf("VAToRVA(0x%x) = 0x%x, %v; want %d", va, rva, ok, want)
		}
	}
}

// pdataImage is an image for machine with an exception directory at 0x5000
// holding records (each 12 bytes on x64, 8 on ARM64) and, on ARM64, an
// .xdata record at 0x5800 whose FunctionLength is 0x40 words.
func pdataImage(machine uint16, records ...uint32) *pebuild.Image {
	im := pebuild.Driver(machine)
	data := make([]byte, 0x900)
	for i, v := range records {
		binary.LittleEndian.PutUint32(data[4*i:], v)
	}
	binary.LittleEndian.PutUint32(data[0x800:], 0x40)
	im.Sections = append(im.Sections, pebuild.Section{Name: ".pdata", VirtualAddress: 0x5000, Characteristics: pebuild.RData, Data: data})
	im.Directories[pebuild.DirException] = pebuild.DataDirectory{RVA: 0x5000, Size: uint32(4 * len(records))}
	return im
}

// TestRuntimeFunctions covers x64 records (sorted, invalid ones dropped),
// ARM64 packed and .xdata records, other machines and the limit.
func TestRuntimeFunctions(t *testing.T) {
	x64 := pdataImage(pebuild.MachineAMD64,
		0x1020, 0x1030, 0x5800, // out of order
		0x1000, 0x1010, 0x5800,
		0, 0x10, 0x5800, // no start
		0x1040, 0x1040, 0x5800, // empty
		0x1050) // a partial record
	arm64 := pdataImage(pebuild.MachineARM64,
		0x1100, 0x5800, // .xdata: 0x40 words
		0x1000, 5<<2|1, // packed: 5 words
		0x1200, 0<<2|1, // packed, length 0
		0xfffffff0, 0x7ff<<2|1) // packed, its end wraps past 4 GiB
	cases := []struct {
		name string
		im   *pebuild.Image
		lim  peimage.Limits
		want []peimage.RuntimeFunction
		err  string
	}{
		{name: "x64", im: x64, want: []peimage.RuntimeFunction{{Start: 0x1000, End: 0x1010, Primary: 0x1000}, {Start: 0x1020, End: 0x1030, Primary: 0x1020}}},
		{name: "arm64", im: arm64, want: []peimage.RuntimeFunction{{Start: 0x1000, End: 0x1014, Primary: 0x1000}, {Start: 0x1100, End: 0x1200, Primary: 0x1100}}},
		{name: "x86", im: pdataImage(pebuild.MachineI386, 0x1000, 0x1010, 0x5800)},
		{name: "limit", im: x64, lim: peimage.Limits{MaxFunctions: 3}, err: "limit reached: exception directory entries 4 exceeds 3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := build(t, c.im).Bytes
			f, err := peimage.Parse(bytesReader(data), int64(len(data)), c.lim)
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.RuntimeFunctions()
			if c.err != "" {
				wantErr(t, err, false, c.err)
			} else if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("functions %v, want %v", got, c.want)
			}
		})
	}
}

// TestClassify covers each way an image is classified.
func TestClassify(t *testing.T) {
	cases := []struct {
		subsystem, dllChars uint16
		dlls                []string
		name                string
		want                peimage.Kind
	}{
		{subsystem: 10, want: peimage.KindEFIApplication},
		{subsystem: 11, want: peimage.KindEFIDriver},
		{subsystem: 12, want: peimage.KindEFIDriver},
		{subsystem: 13, want: peimage.KindEFIROM},
		{subsystem: 3, name: "ntoskrnl.exe", want: peimage.KindKernelDriver},
		{subsystem: 3, name: "HAL.DLL", want: peimage.KindKernelDriver},
		{subsystem: 3, dlls: []string{"kernel32.dll", "NTOSKRNL.exe"}, want: peimage.KindKernelDriver},
		{subsystem: 3, dllChars: 0x2000, want: peimage.KindKernelDriver},
		{subsystem: 1, dlls: []string{"ntdll.dll"}, name: "smss.exe", want: peimage.KindNativeUser},
		{subsystem: 1, dlls: []string{"ntdll.dll"}, name: "winebus.sys", want: peimage.KindKernelDriver},
		{subsystem: 1, want: peimage.KindKernelDriver},
		{subsystem: 2, dlls: []string{"user32.dll"}, name: "app.exe", want: peimage.KindUserMode},
	}
	for _, c := range cases {
		im := pebuild.Driver(pebuild.MachineAMD64)
		im.Subsystem, im.DllCharacteristics = c.subsystem, c.dllChars
		_, f := buildParse(t, im)
		if got := f.Classify(c.dlls, c.name); got != c.want {
			t.Errorf("Classify(subsystem %d, dllchars 0x%x, %q, %q) = %s, want %s", c.subsystem, c.dllChars, c.dlls, c.name, got, c.want)
		}
	}
}

// TestMachineName checks the short machine names.
func TestMachineName(t *testing.T) {
	for m, want := range map[uint16]string{0x8664: "x64", 0x14c: "x86", 0xaa64: "arm64", 0x1c4: "arm", 0x1c0: "arm", 0x200: "ia64", 0xebc: "ebc", 0x5064: "riscv64", 0x1234: "0x1234"} {
		if got := peimage.MachineName(m); got != want {
			t.Errorf("MachineName(0x%x) = %q, want %q", m, got, want)
		}
	}
}
