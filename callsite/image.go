package callsite

import (
	"encoding/binary"
	"errors"
	"sort"

	"github.com/hvcicheck/hvcicheck/dataflow"
	"github.com/hvcicheck/hvcicheck/ir"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// codeSection is an executable section's bytes as mapped.
type codeSection struct {
	va   uint32
	data []byte
}

// image is one driver under analysis: its code, imports, function bounds,
// the symbols its values use and every memo of the analysis. It implements
// dataflow.Env.
type image struct {
	f     *peimage.File
	dec   ir.Decoder
	arch  *ir.Arch
	table *Table
	opts  Options

	base      uint64
	size      uint32
	code      []codeSection
	codeBytes []byte // what code's sections are carved from

	funcs      []peimage.RuntimeFunction // .pdata extents, sorted
	starts     map[uint32]bool           // known function starts
	startList  []uint32                  // the same and jumpStarts, sorted
	jumpStarts []uint32                  // targets of jumps only, outside .pdata
	pdataStart map[uint32]bool           // function starts named by .pdata
	dataPage   []bool                    // pages of non-executable sections

	slotName map[uint32]string // IAT slot RVA → imported name
	wdfTable map[uint32]bool   // RVAs of WdfFunctions_010XX pointers

	syms     []symInfo
	symIndex map[symInfo]dataflow.Sym

	refs    map[uint32][]uint32 // data RVA → code RVAs that may reference it
	cells   map[uint32][]uint32 // image RVA → read-only pointer cells holding its address
	calls   map[uint32][]uint32 // direct call/jmp target → sites
	indexed bool

	funcMemo    map[uint32]*funcInfo
	storeMemo   map[uint32]*storeSet // the quick pass's stores (nil: use the full analysis)
	reachMemo   map[uint32]*reached  // functions split for the quick passes (nil: not splittable)
	codeMemo    map[uint32]codeTarget
	atScratch   []int32             // reach's byte map, reused
	liftScratch []ir.Insn           // reach's lifting buffer, reused
	runStates   []*dataflow.State   // free states for those runs
	scratches   []*dataflow.Scratch // free storage for the full analysis (dataflow.ScratchLender)
	insnScratch []machineInsn       // where reach decodes a function
	callScratch []ir.Operand        // where reach collects a function's call targets
	entry       []dataflow.Value    // the registers at a function's entry (entryRegs)
	globalMemo  map[globalKey]*globalState
	depth       int // nesting of global resolutions
	// partial counts the global resolutions that gave less than the
	// global's final value (it was being resolved, or nested too deep): a
	// memo of something computed meanwhile would keep that.
	partial int

	budget int // functions the analysis may still decode
	stats  Stats
	ws     *Workspace // where slices that live as long as the image come from
}

// emptied returns m cleared, or a new map when m is nil.
func emptied[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	clear(m)
	return m
}

// newImage prepares the analysis of f in ws, taking the storage of prev
// (the workspace's last image, nil for none; see image.storage).
func newImage(f *peimage.File, dec ir.Decoder, opts Options, ws *Workspace, prev *image) (*image, error) {
	if prev == nil {
		prev = &image{}
	}
	im := prev.storage()
	im.f, im.dec, im.arch, im.table, im.opts, im.ws = f, dec, dec.Arch(), ws.table, opts, ws
	im.base, im.size, im.budget = f.Optional.ImageBase, f.Optional.SizeOfImage, opts.MaxFunctions
	im.runStates = append(im.runStates, ws.states...) // every state is free again
	im.dec = im.armDecoder(dec)
	if err := im.readCode(im.codeBytes); err != nil {
		return nil, err
	}
	funcs, err := f.RuntimeFunctions()
	if err != nil {
		im.stats.Notes = append(im.stats.Notes, "exception directory unreadable: "+err.Error())
		var le *peimage.LimitError
		im.stats.Truncated = errors.As(err, &le)
	}
	im.funcs = mergeFragments(funcs)
	for _, fn := range im.funcs {
		if fn.Primary == fn.Start {
			im.starts[fn.Start] = true
			im.pdataStart[fn.Start] = true
		}
	}
	if ep := f.Optional.AddressOfEntryPoint; ep != 0 {
		im.starts[ep] = true
	}
	return im, nil
}

// readCode reads the executable sections' bytes into buf (grown as
// needed): the workspace's from the last image.
func (im *image) readCode(buf []byte) error {
	for i := range im.f.Sections {
		s := &im.f.Sections[i]
		if !s.Executable() {
			continue
		}
		start := len(buf)
		var err error
		if buf, err = im.f.AppendSectionData(buf, s); err != nil {
			return err
		}
		im.code = append(im.code, codeSection{va: s.VirtualAddress, data: buf[start:len(buf):len(buf)]})
	}
	im.codeBytes = buf
	return nil
}

// Code implements dataflow.Env.
func (im *image) Code(rva uint32) []byte {
	for _, c := range im.code {
		if rva >= c.va && rva-c.va < uint32(len(c.data)) {
			return c.data[rva-c.va:]
		}
	}
	return nil
}

// ImageBase implements dataflow.Env.
func (im *image) ImageBase() uint64 { return im.base }

// SizeOfImage implements dataflow.Env.
func (im *image) SizeOfImage() uint32 { return im.size }

// IsFunctionStart implements dataflow.Env.
func (im *image) IsFunctionStart(rva uint32) bool { return im.starts[rva] }

// LoadGlobal implements dataflow.Env: an IAT slot reads as its import, the
// WdfFunctions pointer as the KMDF table, read-only data as its bytes, and a
// writable global as every value the image can store there.
func (im *image) LoadGlobal(rva uint32, w uint8) dataflow.Value {
	ptr := uint8(im.arch.PtrSize)
	if name, ok := im.slotName[rva]; ok && w == ptr {
		return dataflow.Symbol(im.sym(symInfo{kind: symAPI, name: name}))
	}
	if im.wdfTable[rva] && w == ptr {
		return dataflow.Symbol(im.sym(symInfo{kind: symWDFTable}))
	}
	s := im.f.SectionOf(rva)
	if s == nil || w == 0 || w > 8 {
		return dataflow.Unknown
	}
	if !s.Writable() {
		return im.fileValue(rva, w)
	}
	// Resolving a global means analysing every function that stores to it:
	// that is done only for the values that reach a checked argument or a
	// call target (concrete), not for every load.
	return dataflow.Truncate(dataflow.Symbol(im.sym(symInfo{kind: symGlobal, rva: rva, index: int(w)})), w)
}

// concrete replaces a writable global's symbol in v by the values the global
// can hold (see globalValue), keeping v's transform.
func (im *image) concrete(v dataflow.Value) dataflow.Value {
	s, _, ok := v.Pointer()
	if !ok {
		if s2, _, _, ok2 := v.Symbol(); ok2 {
			s, ok = s2, true
		}
	}
	if !ok {
		return v
	}
	info, ok := im.symInfo(s)
	if !ok || info.kind != symGlobal {
		return v
	}
	return v.Apply(im.globalValue(info.rva, uint8(info.index)))
}

// fileValue reads w bytes at rva from the file as a constant.
func (im *image) fileValue(rva uint32, w uint8) dataflow.Value {
	b, err := im.f.ReadRVA(rva, int(w))
	if err != nil {
		return dataflow.Unknown
	}
	var buf [8]byte
	copy(buf[:], b)
	return dataflow.Const(binary.LittleEndian.Uint64(buf[:]))
}

// LoadIndirect implements dataflow.Env: an entry of the KMDF function
// table reads as that DDI.
func (im *image) LoadIndirect(s dataflow.Sym, disp int64, w uint8) dataflow.Value {
	info, ok := im.symInfo(s)
	if !ok || info.kind != symWDFTable || w != uint8(im.arch.PtrSize) || disp < 0 || disp%int64(w) != 0 {
		return dataflow.Unknown
	}
	return dataflow.Symbol(im.sym(symInfo{kind: symWDFFunc, index: int(disp / int64(w))}))
}

// funcAt returns the bounds of the function holding rva: its .pdata extent,
// or else the nearest known start below it with an unknown end.
func (im *image) funcAt(rva uint32) (dataflow.Func, bool) {
	i := sort.Search(len(im.funcs), func(i int) bool { return im.funcs[i].End > rva })
	if i < len(im.funcs) && im.funcs[i].Start <= rva {
		return dataflow.Func{Start: im.funcs[i].Start, End: im.funcs[i].End}, true
	}
	im.buildIndex()
	k := sort.Search(len(im.startList), func(k int) bool { return im.startList[k] > rva })
	if k == 0 || rva-im.startList[k-1] >= 1<<16 {
		return dataflow.Func{}, false
	}
	best := im.startList[k-1]
	// A .pdata function between the start and rva ends the search there.
	j := sort.Search(len(im.funcs), func(j int) bool { return im.funcs[j].Start > best })
	if j < len(im.funcs) && im.funcs[j].Start <= rva {
		return dataflow.Func{}, false
	}
	// The function ends where the next one starts (or its section ends):
	// that bounds the sweep for switch cases in an image without .pdata.
	end := uint32(0)
	if k < len(im.startList) {
		end = im.startList[k]
	}
	if j < len(im.funcs) && (end == 0 || im.funcs[j].Start < end) {
		end = im.funcs[j].Start
	}
	if code := im.Code(best); end == 0 || end-best > uint32(len(code)) {
		end = best + uint32(len(code))
	}
	return dataflow.Func{Start: best, End: end}, true
}

// mergeFragments joins the parts of a function that MSVC split into several
// .pdata entries with chained unwind information: a fragment that starts
// where its function's extent ends extends it. A fragment elsewhere stays an
// entry of its own but is not a function start (its code is entered from
// its function, never called).
func mergeFragments(funcs []peimage.RuntimeFunction) []peimage.RuntimeFunction {
	out := make([]peimage.RuntimeFunction, 0, len(funcs))
	for _, fn := range funcs { // sorted by Start
		if n := len(out); n > 0 && fn.Primary != fn.Start && out[n-1].Primary == fn.Primary && out[n-1].End == fn.Start {
			out[n-1].End = fn.End
			continue
		}
		if n := len(out); n > 0 && fn.Primary != fn.Start && out[n-1].Start == fn.Primary && out[n-1].End == fn.Start {
			out[n-1].End = fn.End
			continue
		}
		out = append(out, fn)
	}
	return out
}

// entryRegs returns the registers' values at a function's entry
// (dataflow.EntryRegs), computed once per image; read only.
func (im *image) entryRegs() []dataflow.Value {
	if im.entry == nil {
		im.entry = dataflow.EntryRegs(im.arch)
	}
	return im.entry
}
