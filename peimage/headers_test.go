package peimage_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/hvcicheck/hvcicheck/internal/pebuild"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// headerCase is one hand-built or hand-broken input to Parse and exactly
// what Parse must make of it.
type headerCase struct {
	name  string
	input func(t testing.TB) []byte
	lim   peimage.Limits

	// err is a substring of the expected error ("" when Parse must
	// succeed); notPE says whether that error wraps ErrNotPE.
	err   string
	notPE bool

	// On success: the exact anomalies and section names, and more checks.
	anomalies []string
	sections  []string
	check     func(t *testing.T, f *peimage.File)
}

// driverSections are the section names of pebuild.Driver.
var driverSections = []string{".text", ".rdata", ".data", ".reloc"}

// image returns an input that is im, built.
func image(im *pebuild.Image) func(testing.TB) []byte {
	return patched(im, nil)
}

// driver returns an input that is pebuild.Driver(machine), built.
func driver(machine uint16) func(testing.TB) []byte {
	return image(pebuild.Driver(machine))
}

// patched returns an input that is im, built and then changed by patch.
func patched(im *pebuild.Image, patch func(o *pebuild.Output)) func(testing.TB) []byte {
	return func(t testing.TB) []byte {
		out := build(t, im)
		if patch != nil {
			patch(out)
		}
		return out.Bytes
	}
}

// truncated returns an input that is pebuild.Driver(AMD64) cut to n bytes.
func truncated(n int) func(testing.TB) []byte {
	return func(t testing.TB) []byte {
		return build(t, pebuild.Driver(pebuild.MachineAMD64)).Bytes[:n]
	}
}

// raw returns an input that is b.
func raw(b []byte) func(testing.TB) []byte {
	return func(testing.TB) []byte { return b }
}

// withImage returns pebuild.Driver(machine) changed by edit.
func withImage(machine uint16, edit func(im *pebuild.Image)) *pebuild.Image {
	im := pebuild.Driver(machine)
	edit(im)
	return im
}

func runHeaderCases(t *testing.T, cases []headerCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := c.input(t)
			f, err := peimage.Parse(bytesReader(data), int64(len(data)), c.lim)
			if c.err != "" {
				wantErr(t, err, c.notPE, c.err)
				if f != nil {
					t.Fatalf("Parse returned a file with its error")
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !slices.Equal(f.Anomalies, c.anomalies) {
				t.Errorf("anomalies %q, want %q", f.Anomalies, c.anomalies)
			}
			if got := sectionNames(f); (c.check == nil || c.sections != nil) && !slices.Equal(got, c.sections) {
				t.Errorf("sections %q, want %q", got, c.sections)
			}
			if c.check != nil {
				c.check(t, f)
			}
		})
	}
}

// TestParseNotPE covers inputs that are no PE image at all: each must be
// reported as such (ErrNotPE), never parsed or called clean.
func TestParseNotPE(t *testing.T) {
	elf := append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 57)...)
	runHeaderCases(t, []headerCase{
		{name: "empty file", input: raw(nil), err: "no MZ header", notPE: true},
		{name: "one byte", input: raw([]byte("M")), err: "no MZ header", notPE: true},
		{name: "MZ only", input: raw([]byte("MZ")), err: "the file ends inside the DOS header (2 bytes)", notPE: true},
		{name: "ELF", input: raw(elf), err: "no MZ header", notPE: true},
		{name: "NE executable", input: raw(dosWith(0x40, "NE\x05\x0a")), err: "an NE (16-bit) executable at offset 0x40", notPE: true},
		{name: "LE executable", input: raw(dosWith(0x40, "LE\x00\x00")), err: "an LE/LX executable at offset 0x40", notPE: true},
		{name: "LX executable", input: raw(dosWith(0x40, "LX\x00\x00")), err: "an LE/LX executable at offset 0x40", notPE: true},
		{name: "DOS program", input: raw(dosWith(0x40, "\xb8\x01\x4c\xcd")), err: "no PE signature at offset 0x40", notPE: true},
		{name: "PE signature without NULs", input: raw(dosWith(0x40, "PE\x01\x00")), err: "no PE signature at offset 0x40", notPE: true},
		{name: "e_lfanew zero", input: raw(dosWith(0, "")), err: "e_lfanew 0x0 points outside the file", notPE: true},
		{name: "e_lfanew past the end", input: raw(dosWith(0xfffffff0, "")), err: "e_lfanew 0xfffffff0 points outside the file", notPE: true},
		{name: "random bytes", input: raw(randomBytes(4096, false)), err: "no MZ header", notPE: true},
		{name: "ELF over MaxFileSize", input: raw(elf), lim: peimage.Limits{MaxFileSize: 10}, err: "no MZ header", notPE: true},
		{name: "random bytes after MZ", input: raw(randomBytes(4096, true)), err: "no PE signature at offset 0x100", notPE: true},
	})
}

