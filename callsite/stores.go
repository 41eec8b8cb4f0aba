package callsite

import (
	"github.com/hvcicheck/hvcicheck/dataflow"
	"github.com/hvcicheck/hvcicheck/ir"
)

// Resolving a writable global needs the values every function that
// references it stores there. Those stores are nearly always direct
// (mov dword ptr [rip+g], 200h) with a value computed in the same block, so
// they are collected the quick pass's way: running only the blocks that
// store to a global or take a global's address, from their dominators'
// constants (see quick.go). A function whose stores that cannot stand for
// gets the full data flow.

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
	vague  []bool // the value may be less precise than the full analysis's
}

// exactFor reports whether every store overlapping [rva, rva+w) has the
// value the full analysis would give it.
func (q *storeSet) exactFor(rva uint32, w uint8) bool {
	for i, s := range q.stores {
		if q.vague[i] && s.rva < rva+uint32(w) && rva < s.rva+uint32(s.width) {
			return false
		}
	}
	return true
}

// quickStores collects fn's stores to image memory from the blocks that
// store to a global or compute a global's address, or returns nil when an
// address computed in one block may be used in another (kept in a register
// or stored) or fn is no function the quick pass can split (x64 only: an
// ARM64 address takes an adrp in one block and a store in another).
func (im *image) quickStores(start uint32) *storeSet {
	if im.arch.PtrSize != 8 || im.isARM64() {
		return nil
	}
	r := im.reached(start)
	if r == nil {
		return nil
	}
	seeds := r.seeder(im)
	q := &storeSet{}
	escaped := false
	for i := range r.blocks {
		b := &r.blocks[i]
		if b.marks&markStore == 0 || (i != 0 && b.idom < 0) {
			continue
		}
		st := dataflow.Run(r.code[b.lo:b.hi], im.arch, im, seeds.seeds(int32(i)), func(in *ir.Insn, st *dataflow.State) {
			if in.Kind != ir.Store {
				return
			}
			v := dataflow.Unknown
			if in.A.Kind != ir.KNone {
				v = st.Eval(in.A, in.Width)
			}
			escaped = escaped || im.imageAddress(v)
			c, ok := st.Addr(in.Mem).Const()
			if !ok || c < im.base || c-im.base >= uint64(im.size) {
				return
			}
			q.stores = append(q.stores, storeEvent{rva: uint32(c - im.base), width: in.Width, value: v})
			q.vague = append(q.vague, !exactValue(v))
		})
		for reg := 0; reg < im.arch.NumRegs; reg++ {
			escaped = escaped || im.imageAddress(st.Reg(ir.Reg(reg)))
		}
	}
	if escaped {
		return nil
	}
	return q
}

// touchesImage reports whether in stores to a global or computes a global's
// address (lea, or a 64-bit immediate inside the image).
func (im *image) touchesImage(in *ir.Insn) bool {
	switch in.Kind {
	case ir.Store:
		return in.Mem.Global
	case ir.Assign:
		return im.addressOperand(in.A) || im.addressOperand(in.B)
	}
	return false
}

func (im *image) addressOperand(op ir.Operand) bool {
	switch op.Kind {
	case ir.KAddr:
		return op.Mem.Global
	case ir.KImm:
		return uint64(op.Imm) >= im.base && uint64(op.Imm)-im.base < uint64(im.size)
	}
	return false
}

// imageAddress reports whether v may be the address of a writable global.
func (im *image) imageAddress(v dataflow.Value) bool {
	cs, ok := v.Consts()
	if !ok {
		return false
	}
	for _, c := range cs {
		if c >= im.base && c-im.base < uint64(im.size) {
			if s := im.f.SectionOf(uint32(c - im.base)); s != nil && s.Writable() {
				return true
			}
		}
	}
	return false
}

// exactValue reports whether v is a value the quick pass computes as
// precisely as the full analysis: constants, or a symbol (an import's or a
// global's value) read in the block.
func exactValue(v dataflow.Value) bool {
	if _, ok := v.Consts(); ok {
		return true
	}
	_, _, _, sym := v.Symbol()
	_, _, ptr := v.Pointer()
	return sym || ptr
}
