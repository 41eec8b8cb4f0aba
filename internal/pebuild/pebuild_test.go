package pebuild

import (
	"bytes"
	"debug/pe"
	"slices"
	"testing"
)

// TestDriverReadsBackWithDebugPE checks the builder against an independent
// reader: the standard library's debug/pe.
func TestDriverReadsBackWithDebugPE(t *testing.T) {
	for _, m := range []uint16{MachineAMD64, MachineI386, MachineARM64} {
		out, err := Driver(m).Build()
		if err != nil {
			t.Fatal(err)
		}
		f, err := pe.NewFile(bytes.NewReader(out.Bytes))
		if err != nil {
			t.Fatalf("machine 0x%x: debug/pe: %v", m, err)
		}
		var names []string
		for _, s := range f.Sections {
			names = append(names, s.Name)
		}
		if want := []string{".text", ".rdata", ".data", ".reloc"}; !slices.Equal(names, want) {
			t.Errorf("machine 0x%x: sections %q, want %q", m, names, want)
		}
		syms, err := f.ImportedSymbols()
		if err != nil {
			t.Fatalf("machine 0x%x: imports: %v", m, err)
		}
		// debug/pe lists named imports only.
		want := []string{"IoCreateDevice:ntoskrnl.exe", "ExAllocatePoolWithTag:ntoskrnl.exe", "KeStallExecutionProcessor:HAL.dll"}
		if !slices.Equal(syms, want) {
			t.Errorf("machine 0x%x: imports %q, want %q", m, syms, want)
		}
		if _, is64 := f.OptionalHeader.(*pe.OptionalHeader64); is64 != (m != MachineI386) {
			t.Errorf("machine 0x%x: wrong optional header kind %T", m, f.OptionalHeader)
		}
	}
}

// TestLayout checks the addresses Build assigns and reports.
func TestLayout(t *testing.T) {
	out, err := Driver(MachineAMD64).Build()
	if err != nil {
		t.Fatal(err)
	}
	vas := []uint32{0x1000, 0x2000, 0x3000, 0x4000}
	for i, s := range out.Sections {
		if s.VirtualAddress != vas[i] {
			t.Errorf("section %d at 0x%x, want 0x%x", i, s.VirtualAddress, vas[i])
		}
	}
	// .rdata holds 0x40 bytes, then the IAT (3+1 and 1+1 slots of 8 bytes).
	if want := (Range{Start: 0x2040, End: 0x2040 + 6*8}); out.Imports.IAT != want {
		t.Errorf("IAT %+v, want %+v", out.Imports.IAT, want)
	}
	if d := out.DataDirectories[DirIAT]; d.RVA != 0x2040 || d.Size != 48 {
		t.Errorf("IAT directory %+v", d)
	}
	if d := out.DataDirectories[DirBaseReloc]; d.RVA != 0x4000 || d.Size != 12 {
		t.Errorf("reloc directory %+v", d)
	}
	if _, err := (&Image{Sections: []Section{{Name: "123456789"}}}).Build(); err == nil {
		t.Error("a 9-byte section name was accepted")
	}
	if _, err := (&Image{Imports: []Import{{DLL: "a.dll"}}, ImportSection: ".nope"}).Build(); err == nil {
		t.Error("an ImportSection naming no section was accepted")
	}
}

// TestMutantsDeterministic checks that a seed gives the same mutants, that
// they differ from the image and that every mutation kind occurs.
func TestMutantsDeterministic(t *testing.T) {
	out, err := Driver(MachineAMD64).Build()
	if err != nil {
		t.Fatal(err)
	}
	var first []Mutant
	for m := range Mutants(out.Bytes, 7, 200) {
		first = append(first, m)
	}
	i, kinds := 0, map[string]bool{}
	for m := range Mutants(out.Bytes, 7, 200) {
		if m.Name != first[i].Name || !bytes.Equal(m.Data, first[i].Data) {
			t.Fatalf("mutant %d differs between runs: %s / %s", i, m.Name, first[i].Name)
		}
		for _, k := range []string{"truncate", "flip", "Section", "Dir1+", "Dir5+"} {
			if bytes.Contains([]byte(m.Name), []byte(k)) {
				kinds[k] = true
			}
		}
		i++
	}
	if i != 200 || len(kinds) != 5 {
		t.Errorf("%d mutants, kinds %v", i, kinds)
	}
}