// dosWith returns a 64-byte MZ header whose e_lfanew is lfanew, followed by
// sig at offset 0x40 (where sig is not empty).
func dosWith(lfanew uint32, sig string) []byte {
	b := make([]byte, 64, 64+len(sig))
	copy(b, "MZ")
	b[0x3c], b[0x3d], b[0x3e], b[0x3f] = byte(lfanew), byte(lfanew>>8), byte(lfanew>>16), byte(lfanew>>24)
	return append(b, sig...)
}

// randomBytes returns n deterministic random bytes, starting with "MZ" and
// with e_lfanew 0x100 where mz is set, and never starting with "MZ" else.
func randomBytes(n int, mz bool) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	b[0] = 0
	if mz {
		copy(b, "MZ")
		copy(b[0x3c:], "\x00\x01\x00\x00")
	}
	return b
}

// TestParseTruncated cuts a well-formed x64 driver at every interesting
// offset: each cut must give the error (or the anomalies) of the structure
// it cuts.
func TestParseTruncated(t *testing.T) {
	out := build(t, pebuild.Driver(pebuild.MachineAMD64))
	table := out.SectionTable
	runHeaderCases(t, []headerCase{
		{name: "inside the DOS header", input: truncated(0x3e), err: "the file ends inside the DOS header (62 bytes)", notPE: true},
		{name: "at the end of the DOS header", input: truncated(0x40), err: "e_lfanew 0x80 points outside the file", notPE: true},
		{name: "inside the PE signature", input: truncated(0x83), err: "e_lfanew 0x80 points outside the file", notPE: true},
		{name: "after the PE signature", input: truncated(0x84), err: "file header: 20 bytes at offset 0x84 lie outside the 132-byte file"},
		{name: "inside the file header", input: truncated(0x97), err: "file header: 20 bytes at offset 0x84 lie outside the 151-byte file"},
		{name: "after the file header", input: truncated(0x98), err: "optional header (240 bytes at 0x98) runs past the end of the file"},
		{name: "inside the optional header", input: truncated(table - 1), err: "optional header (240 bytes at 0x98) runs past the end of the file"},
		{
			name: "after the optional header", input: truncated(table),
			anomalies: []string{"the file header claims 4 sections but the file holds only 0 section headers", "the image has no sections"},
		},
		{
			name: "inside the third section header", input: truncated(table + 2*40 + 20),
			anomalies: []string{"the file header claims 4 sections but the file holds only 2 section headers"},
			sections:  driverSections[:2],
		},
		{
			name: "after the headers", input: truncated(int(out.SizeOfHeaders)),
			sections: driverSections,
			check: func(t *testing.T, f *peimage.File) {
				_, err := f.SectionData(&f.Sections[0])
				wantErr(t, err, false, `section ".text" raw data at 0x400 lies outside the file`)
				dlls, err := f.Imports()
				wantErr(t, err, false, `import descriptor 0: section ".rdata" raw data at 0x600 lies outside the file`)
				if len(dlls) != 0 {
					t.Errorf("imports %v from a file without raw data", dlls)
				}
			},
		},
		{
			name: "inside the import data", input: truncated(importCut(t, out)),
			sections: driverSections,
			check: func(t *testing.T, f *peimage.File) {
				dlls, err := f.Imports()
				wantErr(t, err, false, `import descriptor 0 name: section ".rdata" raw data at 0x600 lies outside the file`)
				if len(dlls) != 0 {
					t.Errorf("imports %v from a cut import table", dlls)
				}
			},
		},
	})
}

