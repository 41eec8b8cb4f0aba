package peimage_test

import (
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/hvcicheck/hvcicheck/internal/pebuild"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// importCase is a driver broken after building and what Imports must return
// for it: the DLLs with their function counts, and the error.
type importCase struct {
	name  string
	image *pebuild.Image // nil: pebuild.Driver(AMD64)
	patch func(o *pebuild.Output)
	lim   peimage.Limits
	dlls  []dllCount
	err   string // "" for none
	limit bool   // the error is a LimitError
}

// dllCount is one DLL and how many functions were read from it.
type dllCount struct {
	name string
	n    int
}

// Offsets of an import descriptor's fields.
const (
	descILT  = 0
	descName = 12
	descIAT  = 16
)

// putDesc writes field of import descriptor i of o.
func putDesc(o *pebuild.Output, i int, field, v uint32) {
	o.PutRVA32(o.Imports.Descriptors+uint32(20*i)+field, v)
}

// TestImportsMalformed covers import descriptors, names and lookup tables
// outside every section, and tables that never end.
func TestImportsMalformed(t *testing.T) {
	full := []dllCount{{"ntoskrnl.exe", 3}, {"HAL.dll", 1}}
	runImportCases(t, []importCase{
		{name: "well formed", dlls: full},
		{
			name:  "directory outside every section",
			patch: func(o *pebuild.Output) { o.PutU32(o.Directory(pebuild.DirImport), 0x900000) },
			err:   "import descriptor 0: RVA 0x900000 is in no section",
		},
		{
			name:  "DLL name outside every section",
			patch: func(o *pebuild.Output) { putDesc(o, 0, descName, 0x900000) },
			err:   "import descriptor 0 name: string at RVA 0x900000 is in no section",
		},
		{
			name:  "lookup table outside every section",
			patch: func(o *pebuild.Output) { putDesc(o, 1, descILT, 0x900000) },
			dlls:  []dllCount{{"ntoskrnl.exe", 3}, {"HAL.dll", 0}},
			err:   "import lookup table of HAL.dll: RVA 0x900000 is in no section",
		},
		{
			name: "no lookup table, IAT outside every section",
			patch: func(o *pebuild.Output) {
				putDesc(o, 0, descILT, 0)
				putDesc(o, 0, descIAT, 0x900000)
			},
			dlls: []dllCount{{"ntoskrnl.exe", 0}},
			err:  "import lookup table of ntoskrnl.exe: RVA 0x900000 is in no section",
		},
		{
			name:  "hint/name entry outside every section",
			patch: func(o *pebuild.Output) { o.PutRVA32(o.Imports.OriginalFirstThunks[0], 0x900000) },
			dlls:  []dllCount{{"ntoskrnl.exe", 0}},
			err:   "import 0 of ntoskrnl.exe: string at RVA 0x900002 is in no section",
		},
		{
			name:  "lookup table without terminator",
			image: withThunkSection(), patch: pointILTAtThunks,
			dlls: []dllCount{{"ntoskrnl.exe", 64}},
			err:  "import lookup table of ntoskrnl.exe: RVA 0x5200 is in no section",
		},
		{
			name:  "lookup table without terminator, limited",
			image: withThunkSection(), patch: pointILTAtThunks, lim: peimage.Limits{MaxImports: 10},
			dlls: []dllCount{{"ntoskrnl.exe", 10}},
			err:  "limit reached: imported functions exceeds 10", limit: true,
		},
		{
			name:  "descriptor array without terminator",
			image: withDescriptorSection(), patch: pointImportsAtDescriptors,
			dlls: slices.Repeat([]dllCount{{"ntoskrnl.exe", 0}}, 25),
			err:  `import descriptor 25: 20 bytes at RVA 0x51f4 run past the end of section "DESC"`,
		},
		{
			name:  "descriptor array without terminator, limited",
			image: withDescriptorSection(), patch: pointImportsAtDescriptors, lim: peimage.Limits{MaxImports: 7},
			dlls: slices.Repeat([]dllCount{{"ntoskrnl.exe", 0}}, 7),
			err:  "limit reached: import descriptors exceeds 7", limit: true,
		},
	})
}

func runImportCases(t *testing.T, cases []importCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			im := c.image
			if im == nil {
				im = pebuild.Driver(pebuild.MachineAMD64)
			}
			data := patched(im, c.patch)(t)
			f, err := peimage.Parse(bytesReader(data), int64(len(data)), c.lim)
			if err != nil {
				t.Fatal(err)
			}
			dlls, err := f.Imports()
			var got []dllCount
			for _, d := range dlls {
				got = append(got, dllCount{d.Name, len(d.Functions)})
			}
			if !slices.Equal(got, c.dlls) {
				t.Errorf("DLLs %v, want %v", got, c.dlls)
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

// withThunkSection is the x64 driver with a section THUNKS at 0x5000 that
// is 0x200 bytes of ordinal thunks, mapped no larger than its raw data, so
// a lookup table there never meets a zero entry.
func withThunkSection() *pebuild.Image {
	data := make([]byte, 0x200)
	for i := 0; i < len(data); i += 8 {
		binary.LittleEndian.PutUint64(data[i:], 1<<63|uint64(i/8+1))
	}
	return withImage(pebuild.MachineAMD64, func(im *pebuild.Image) {
		im.Sections = append(im.Sections, pebuild.Section{Name: "THUNKS", VirtualAddress: 0x5000, Characteristics: pebuild.RData, Data: data})
	})
}

func pointILTAtThunks(o *pebuild.Output) { putDesc(o, 0, descILT, 0x5000) }

// withDescriptorSection is the x64 driver with a section DESC at 0x5000
// filled with copies of one descriptor, for ntoskrnl.exe with an empty
// lookup table (in the zero-filled tail of .data).
func withDescriptorSection() *pebuild.Image {
	im := pebuild.Driver(pebuild.MachineAMD64)
	layout, err := pebuild.Driver(pebuild.MachineAMD64).Build()
	if err != nil {
		panic(err)
	}
	data := make([]byte, 0x200)
	for i := 0; i+20 <= len(data); i += 20 {
		binary.LittleEndian.PutUint32(data[i+descILT:], 0x3f00)
		binary.LittleEndian.PutUint32(data[i+descName:], layout.Imports.Names[0])
		binary.LittleEndian.PutUint32(data[i+descIAT:], 0x3f00)
	}
	im.Sections = append(im.Sections, pebuild.Section{Name: "DESC", VirtualAddress: 0x5000, Characteristics: pebuild.RData, Data: data})
	im.Sections[2].VirtualSize = 0x1000
	return im
}

func pointImportsAtDescriptors(o *pebuild.Output) { o.PutU32(o.Directory(pebuild.DirImport), 0x5000) }

// TestIATRanges covers both sources of the IAT ranges and a directory
// whose end passes 4 GiB.
func TestIATRanges(t *testing.T) {
	cases := []struct {
		name    string
		dir     peimage.DataDirectory // written over directory 12 where not zero
		noDir   bool
		want    []peimage.Range
		fromDir bool
	}{
		{name: "directory", want: []peimage.Range{{Start: 0x2040, End: 0x2070}}, fromDir: true},
		{name: "descriptors", noDir: true, want: []peimage.Range{{Start: 0x2040, End: 0x2060}, {Start: 0x2060, End: 0x2070}}},
		{name: "just past a section", dir: peimage.DataDirectory{RVA: 0x1fff, Size: 8}, want: []peimage.Range{{Start: 0x1fff, End: 0x2007}}, fromDir: true},
		{
			// The end saturates instead of wrapping below the start.
			name: "end past 4 GiB", dir: peimage.DataDirectory{RVA: 0xfffffff0, Size: 0x20},
			want: []peimage.Range{{Start: 0xfffffff0, End: 0xffffffff}}, fromDir: true,
		},
		{name: "RVA without size", dir: peimage.DataDirectory{RVA: 0x2040}, want: []peimage.Range{{Start: 0x2040, End: 0x2060}, {Start: 0x2060, End: 0x2070}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			im := pebuild.Driver(pebuild.MachineAMD64)
			im.NoIATDirectory = c.noDir
			if c.dir != (peimage.DataDirectory{}) {
				im.Directories[pebuild.DirIAT] = pebuild.DataDirectory{RVA: c.dir.RVA, Size: c.dir.Size}
			}
			_, f := buildParse(t, im)
			got, fromDir, err := f.IATRanges()
			if err != nil || fromDir != c.fromDir || !slices.Equal(got, c.want) {
				t.Errorf("IATRanges() = %v, %v, %v; want %v, %v, nil", got, fromDir, err, c.want, c.fromDir)
			}
		})
	}
}

// TestImportSlots checks the IAT slot of every function, by ordinal and by
// name, for both pointer sizes.
func TestImportSlots(t *testing.T) {
	for _, m := range []uint16{pebuild.MachineAMD64, pebuild.MachineI386} {
		out, f := buildParse(t, pebuild.Driver(m))
		dlls, err := f.Imports()
		if err != nil {
			t.Fatal(err)
		}
		ptr := uint32(4)
		if f.Is64() {
			ptr = 8
		}
		var got, want []peimage.ImportedFunction
		for _, d := range dlls {
			got = append(got, d.Functions...)
		}
		iat := out.Imports.FirstThunks
		want = []peimage.ImportedFunction{
			{DLL: "ntoskrnl.exe", Name: "IoCreateDevice", SlotRVA: iat[0]},
			{DLL: "ntoskrnl.exe", Name: "ExAllocatePoolWithTag", SlotRVA: iat[0] + ptr},
			{DLL: "ntoskrnl.exe", Ordinal: 17, ByOrdinal: true, SlotRVA: iat[0] + 2*ptr},
			{DLL: "HAL.dll", Name: "KeStallExecutionProcessor", SlotRVA: iat[1]},
		}
		if !slices.Equal(got, want) {
			t.Errorf("machine 0x%x: functions\n%+v\nwant\n%+v", m, got, want)
		}
		if dlls[0].FirstThunk != iat[0] || dlls[0].OriginalFirstThunk != out.Imports.OriginalFirstThunks[0] {
			t.Errorf("machine 0x%x: descriptor %+v", m, dlls[0])
		}
	}
}
