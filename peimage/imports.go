package peimage

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// ImportedDLL is one import descriptor: a DLL and the functions taken from it.
type ImportedDLL struct {
	Name string
	// FirstThunk is the RVA of this DLL's IAT slots (the loader fills them).
	FirstThunk uint32
	// OriginalFirstThunk is the RVA of the import lookup table (0 when the
	// image has none and the names are read from the IAT itself).
	OriginalFirstThunk uint32
	Functions          []ImportedFunction
}

// ImportedFunction is one imported symbol and the IAT slot the loader
// writes its address into.
type ImportedFunction struct {
	DLL     string
	Name    string // empty for an import by ordinal
	Ordinal uint16 // valid when ByOrdinal
	// ByOrdinal is set for an import by ordinal.
	ByOrdinal bool
	// SlotRVA is the RVA of the IAT slot (pointer-sized) holding the address.
	SlotRVA uint32
}

// Imports parses the import directory (data directory 1). It returns the
// descriptors read before any error together with that error, so a damaged
// late descriptor costs only itself.
func (f *File) Imports() ([]ImportedDLL, error) {
	var dlls []ImportedDLL
	total := 0
	err := f.eachDescriptor(func(name string, ilt, iat uint32) error {
		dll := ImportedDLL{Name: name, FirstThunk: iat, OriginalFirstThunk: ilt}
		err := f.readThunks(&dll, &total)
		dlls = append(dlls, dll)
		return err
	})
	return dlls, err
}

// ImportedDLLNames reads only the names of the imported DLLs (what image
// classification needs), not their functions.
func (f *File) ImportedDLLNames() ([]string, error) {
	var names []string
	err := f.eachDescriptor(func(name string, _, _ uint32) error {
		names = append(names, name)
		return nil
	})
	return names, err
}

// eachDescriptor calls visit with each import descriptor's DLL name, lookup
// table and IAT RVAs, until the all-zero terminator, an error, or the
// MaxImports limit.
func (f *File) eachDescriptor(visit func(name string, ilt, iat uint32) error) error {
	dir := f.Optional.DataDirectories[DirImport]
	if dir.RVA == 0 {
		return nil
	}
	var batch []byte // descriptors read ahead, from descriptor i on
	for i := 0; i < f.lim.MaxImports; i++ {
		if len(batch) < 20 {
			var err error
			if batch, err = f.readDescriptors(dir.RVA+uint32(20*i), f.lim.MaxImports-i); err != nil {
				return fmt.Errorf("import descriptor %d: %w", i, err)
			}
		}
		d := batch[:20]
		batch = batch[20:]
		ilt := binary.LittleEndian.Uint32(d[0:])
		nameRVA := binary.LittleEndian.Uint32(d[12:])
		iat := binary.LittleEndian.Uint32(d[16:])
		if ilt == 0 && nameRVA == 0 && iat == 0 {
			return nil
		}
		name, err := f.ReadCString(nameRVA)
		if err != nil {
			return fmt.Errorf("import descriptor %d name: %w", i, err)
		}
		if err := visit(name, ilt, iat); err != nil {
			return err
		}
	}
	return &LimitError{What: "import descriptors", Limit: int64(f.lim.MaxImports)}
}

// descriptorBatch is how many import descriptors are read at once, where
// the section holding them has room.
const descriptorBatch = 16

// readDescriptors reads the import descriptor at rva and up to
// descriptorBatch-1 more (never more than left) in one read, as many as
// lie in the file-backed bytes of the section that holds the first, with no
// section before it in the table overlapping them: the bytes each would
// read alone. An error is that of reading the first one alone.
func (f *File) readDescriptors(rva uint32, left int) ([]byte, error) {
	if n := f.descriptorRun(rva, min(descriptorBatch, left)); n > 1 {
		return f.ReadRVA(rva, 20*n)
	}
	return f.ReadRVA(rva, 20)
}

// descriptorRun returns how many of the n descriptors from rva can be read
// at once (see readDescriptors): 0 or 1 where only the first can.
func (f *File) descriptorRun(rva uint32, n int) int {
	s := f.SectionOf(rva)
	if s == nil || int64(s.PointerToRawData) >= f.size {
		return 0
	}
	delta := int64(rva - s.VirtualAddress)
	backed := min(int64(s.SizeOfRawData), f.size-int64(s.PointerToRawData))
	n = int(min(int64(n), max(backed-delta, 0)/20, f.lim.MaxReadBytes/20))
	end := uint64(rva) + 20*uint64(n)
	for i := range s.Index {
		o := &f.Sections[i]
		if start := uint64(o.VirtualAddress); start > uint64(rva) && start < end {
			end = start // a section before s in the table claims these bytes
		}
	}
	return int((end - uint64(rva)) / 20)
}

