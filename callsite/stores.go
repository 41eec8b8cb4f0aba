package callsite

import (
	"slices"

	"github.com/hvcicheck/hvcicheck/dataflow"
	"github.com/hvcicheck/hvcicheck/ir"
)

// Resolving a writable global needs the values every function that
// references it stores there. Those stores are nearly always direct
// (mov dword ptr [rip+g], 200h) with a value computed in the same block, so
// they are collected the quick pass's way: running only the blocks that
// store to a global or take a global's address, from the register values
// every write reaching them agrees on (see quick.go). A function whose
// stores that cannot stand for gets the full data flow.

// storesOf returns the stores to image memory of the function at fn that
// matter for the global of w bytes at rva.
func (im *image) storesOf(fn uint32, rva uint32, w uint8) []storeEvent {
	if fi, ok := im.funcMemo[fn]; ok || im.opts.FullDataFlow {
		if !ok {
			fi = im.analyze(fn)
		}
		return fi.stores
	}
	q, ok := im.storeMemo[fn]
	if !ok {
		q = im.quickStores(fn)
		im.storeMemo[fn] = q
	}
	if q == nil || !q.exactFor(rva, w) {
		return im.analyze(fn).stores
	}
	return q.stores
}

// storeSet is the quick pass's stores of one function.
type storeSet struct {
	stores []storeEvent
	vague  []bool // the value may be less precise than the full analysis's (settled)
	// escaped holds the globals whose address a block leaves where the
	// quick pass does not follow it (stored, or in a register written
	// more than once): a later block may store through it.
	escaped []uint32
}

// The bytes around an address that a store through it may reach (near).
const (
	escapeBefore = 256
	escapeAfter  = 4096
)

// exactFor reports whether every store overlapping [rva, rva+w) has the
// value the full analysis would give it.
func (q *storeSet) exactFor(rva uint32, w uint8) bool {
	for _, e := range q.escaped {
		if near(e, rva, w) {
			return false
		}
	}
	for i, s := range q.stores {
		if q.vague[i] && s.rva < rva+uint32(w) && rva < s.rva+uint32(s.width) {
			return false
		}
	}
	return true
}

// vaguePointer reports whether a store of a pointer's width may be less
// precise than the full analysis's: a narrower one cannot store a
// routine's address (holdsCheckedAPI).
func (q *storeSet) vaguePointer(ptr uint8) bool {
	for i, s := range q.stores {
		if q.vague[i] && s.width >= ptr {
			return true
		}
	}
	return false
}

// quickStores collects fn's stores to image memory from the blocks that
// store to a global or compute a global's address. A global's address left
// in a register at a block's end reaches the later blocks where every
// write reaching them leaves it (seeder): when there is one, every block
// that stores through a register (or spills one) runs too. An address
// stored to memory is noted (escaped). It returns nil when fn is no function the quick pass can
// split (x64 only: an ARM64 address takes an adrp in one block and a store
// in another).
func (im *image) quickStores(start uint32) *storeSet {
	if im.arch.PtrSize != 8 || im.isARM64() {
		return nil
	}
	r := im.reached(start)
	if r == nil {
		return nil
	}
	c := &storeCollector{im: im, r: r, seeds: r.seeder(im), q: &storeSet{}, ran: make([]uint8, len(r.blocks))}
	for i := range r.blocks {
		if r.blocks[i].marks&markStore != 0 {
			c.run(int32(i))
		}
	}
	if c.bases {
		// An address kept in a register may be stored through, or
		// spilled, in any block: those run from their seeds (a block
		// that ran from nothing known already, for its escapes only).
		for i := range r.blocks {
			if c.ran[i] != ranSeeded && r.blocks[i].marks&(markStoreReg|markSpill) != 0 && r.blocks[i].reached {
				record := c.ran[i] == 0
				c.ran[i] = ranSeeded
				c.noteKept(int32(i), c.runFrom(int32(i), c.seeds.seeds(int32(i)), record))
			}
		}
	}
	if len(c.q.escaped) > 0 {
		c.runBlind()
	}
	return c.q
}

// runBlind runs, from their seeds, the blocks storing through a register
// that have not run that way: an escaped address matters only where a
// store goes through an address the quick pass does not know as the full
// analysis does (blind). With none, every store the full analysis records
// is recorded here too, and the escapes are forgotten.
func (c *storeCollector) runBlind() {
	for i := range c.r.blocks {
		b := &c.r.blocks[i]
		if c.ran[i] != ranSeeded && b.marks&markStoreReg != 0 && b.reached {
			c.ran[i] = ranSeeded
			c.im.release(c.runFrom(int32(i), c.seeds.seeds(int32(i)), true))
		}
	}
	if !c.blind {
		c.q.escaped = nil
	}
}

// storeCollector runs the blocks of one function for quickStores.
type storeCollector struct {
	im    *image
	r     *reached
	seeds *seeder
	q     *storeSet
	ran   []uint8 // per block: ranUnseeded or ranSeeded once run
	bases bool    // a block left a global's address in a register
	// blind is set by a store through an address (not the stack
	// pointer's) that may not be the full analysis's.
	blind bool
}

// How a block ran for quickStores.
const (
	ranUnseeded = 1 + iota
	ranSeeded
)

