package callsite

import (
	"github.com/hvcicheck/hvcicheck/dataflow"
	"github.com/hvcicheck/hvcicheck/ir"
)

// maxGlobalDepth bounds nested global resolutions (a function analysed to
// resolve a global loads another global …).
const maxGlobalDepth = 2

// NX opt-in values that ExInitializeDriverRuntime(DrvRtPoolNxOptIn) stores
// into ExDefaultNonPagedPoolType and ExDefaultMdlProtection.
const (
	optInPoolType = 0x200
	optInMdl      = 0x40000000
)

type globalKey struct {
	rva uint32
	w   uint8
}

type globalState struct {
	busy  bool
	value dataflow.Value
}

// globalValue returns every value a writable global of w bytes at rva can
// hold when read: its initial value in the file joined with every value the
// image's code stores there. A global whose initial value is 0 and whose
// every store is the POOL_NX_OPTIN value (0x200 or 0x40000000) reads as that
// value: ExInitializeDriverRuntime runs in DriverEntry before any
// allocation. A global holding an API's address (from
// MmGetSystemRoutineAddress) reads as that API.
func (im *image) globalValue(rva uint32, w uint8) dataflow.Value {
	key := globalKey{rva, w}
	if g, ok := im.globalMemo[key]; ok {
		if g.busy {
			im.partial++
			return dataflow.Unknown
		}
		return g.value
	}
	if im.depth >= maxGlobalDepth {
		im.partial++
		return dataflow.Unknown
	}
	g := &globalState{busy: true}
	im.globalMemo[key] = g
	im.depth++
	v, complete := im.computeGlobal(rva, w)
	im.depth--
	if !complete {
		delete(im.globalMemo, key) // resolve again once the busy function is done
		im.partial++
		return v
	}
	g.value, g.busy = v, false
	return v
}

func (im *image) computeGlobal(rva uint32, w uint8) (dataflow.Value, bool) {
	init := im.fileValue(rva, w)
	var stored []dataflow.Value
	for _, fn := range im.functionsAt(im.referrersDeep(rva)) {
		if fi, ok := im.funcMemo[fn]; ok && fi.busy {
			// The function being analysed reads the global. Its own stores
			// are seen flow-sensitively; where it has none, it adds nothing.
			if im.mayStore(fi.fn, rva, w) {
				return dataflow.Unknown, false
			}
			continue
		}
		for _, s := range im.storesOf(fn, rva, w) {
			switch {
			case s.rva == rva && s.width >= w:
				stored = append(stored, dataflow.Truncate(im.concrete(s.value), w))
			case s.rva < rva+uint32(w) && rva < s.rva+uint32(s.width):
				stored = append(stored, dataflow.Unknown) // a partial overwrite
			}
		}
	}
	if len(stored) == 0 {
		return init, true
	}
	v := stored[0]
	for _, s := range stored[1:] {
		v = dataflow.Join(v, s)
	}
	if c, ok := init.Const(); ok && c == 0 && isOptInOrPointer(im, v) {
		return v, true
	}
	return dataflow.Join(init, v), true
}

// isOptInOrPointer reports whether the stored values of a zero-initialised
// global are the NX opt-in constant or an API's address: then the initial 0
// is never the value a call sees.
func isOptInOrPointer(im *image, v dataflow.Value) bool {
	if c, ok := v.Const(); ok {
		return c == optInPoolType || c == optInMdl
	}
	if s, off, ok := v.Pointer(); ok && off == 0 {
		info, ok := im.symInfo(s)
		return ok && info.kind == symAPI
	}
	return false
}

// mayStore reports, from a linear decode of fn without data flow, whether it
// may write the global at rva: a store to it, or its address taken.
func (im *image) mayStore(fn dataflow.Func, rva uint32, w uint8) bool {
	if im.isARM64() {
		return im.mayStoreARM64(fn, rva, w)
	}
	end := fn.End
	if end == 0 || end-fn.Start > 1<<16 {
		end = fn.Start + 1<<16
	}
	var buf []ir.Insn
	for pc := fn.Start; pc < end; {
		code := im.Code(pc)
		if code == nil {
			return false
		}
		insns, n, err := im.dec.Lift(code, pc, buf[:0])
		if err != nil || n <= 0 {
			pc++
			continue
		}
		for _, in := range insns {
			if touches(in, rva, w) {
				return true
			}
		}
		if fn.End == 0 && len(insns) > 0 && insns[len(insns)-1].Kind == ir.Ret {
			return false
		}
		buf = insns
		pc += uint32(n)
	}
	return false
}

// touches reports whether in stores to [rva, rva+w) or takes its address.
func touches(in ir.Insn, rva uint32, w uint8) bool {
	overlaps := func(m ir.Mem, width uint8) bool {
		return m.Global && uint32(m.Disp) < rva+uint32(w) && rva < uint32(m.Disp)+uint32(max(width, 1))
	}
	switch {
	case in.Kind == ir.Store:
		return overlaps(in.Mem, in.Width)
	case in.Kind == ir.Assign && in.A.Kind == ir.KAddr:
		return overlaps(in.A.Mem, 1)
	}
	return false
}