// readThunks reads one DLL's lookup table (or its IAT where there is none)
// and records each function with its IAT slot.
func (f *File) readThunks(dll *ImportedDLL, total *int) error {
	lookup := dll.OriginalFirstThunk
	if lookup == 0 {
		lookup = dll.FirstThunk
	}
	ptr := uint32(4)
	if f.Is64() {
		ptr = 8
	}
	for j := uint32(0); ; j++ {
		if *total >= f.lim.MaxImports {
			return &LimitError{What: "imported functions", Limit: int64(f.lim.MaxImports)}
		}
		thunk, err := f.readPointer(lookup + j*ptr)
		if err != nil {
			return fmt.Errorf("import lookup table of %s: %w", dll.Name, err)
		}
		if thunk == 0 {
			return nil
		}
		fn := ImportedFunction{DLL: dll.Name, SlotRVA: dll.FirstThunk + j*ptr}
		ordinalFlag := uint64(1) << (ptr*8 - 1)
		if thunk&ordinalFlag != 0 {
			fn.ByOrdinal = true
			fn.Ordinal = uint16(thunk)
		} else {
			name, err := f.ReadCString(uint32(thunk) + 2)
			if err != nil {
				return fmt.Errorf("import %d of %s: %w", j, dll.Name, err)
			}
			fn.Name = name
		}
		dll.Functions = append(dll.Functions, fn)
		*total++
	}
}

func (f *File) readPointer(rva uint32) (uint64, error) {
	if f.Is64() {
		return f.ReadU64(rva)
	}
	v, err := f.ReadU32(rva)
	return uint64(v), err
}

// IATRanges returns the RVA ranges of the import address table: data
// directory 12 where it is set, else the FirstThunk range of each import
// descriptor. fromDirectory says which source was used.
func (f *File) IATRanges() (ranges []Range, fromDirectory bool, err error) {
	if d := f.Optional.DataDirectories[DirIAT]; d.RVA != 0 && d.Size != 0 {
		return []Range{{Start: d.RVA, End: rangeEnd(d.RVA, d.Size)}}, true, nil
	}
	dlls, err := f.Imports()
	ptr := uint32(4)
	if f.Is64() {
		ptr = 8
	}
	for _, d := range dlls {
		if d.FirstThunk == 0 {
			continue
		}
		n := uint32(len(d.Functions)+1) * ptr
		ranges = append(ranges, Range{Start: d.FirstThunk, End: rangeEnd(d.FirstThunk, n)})
	}
	return ranges, false, err
}

// rangeEnd is start+size, saturated at 0xFFFFFFFF where it would wrap
// below start.
func rangeEnd(start, size uint32) uint32 {
	if start+size < start {
		return 0xFFFFFFFF
	}
	return start + size
}

// Range is a half-open RVA range [Start, End).
type Range struct{ Start, End uint32 }

// IsKernelModule reports whether name (an imported DLL) is a kernel-mode
// module: ntoskrnl, hal, the kernel's class and port drivers.
func IsKernelModule(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "ntoskrnl.exe", "ntkrnlpa.exe", "ntkrnlmp.exe", "ntkrpamp.exe", "hal.dll", "wdfldr.sys", "fltmgr.sys",
		"ndis.sys", "storport.sys", "scsiport.sys", "ataport.sys", "ks.sys", "ksecdd.sys", "cng.sys", "netio.sys",
		"wdmsec.sys", "tdi.sys", "usbd.sys", "hidclass.sys", "hidparse.sys", "classpnp.sys", "videoprt.sys",
		"dxgkrnl.sys", "portcls.sys", "drmk.sys", "win32k.sys", "mcd.sys", "pciidex.sys", "tape.sys", "fwpkclnt.sys",
		"clfs.sys", "ci.dll", "msrpc.sys", "wmilib.sys", "storport.dll", "wpprecorder.sys", "bootvid.dll", "kdcom.dll":
		return true
	}
	return false
}
