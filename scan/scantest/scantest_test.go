package scantest

import (
	"bytes"
	"testing"

	"github.com/hvcicheck/hvcicheck/peimage"
)

func parse(t *testing.T, im Image) *peimage.File {
	t.Helper()
	b := im.Bytes()
	f, err := peimage.Parse(bytes.NewReader(b), int64(len(b)), peimage.Limits{})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

func TestDriverParses(t *testing.T) {
	f := parse(t, Driver())
	if f.Machine != peimage.MachineAMD64 || !f.Is64() || len(f.Sections) != 3 || len(f.Anomalies) != 0 {
		t.Fatalf("file %+v", f)
	}
	dlls, err := f.Imports()
	if err != nil || len(dlls) != 1 || dlls[0].Name != "ntoskrnl.exe" || len(dlls[0].Functions) != 2 || dlls[0].Functions[1].Name != "IoCreateDevice" {
		t.Errorf("imports %+v, %v", dlls, err)
	}
	ranges, fromDir, err := f.IATRanges()
	if err != nil || !fromDir || len(ranges) != 1 || f.SectionOf(ranges[0].Start).Name != ".rdata" {
		t.Errorf("IAT %+v %v %v", ranges, fromDir, err)
	}
	if k := f.Classify([]string{"ntoskrnl.exe"}, "x.sys"); k != peimage.KindKernelDriver {
		t.Errorf("kind %s", k)
	}
}

func TestVariants(t *testing.T) {
	if f := parse(t, Unaligned()); f.Optional.SectionAlignment != 0x200 || f.Sections[0].VirtualAddress != 0x200 {
		t.Errorf("unaligned: %+v", f.Sections)
	}
	f := parse(t, IATInCode())
	if r, _, _ := f.IATRanges(); f.SectionOf(r[0].Start).Name != ".text" {
		t.Errorf("IAT not in .text: %+v", r)
	}
	relocs, err := parse(t, PageCrossingReloc()).BaseRelocs()
	if err != nil || len(relocs) != 2 || relocs[1].RVA != 0x3ffc || relocs[1].Type != peimage.RelDir64 {
		t.Errorf("relocs %+v %v", relocs, err)
	}
	pe32 := Driver()
	pe32.Machine = peimage.MachineI386
	if f := parse(t, pe32); f.Is64() || f.Machine != peimage.MachineI386 {
		t.Errorf("PE32: %+v", f.Optional)
	} else if dlls, err := f.Imports(); err != nil || len(dlls[0].Functions) != 2 {
		t.Errorf("PE32 imports %+v %v", dlls, err)
	}
}

func TestCallIAT(t *testing.T) {
	f := parse(t, ExecutablePool())
	dlls, _ := f.Imports()
	slot := dlls[0].Functions[0].SlotRVA
	code, err := f.ReadRVA(0x1000, 0x20)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(code, []byte{0xff, 0x15})
	want := CallIAT(0x1000+uint32(i), slot)
	if i < 0 || !bytes.Equal(code[i:i+6], want) {
		t.Errorf("code % x, call at %d, want % x", code, i, want)
	}
	// Code without imports still builds.
	im := Driver()
	im.Imports = nil
	im.Code = func(va uint32, slot func(string) uint32) []byte { return CallIAT(va, slot("x")) }
	parse(t, im)
}