// importCut is the file offset just past the first import descriptor of a
// built driver: its DLL name lies beyond.
func importCut(t testing.TB, out *pebuild.Output) int {
	off, ok := out.Offset(out.Imports.Descriptors)
	if !ok {
		t.Fatal("import descriptors have no raw data")
	}
	return off + 20
}

// TestParseOptionalHeader covers optional headers that are short, of an
// unknown kind, or whose magic does not fit the machine.
func TestParseOptionalHeader(t *testing.T) {
	x64 := pebuild.Driver(pebuild.MachineAMD64)
	x86 := pebuild.Driver(pebuild.MachineI386)
	setSOH := func(n uint16) func(o *pebuild.Output) {
		return func(o *pebuild.Output) { o.PutU16(o.FileHeader()+16, n) }
	}
	runHeaderCases(t, []headerCase{
		{
			name: "PE32+ on x64", input: driver(pebuild.MachineAMD64), sections: driverSections,
			check: wantImports(true, 3, 1),
		},
		{
			name: "PE32 on x86", input: driver(pebuild.MachineI386), sections: driverSections,
			check: wantImports(false, 3, 1),
		},
		{
			name:      "PE32 on x64",
			input:     image(withImage(pebuild.MachineAMD64, func(im *pebuild.Image) { im.Magic = pebuild.MagicPE32 })),
			anomalies: []string{"optional header magic 0x10b does not match machine x64"},
			sections:  driverSections,
			check:     wantImports(false, 3, 1), // the layout the magic describes: 4-byte thunks
		},
		{
			name:      "PE32+ on x86",
			input:     image(withImage(pebuild.MachineI386, func(im *pebuild.Image) { im.Magic = pebuild.MagicPE32Plus })),
			anomalies: []string{"optional header magic 0x20b does not match machine x86"},
			sections:  driverSections,
			check:     wantImports(true, 3, 1),
		},
		{
			name:      "PE32 on arm64",
			input:     image(withImage(pebuild.MachineARM64, func(im *pebuild.Image) { im.Magic = pebuild.MagicPE32 })),
			anomalies: []string{"optional header magic 0x10b does not match machine arm64"},
			sections:  driverSections,
		},
		{
			name:     "PE32 on an unknown machine",
			input:    image(withImage(0x1234, func(im *pebuild.Image) {})),
			sections: driverSections,
		},
		{name: "ROM magic", input: image(withImage(pebuild.MachineI386, func(im *pebuild.Image) { im.Magic = 0x107 })), err: "unknown optional header magic 0x107"},
		{name: "no optional header", input: patched(x64, setSOH(0)), err: "optional header is missing (SizeOfOptionalHeader 0)"},
		{name: "short PE32", input: patched(x86, setSOH(90)), err: "PE32 optional header too short: 90 bytes"},
		{name: "short PE32+", input: patched(x64, setSOH(100)), err: "PE32+ optional header too short: 100 bytes"},
		{name: "huge optional header", input: patched(x64, setSOH(0xffff)), err: "optional header (65535 bytes at 0x98) runs past the end of the file"},
		{
			name: "file larger than MaxFileSize", input: driver(pebuild.MachineAMD64),
			lim: peimage.Limits{MaxFileSize: 1000}, err: "limit reached: file size 3072 exceeds 1000",
		},
	})
}

// wantImports checks the pointer size and the function counts per DLL.
func wantImports(is64 bool, counts ...int) func(t *testing.T, f *peimage.File) {
	return func(t *testing.T, f *peimage.File) {
		if f.Is64() != is64 {
			t.Errorf("Is64 = %v, want %v", f.Is64(), is64)
		}
		dlls, err := f.Imports()
		if err != nil {
			t.Fatalf("imports: %v", err)
		}
		var got []int
		for _, d := range dlls {
			got = append(got, len(d.Functions))
		}
		if !slices.Equal(got, counts) {
			t.Errorf("functions per DLL %v, want %v", got, counts)
		}
	}
}

