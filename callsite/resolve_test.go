package callsite

import (
	"bytes"
	"testing"

	"github.com/hvcicheck/hvcicheck/arch/x86"
	"github.com/hvcicheck/hvcicheck/dataflow"
	"github.com/hvcicheck/hvcicheck/internal/pebuild"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// TestCodeCalleeNotKeptWhileGlobalResolves: a stub that jumps through a
// writable global (`jmp [g]`, a tail call through a routine's pointer)
// reaches what the global holds. Asked while that global is being resolved
// (a function storing it is run, and calls the stub), the stub reaches
// nothing known yet: that answer must not be remembered, or every later
// call of the stub would miss the routine.
func TestCodeCalleeNotKeptWhileGlobalResolves(t *testing.T) {
	const stub, g = 0x1000, 0x2000
	// jmp qword ptr [rip + (g - (stub+6))]
	code := []byte{0xFF, 0x25, 0, 0, 0, 0, 0xCC, 0xCC}
	disp := uint32(g - (stub + 6))
	code[2], code[3], code[4], code[5] = byte(disp), byte(disp>>8), byte(disp>>16), byte(disp>>24)
	img := &pebuild.Image{
		Sections: []pebuild.Section{
			{Name: ".text", VirtualAddress: stub, Characteristics: pebuild.Text, Data: code},
			{Name: ".data", VirtualAddress: g, Characteristics: pebuild.Data, Data: make([]byte, 16)},
		},
		Imports: []pebuild.Import{{DLL: "ntoskrnl.exe", Functions: []string{"ExAllocatePoolWithTag"}}},
	}
	out, err := img.Build()
	if err != nil {
		t.Fatal(err)
	}
	im, _ := x64Image(t, out.Bytes)
	key := globalKey{g, 8}
	im.globalMemo[key] = &globalState{busy: true}
	if c := im.codeCallee(stub); c.api != nil {
		t.Fatalf("while g resolves, the stub reaches %s; want nothing known yet", c.api.Name)
	}
	if _, kept := im.codeMemo[stub]; kept {
		t.Error("the stub's callee was remembered while g was being resolved")
	}
	routine := dataflow.Symbol(im.sym(symInfo{kind: symAPI, name: "ExAllocatePoolWithTag"}))
	im.globalMemo[key] = &globalState{value: routine}
	if c := im.codeCallee(stub); c.api == nil || c.api.Name != "ExAllocatePoolWithTag" {
		t.Errorf("once g holds ExAllocatePoolWithTag, the stub reaches %+v; want that API", c.callee)
	}
	if _, kept := im.codeMemo[stub]; !kept {
		t.Error("the stub's callee was not remembered once g was resolved")
	}
}

// x64Image parses data and makes the analysis's image of it (x64).
func x64Image(t *testing.T, data []byte) (*image, *peimage.File) {
	t.Helper()
	f, err := peimage.Parse(bytes.NewReader(data), int64(len(data)), peimage.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	ws := &Workspace{}
	im, err := newImage(f, x86.New(64, f.Optional.ImageBase, f.Optional.SizeOfImage), Options{}.withDefaults(), ws, ws.begin())
	if err != nil {
		t.Fatal(err)
	}
	return im, f
}