// run runs block i, recording its stores and the addresses it leaves. A
// block that stores only at constant addresses (and to the stack) runs
// first from nothing known: only a value that leaves vague makes it run
// again from its seeds.
func (c *storeCollector) run(i int32) {
	b := &c.r.blocks[i]
	if !b.reached {
		c.ran[i] = ranSeeded
		return
	}
	if i != 0 && b.marks&markStoreReg == 0 {
		c.ran[i] = ranUnseeded
		n, e := len(c.q.stores), len(c.q.escaped)
		st := c.runFrom(i, dataflow.Entry{Unchanged: c.seeds.unchanged}, true)
		if !slices.Contains(c.q.vague[n:], true) {
			c.noteKept(i, st)
			return
		}
		c.im.release(st)
		c.q.stores, c.q.vague, c.q.escaped = c.q.stores[:n], c.q.vague[:n], c.q.escaped[:e]
	}
	c.ran[i] = ranSeeded
	c.noteKept(i, c.runFrom(i, c.seeds.seeds(i), true))
}

// runFrom runs block i from entry, noting the global addresses its stores
// store (escapes), and recording its stores where record is set.
func (c *storeCollector) runFrom(i int32, entry dataflow.Entry, record bool) *dataflow.State {
	im := c.im
	return c.r.run(im, i, entry, func(in *ir.Insn, st *dataflow.State) {
		if in.Kind != ir.Store {
			return
		}
		v := dataflow.Unknown
		if in.A.Kind != ir.KNone {
			v = st.Eval(in.A, in.Width)
		}
		c.q.escape(im, v)
		if !in.Mem.Global && in.Mem.Base != im.arch.SP && !st.ExactOperand(ir.Operand{Kind: ir.KAddr, Mem: in.Mem}, 0) {
			c.blind = true
		}
		if !record {
			return
		}
		a, ok := st.Addr(in.Mem).Const()
		if !ok || a < im.base || a-im.base >= uint64(im.size) {
			return
		}
		c.q.stores = append(c.q.stores, storeEvent{rva: uint32(a - im.base), width: in.Width, value: v})
		c.q.vague = append(c.q.vague, !st.ExactOperand(in.A, in.Width) && !im.settled(v, c.r))
	})
}

// noteKept notes whether block i leaves a global's address in a register
// another block reads (st: the state at its end).
func (c *storeCollector) noteKept(i int32, st *dataflow.State) {
	b := &c.r.blocks[i]
	later := c.seeds.readElsewhere(i)
	for reg := 0; reg < c.im.arch.NumRegs && reg < 64 && !b.leaves && !c.bases; reg++ {
		c.bases = later&(1<<reg) != 0 && c.q.globalAddress(c.im, st.Reg(ir.Reg(reg))) != nil
	}
	c.im.release(st)
}

// globalAddress returns the writable globals v may be the address of.
func (q *storeSet) globalAddress(im *image, v dataflow.Value) []uint32 {
	if !v.IsConsts() {
		return nil
	}
	cs, _ := v.Consts()
	var out []uint32
	for _, c := range cs {
		if c >= im.base && c-im.base < uint64(im.size) {
			if s := im.f.SectionOf(uint32(c - im.base)); s != nil && s.Writable() {
				out = append(out, uint32(c-im.base))
			}
		}
	}
	return out
}

// escape records the writable globals v may be the address of.
func (q *storeSet) escape(im *image, v dataflow.Value) {
	q.escaped = append(q.escaped, q.globalAddress(im, v)...)
}

// touchesImage reports whether in stores to a global or computes the
// address of a writable one (lea, or a 64-bit immediate inside the image):
// a read-only object's address (a string's, a function's) leads to no
// store the quick stores look for, and blocks that only take one need not
// run.
func (im *image) touchesImage(in *ir.Insn) bool {
	switch in.Kind {
	case ir.Store:
		return in.Mem.Global
	case ir.Assign:
		return im.writableAddress(in.A) || im.writableAddress(in.B)
	}
	return false
}

// writableAddress reports whether op computes an address in a writable
// section of the image.
func (im *image) writableAddress(op ir.Operand) bool {
	var rva uint32
	switch op.Kind {
	case ir.KAddr:
		if !op.Mem.Global {
			return false
		}
		rva = uint32(op.Mem.Disp)
	case ir.KImm:
		if uint64(op.Imm) < im.base || uint64(op.Imm)-im.base >= uint64(im.size) {
			return false
		}
		rva = uint32(uint64(op.Imm) - im.base)
	default:
		return false
	}
	s := im.f.SectionOf(rva)
	return s != nil && s.Writable()
}

// near reports whether a store through address a (an image RVA) may reach
// the global of w bytes at rva: a structure's fields, written through a
// pointer to its start.
func near(a, rva uint32, w uint8) bool {
	return uint64(rva)+uint64(w)+escapeBefore > uint64(a) && uint64(rva) < uint64(a)+escapeAfter
}

// appendAddress appends to out the image RVA op computes (lea, or a 64-bit
// immediate inside the image), if it computes one.
func (im *image) appendAddress(out []uint32, op ir.Operand) []uint32 {
	switch {
	case op.Kind == ir.KAddr && op.Mem.Global:
		return append(out, uint32(op.Mem.Disp))
	case op.Kind == ir.KImm && uint64(op.Imm) >= im.base && uint64(op.Imm)-im.base < uint64(im.size):
		return append(out, uint32(uint64(op.Imm)-im.base))
	}
	return out
}

// seedable reports whether v is worth carrying into the blocks a write
// reaches (seeder): constants, or a symbol (an input, an import's or a
// global's value). Such a value holds on every path; where it is a global's
// value the full analysis may know better (settled).
func seedable(v dataflow.Value) bool {
	if v.IsConsts() {
		return true
	}
	_, _, _, sym := v.Symbol()
	_, _, ptr := v.Pointer()
	return sym || ptr
}