// TestParseDataDirectoryCount covers NumberOfRvaAndSizes other than 16 and
// optional headers too small for the count they claim. Entries past the
// count are not read (the loader ignores them), so the IAT directory of a
// 12-entry array is empty and its readers fall back to the descriptors.
func TestParseDataDirectoryCount(t *testing.T) {
	count := func(n uint32, slots int) *pebuild.Image {
		return withImage(pebuild.MachineAMD64, func(im *pebuild.Image) {
			im.NumberOfRvaAndSizes, im.DirectorySlots = n, slots
		})
	}
	runHeaderCases(t, []headerCase{
		{
			name: "12 entries in room for 16", input: image(count(12, 16)),
			anomalies: []string{"data-directory array has 12 entries (16 expected)"},
			sections:  driverSections, check: wantDirectories(12, false),
		},
		{
			name: "12 entries in room for 12", input: image(count(12, 12)),
			anomalies: []string{"data-directory array has 12 entries (16 expected)"},
			sections:  driverSections, check: wantDirectories(12, false),
		},
		{
			name: "16 claimed in room for 10", input: image(count(16, 10)),
			anomalies: []string{"NumberOfRvaAndSizes is 16 but the optional header holds only 10 entries"},
			sections:  driverSections, check: wantDirectories(10, false),
		},
		{
			name: "13 claimed in room for 12", input: image(count(13, 12)),
			anomalies: []string{
				"NumberOfRvaAndSizes is 13 but the optional header holds only 12 entries",
				"data-directory array has 13 entries (16 expected)",
			},
			sections: driverSections, check: wantDirectories(12, false),
		},
		{
			name: "0xffffffff entries in room for 16", input: image(count(0xffffffff, 16)),
			anomalies: []string{"data-directory array has 4294967295 entries (16 expected)"},
			sections:  driverSections, check: wantDirectories(16, true),
		},
		{
			name: "no entries", input: image(count(1, 1)), // the builder's 0 means 16
			anomalies: []string{"data-directory array has 1 entries (16 expected)"},
			sections:  driverSections,
			check: func(t *testing.T, f *peimage.File) {
				if dlls, err := f.Imports(); dlls != nil || err != nil {
					t.Errorf("Imports() = %v, %v without an import directory", dlls, err)
				}
				if r, _, err := f.IATRanges(); r != nil || err != nil {
					t.Errorf("IATRanges() = %v, %v without an import directory", r, err)
				}
			},
		},
	})
}

// wantDirectories checks DirectoryCount and where the IAT ranges come from.
func wantDirectories(n int, iatFromDir bool) func(t *testing.T, f *peimage.File) {
	return func(t *testing.T, f *peimage.File) {
		if f.Optional.DirectoryCount != n {
			t.Errorf("DirectoryCount %d, want %d", f.Optional.DirectoryCount, n)
		}
		for i := n; i < 16; i++ {
			if d := f.Optional.DataDirectories[i]; d != (peimage.DataDirectory{}) {
				t.Errorf("directory %d beyond the count was read: %+v", i, d)
			}
		}
		r, fromDir, err := f.IATRanges()
		if err != nil || fromDir != iatFromDir {
			t.Fatalf("IATRanges: fromDirectory %v (want %v), err %v", fromDir, iatFromDir, err)
		}
		// The driver's IAT: ntoskrnl.exe's 3+1 slots, then HAL.dll's 1+1.
		want := []peimage.Range{{Start: 0x2040, End: 0x2060}, {Start: 0x2060, End: 0x2070}}
		if fromDir {
			want = []peimage.Range{{Start: 0x2040, End: 0x2070}}
		}
		if !slices.Equal(r, want) {
			t.Errorf("IAT ranges %v, want %v", r, want)
		}
	}
}

// TestParseSectionTable covers section tables that are empty, shorter than
// claimed, huge, or hold odd names.
func TestParseSectionTable(t *testing.T) {
	claim := func(n int) *pebuild.Image {
		return withImage(pebuild.MachineAMD64, func(im *pebuild.Image) { im.NumberOfSections = n })
	}
	runHeaderCases(t, []headerCase{
		{name: "zero sections", input: image(&pebuild.Image{}), anomalies: []string{"the image has no sections"}},
		{
			name:      "zero sections claimed, four present",
			input:     patched(pebuild.Driver(pebuild.MachineAMD64), func(o *pebuild.Output) { o.PutU16(o.FileHeader()+2, 0) }),
			anomalies: []string{"the image has no sections"},
		},
		{
			// The table is read up to the end of the file: headers 4 to 66
			// come from the header padding and the sections' raw data.
			name: "more sections claimed than the file holds", input: image(claim(512)),
			anomalies: []string{"the file header claims 512 sections but the file holds only 67 section headers"},
			check:     wantTableToEOF(67),
		},
		{name: "huge NumberOfSections", input: image(claim(0xffff)), err: "limit reached: section count 65535 exceeds 4096"},
		{
			name: "huge NumberOfSections under a raised limit", input: image(claim(0xffff)),
			lim:       peimage.Limits{MaxSections: 0x10000},
			anomalies: []string{"the file header claims 65535 sections but the file holds only 67 section headers"},
			check:     wantTableToEOF(67),
		},
		{
			name: "empty and full-length names",
			input: image(withImage(pebuild.MachineAMD64, func(im *pebuild.Image) {
				im.Sections[0].Name, im.Sections[2].Name = "", "DATA5678"
			})),
			sections: []string{"", ".rdata", "DATA5678", ".reloc"},
		},
		{
			name: "raw data outside the file",
			input: image(withImage(pebuild.MachineAMD64, func(im *pebuild.Image) {
				s := &im.Sections[0]
				s.PointerToRawData, s.SizeOfRawData, s.VirtualSize = 0x100000, 0x200, 0x400
			})),
			sections: driverSections,
			check: func(t *testing.T, f *peimage.File) {
				_, err := f.SectionData(&f.Sections[0])
				wantErr(t, err, false, `section ".text" raw data at 0x100000 lies outside the file`)
				if b, err := f.ReadRVA(0x1200, 0x10); err != nil || !slices.Equal(b, make([]byte, 0x10)) {
					t.Errorf("the zero-filled tail past the raw data: %v, %v", b, err)
				}
			},
		},
	})
}

// wantTableToEOF checks a section table read up to the end of the file:
// n headers, the driver's four first, each name the 8 bytes at its header's
// offset (header padding and raw data) less trailing NULs.
func wantTableToEOF(n int) func(t *testing.T, f *peimage.File) {
	return func(t *testing.T, f *peimage.File) {
		names := sectionNames(f)
		if len(names) != n || !slices.Equal(names[:4], driverSections) {
			t.Fatalf("sections %q, want %d starting with %q", names, n, driverSections)
		}
		data := build(t, pebuild.Driver(pebuild.MachineAMD64)).Bytes
		for i, s := range f.Sections {
			want := strings.TrimRight(string(data[s.HeaderOffset:s.HeaderOffset+8]), "\x00")
			if s.Index != i || s.HeaderOffset != f.SectionTableOffset+int64(40*i) || s.Name != want {
				t.Errorf("section %d: index %d, header at 0x%x, name %q (want %q)", i, s.Index, s.HeaderOffset, s.Name, want)
			}
		}
		if names[4] != "" || names[16] != strings.Repeat("\xcc", 8) {
			t.Errorf("section 4 is %q (header padding), 16 is %q (.text's raw data)", names[4], names[16])
		}
	}
}

// TestSectionLimitError checks that a huge section count is a LimitError.
func TestSectionLimitError(t *testing.T) {
	_, err := parse(build(t, withImage(pebuild.MachineAMD64, func(im *pebuild.Image) { im.NumberOfSections = 5000 })).Bytes)
	var le *peimage.LimitError
	if !errors.As(err, &le) || le.What != "section count" || le.Got != 5000 || le.Limit != 4096 {
		t.Fatalf("error %v, want a section-count LimitError", err)
	}
}
