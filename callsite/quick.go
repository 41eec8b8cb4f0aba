package callsite

import (
	"sort"
	"strings"

	"github.com/hvcicheck/hvcicheck/dataflow"
	"github.com/hvcicheck/hvcicheck/ir"
)

// The quick pass. Most checked calls get their decisive arguments from
// constants written in the call's own basic block (mov ecx, 200h; mov dword
// ptr [rsp+28h], 4; movz w0, #0x200), or from a register the function set
// on the way (xor ebx, ebx in the prologue; mov r14, rcx). Running the
// call's block alone (dataflow.Run), from nothing known or from the values
// every write reaching it agrees on (seeder, reach.go), computes those
// values exactly as the full data flow does: they do not depend on the
// path to the block. So a function whose every checked call is settled that
// way is judged from its call blocks alone, with no fixpoint over its
// control flow and no replay. Any call the blocks do not settle sends the
// whole function to the full analysis (Analyze's results do not depend on
// the pass but where it resolves a call the full analysis could not:
// TestQuickPassAgrees):
//
//   - a value from memory the block does not write, or from writes that
//     disagree (but in constants: their set);
//   - a value with unknown bits, a select of which some value is executable
//     but not all, an access mode that may or may not be KernelMode;
//   - a writable global's value in a function that may store to it;
//   - an indirect call whose target the block does not determine, in a
//     function that loads a checked API's address (its IAT slot, a global
//     holding one, the KMDF table) where a block alone may miss it: the
//     load may sit in an earlier block;
//   - an import's address kept past its block or stored;
//   - a call of WdfVersionBind (findWDFTable analyses those), or of
//     MmGetSystemRoutineAddress where a routine's address may be stored
//     where the quick stores do not see it exactly;
//   - a 32-bit function (its arguments are pushed), a jump into the middle
//     of an instruction, a function past the engine's limits (the full
//     analysis truncates it and says so).
//
// A function judged quickly that reads a global later found to hold a
// checked API's address is judged again with the full data flow.

// quick judges every call of the function at start from its call blocks
// alone and reports whether that decided them all; on false nothing was
// judged.
func (w *walker) quick(start uint32) bool {
	im := w.im
	if im.opts.FullDataFlow {
		return false
	}
	r := im.reached(start)
	if r == nil {
		return false
	}
	fi, loadsChecked, escaped := w.runCallBlocks(r)
	defer w.giveBack(fi)
	if escaped {
		return false
	}
	todo, lookups, ok := w.checksOf(fi.calls, loadsChecked)
	defer w.dropChecks(todo)
	if !ok {
		return false
	}
	var stores []storeEvent
	if lookups {
		// The routines looked up may be stored in globals and called
		// elsewhere: the stores must be the full analysis's.
		q := im.quickStores(start)
		if q == nil || len(q.escaped) > 0 || q.vaguePointer(uint8(im.arch.PtrSize)) {
			return false
		}
		stores = q.stores
	}
	for _, q := range todo {
		if !w.decisive(r, q.p) {
			return false
		}
	}
	for _, q := range todo {
		w.check(fi, q.ev, q.p)
	}
	w.noteStores(stores)
	if !w.quickDone[start] {
		im.stats.Functions++
		im.stats.QuickFunctions++
		w.quickDone[start] = true
	}
	return true
}

// giveBack keeps fi's call buffer for the next runCallBlocks.
func (w *walker) giveBack(fi *funcInfo) { w.quickCalls = fi.calls[:0] }

// requick judges again, from their blocks, the calls of caller (judged by
// the quick pass before) that reach wrapper, whose summaries grew; false
// when one is not settled that way.
func (w *walker) requick(caller, wrapper uint32) bool {
	im := w.im
	r := im.reached(caller)
	if r == nil {
		return false
	}
	fi := &funcInfo{fn: r.fn}
	seeds := r.seeder(im)
	for i := range r.blocks {
		b := &r.blocks[i]
		if !w.callsTo(r, b, wrapper) || !b.reached {
			continue
		}
		im.release(r.run(im, int32(i), seeds.seeds(int32(i)), func(in *ir.Insn, st *dataflow.State) {
			tail := in.Kind == ir.Jump && im.isTailJump(fi.fn, in)
			if (in.Kind == ir.Call || tail) && reaches(im, in, wrapper) {
				im.recordCall(fi, in, st, tail)
			}
		}))
	}
	var todo []quickCheck
	for i := range fi.calls {
		for _, s := range w.summaries[wrapper] {
			todo = append(todo, quickCheck{&fi.calls[i], w.through(&fi.calls[i], s, wrapper)})
		}
	}
	for _, q := range todo {
		if !w.decisive(r, q.p) {
			return false
		}
	}
	for _, q := range todo {
		w.check(fi, q.ev, q.p)
	}
	return true
}

// callsTo reports whether block b of r calls fn directly.
func (w *walker) callsTo(r *reached, b *rblock, fn uint32) bool {
	if b.marks&markCall == 0 {
		return false
	}
	for _, m := range r.insns[b.first:b.end] {
		if m.call != 0 && reachesTarget(w.im, r.calls[m.call-1], fn) {
			return true
		}
	}
	return false
}

// reaches reports whether the direct call (or jump) in reaches function fn.
func reaches(im *image, in *ir.Insn, fn uint32) bool { return reachesTarget(im, in.Target, fn) }

// reachesTarget reports whether a call (or jump) to target reaches
// function fn directly.
func reachesTarget(im *image, target ir.Operand, fn uint32) bool {
	return target.Kind == ir.KImm && im.codeCallee(uint32(target.Imm)).function == fn
}

// quickCheck is one checked call (or wrapper call) the quick pass judges.
type quickCheck struct {
	ev *callEvent
	p  pending
}

// runCallBlocks runs every block of r that holds a call, a tail jump or a
// reference to a checked API's address, records the calls, and reports
// whether r references such an address and whether one escapes its block
// (stored, or left in a register at the block's end). A block runs first
// from nothing known: only where that leaves one of its calls unsettled
// does it run again from its seeds (whose search walks the function).
func (w *walker) runCallBlocks(r *reached) (fi *funcInfo, loadsChecked, escaped bool) {
	im := w.im
	// The calls go into the walker's buffer, taken until quick is done with
	// them (w.giveBack): its findings and summaries copy what they keep.
	fi = &funcInfo{fn: r.fn, calls: w.quickCalls[:0]}
	w.quickCalls = nil
	sited := r.blocksAt(im, w.checkedSites())
	loadsChecked = len(sited) > 0
	lookups := r.looksUp(im)
	seeds := r.seeder(im)
	for i := range r.blocks {
		b := &r.blocks[i]
		if (!w.blockCalls(r, b) && !sited[int32(i)]) || !b.reached {
			continue
		}
		entry := dataflow.Entry{Unchanged: seeds.unchanged}
		if i == 0 {
			entry = seeds.seeds(0) // the entry state: no search
		}
		n := len(fi.calls)
		leaks := w.runBlock(r, int32(i), entry, fi, loadsChecked)
		if i != 0 && !w.settledCalls(r, fi.calls[n:], loadsChecked || lookups) {
			fi.calls = fi.calls[:n]
			leaks = w.runBlock(r, int32(i), seeds.seeds(int32(i)), fi, loadsChecked)
		}
		escaped = escaped || leaks
	}
	return fi, loadsChecked, escaped
}

// looksUp reports whether r calls MmGetSystemRoutineAddress directly
// (through its IAT slot or a thunk): a routine's address may then reach a
// call of another block.
func (r *reached) looksUp(im *image) bool {
	for _, t := range r.calls {
		name := ""
		switch {
		case t.Kind == ir.KMem && t.Mem.Global:
			name = im.slotName[uint32(t.Mem.Disp)]
		case t.Kind == ir.KImm:
			name = im.codeCallee(uint32(t.Imm)).name
		}
		if strings.EqualFold(name, "MmGetSystemRoutineAddress") {
			return true
		}
	}
	return false
}

// runBlock runs block i of r from entry, records its calls that matter in
// fi, and reports whether a checked API's address escapes it.
func (w *walker) runBlock(r *reached, i int32, entry dataflow.Entry, fi *funcInfo, loadsChecked bool) bool {
	im := w.im
	escaped := false
	st := r.run(im, i, entry, func(in *ir.Insn, st *dataflow.State) {
		switch {
		case in.Kind == ir.Call && w.callMatters(in.Target):
			im.recordCall(fi, in, st, false)
		case in.Kind == ir.Jump && im.isTailJump(fi.fn, in) && w.callMatters(in.Target):
			im.recordCall(fi, in, st, true)
		case in.Kind == ir.Store && in.A.Kind != ir.KNone:
			escaped = escaped || w.leadsToAPI(st.Eval(in.A, in.Width))
		}
	})
	for reg := 0; reg < im.arch.NumRegs && loadsChecked; reg++ {
		escaped = escaped || w.leadsToAPI(st.Reg(ir.Reg(reg)))
	}
	im.release(st)
	return escaped
}

// settledCalls reports whether the quick pass settles every call of evs
// (see quick).
func (w *walker) settledCalls(r *reached, evs []callEvent, loadsChecked bool) bool {
	todo, _, ok := w.checksOf(evs, loadsChecked)
	defer w.dropChecks(todo)
	for _, q := range todo {
		ok = ok && w.decisive(r, q.p)
	}
	return ok
}

// checksOf returns the checks that the calls evs make (of a checked API, or
// of a known wrapper) and whether one of them calls
// MmGetSystemRoutineAddress; ok is false where a call keeps the quick pass
// from judging the function: WdfVersionBind (findWDFTable analyses its
// callers), or a target it cannot tell where a checked API's address may
// come from an earlier block (loadsChecked, or a routine looked up).
//
// The checks are pushed on w.checks, a stack (judging them may judge other
// functions, whose checks go above): the caller drops them with
// dropChecks once done with them.
func (w *walker) checksOf(evs []callEvent, loadsChecked bool) (todo []quickCheck, lookups, ok bool) {
	callees := make([]callee, len(evs))
	for i := range evs {
		callees[i] = w.im.resolve(&evs[i])
		lookups = lookups || strings.EqualFold(callees[i].name, "MmGetSystemRoutineAddress")
	}
	mark := len(w.checks)
	for i := range evs {
		ev, c := &evs[i], callees[i]
		switch {
		case c.api != nil:
			p := w.direct(ev, c.api) // before the append, whose operand w.checks a call might change
			w.checks = append(w.checks, quickCheck{ev, p})
		case c.function != 0:
			for _, s := range w.summaries[c.function] {
				p := w.through(ev, s, c.function)
				w.checks = append(w.checks, quickCheck{ev, p})
			}
		case c.name != "":
			if strings.EqualFold(c.name, "WdfVersionBind") {
				w.checks = w.checks[:mark]
				return nil, lookups, false
			}
		case ev.exact&(1<<maxArgs) != 0:
			// The full analysis has the same target: it reaches nothing
			// known there either.
		case loadsChecked || lookups:
			w.checks = w.checks[:mark]
			return nil, lookups, false
		}
	}
	return w.checks[mark:len(w.checks):len(w.checks)], lookups, true
}

// dropChecks pops todo, the checks checksOf pushed last, off w.checks.
func (w *walker) dropChecks(todo []quickCheck) {
	w.checks = w.checks[:len(w.checks)-len(todo)]
}

// blockCalls reports whether block b of r holds a call or tail jump that
// matters.
func (w *walker) blockCalls(r *reached, b *rblock) bool {
	if b.marks&markCall == 0 {
		return false
	}
	for _, m := range r.insns[b.first:b.end] {
		if m.call != 0 && w.callMatters(r.calls[m.call-1]) {
			return true
		}
	}
	return false
}

// callMatters reports whether a call (or jump) to target may reach a checked API
// or a known wrapper, or goes where only the values at the call tell: a
// target in a register or in memory other than an IAT slot, or a dispatch
// stub (jmp rax). A call of an import that is not checked, or of a function
// of the image that is no known wrapper, does not. (A plain jump inside the
// function is no call: the caller decides that before.)
func (w *walker) callMatters(target ir.Operand) bool {
	im := w.im
	switch target.Kind {
	case ir.KImm:
		c := im.codeCallee(uint32(target.Imm))
		switch {
		case c.api != nil:
			return true
		case c.name != "":
			return leadsToChecked(c.name)
		case c.function != 0:
			return len(w.summaries[c.function]) > 0 || im.codeCallee(c.function).viaRegister
		}
		return true
	case ir.KMem:
		if name, ok := im.slotName[uint32(target.Mem.Disp)]; ok && target.Mem.Global {
			return leadsToChecked(name) || im.table.Lookup(name) != nil
		}
	}
	return true
}

// blocksAt returns the blocks of r holding one of sites (sorted code
// addresses of references: an instruction's address field, at most 15
// bytes after its start), but for calls and jumps through the referenced
// slot itself (such a reference is its own call) and, on x64, for
// instructions without a rip-relative operand (bytes of a displacement or
// an immediate that only look like a reference).
func (r *reached) blocksAt(im *image, sites []uint32) map[int32]bool {
	var out map[int32]bool
	i := sort.Search(len(sites), func(i int) bool { return sites[i] >= r.fn.Start })
	for ; i < len(sites) && sites[i] < r.fn.End; i++ {
		k, ok := r.holding(sites[i])
		if !ok {
			continue
		}
		m := &r.insns[k]
		if m.viaSlot || (im.arch.PtrSize == 8 && !im.isARM64() && !m.global) {
			continue
		}
		if out == nil {
			out = map[int32]bool{}
		}
		out[m.block] = true
	}
	return out
}

// holding returns the machine instruction whose bytes hold address a.
func (r *reached) holding(a uint32) (int, bool) {
	k := sort.Search(len(r.insns), func(k int) bool { return r.insns[k].next > a })
	return k, k < len(r.insns) && r.insns[k].pc <= a
}

// checkedSites returns, sorted, the code addresses that may reference the
// address of a checked API (or of MmGetSystemRoutineAddress or
// WdfVersionBind): their IAT slots, the KMDF table pointers, the globals
// found to hold one, and the read-only cells pointing to those.
func (w *walker) checkedSites() []uint32 {
	if w.sites != nil {
		return w.sites
	}
	im := w.im
	var out []uint32
	for slot, name := range im.slotName {
		if leadsToChecked(name) || im.table.Lookup(name) != nil {
			out = append(out, im.referrersDeep(slot)...)
		}
	}
	for rva := range im.wdfTable {
		out = append(out, im.referrersDeep(rva)...)
	}
	for rva := range w.apiGlobals {
		out = append(out, im.referrersDeep(rva)...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	w.sites = append(out, 0)[:len(out)] // not nil: computed
	return w.sites
}

// leadsToAPI reports whether v is (or points into) something through which
// the analysis reaches a checked API: an API's address, the KMDF table or
// one of its entries, or a global found to hold an API's address.
func (w *walker) leadsToAPI(v dataflow.Value) bool {
	s, _, _, ok := v.Symbol()
	if !ok {
		s, _, ok = v.Pointer()
	}
	if !ok {
		return false
	}
	info, ok := w.im.symInfo(s)
	if !ok {
		return false
	}
	switch info.kind {
	case symAPI:
		return leadsToChecked(info.name) || w.im.table.Lookup(info.name) != nil
	case symWDFTable, symWDFFunc:
		return true
	case symGlobal:
		return w.apiGlobals[info.rva]
	}
	return false
}

// leadsToChecked reports whether name is an API whose result the analysis
// follows to checked calls.
func leadsToChecked(name string) bool {
	return strings.EqualFold(name, "MmGetSystemRoutineAddress") || strings.EqualFold(name, "WdfVersionBind")
}

// decisive reports whether the quick pass's values for p decide its
// verdict as the full data flow's would: values the full analysis has the
// same (a verdict, a wrapper summary or an unresolved call alike), a
// definite verdict from constants (for a finding, with its value and tag),
// or no executable value at all.
func (w *walker) decisive(r *reached, p pending) bool {
	im, a := w.im, p.api
	settled := func(v dataflow.Value, used bool) bool { return !used || im.settled(v, r) }
	exactOr := func(bit uint8, v dataflow.Value, used bool) bool { return p.exact&bit != 0 || settled(v, used) }
	if exactOr(exactArg, p.arg, a.Rule != RuleAlways) && exactOr(exactMode, p.mode, a.ModeArg >= 0) && exactOr(exactTag, p.tag, a.TagArg >= 0) {
		return true // the full analysis has the same values: check does the same with them
	}
	if isInput(p.arg) || (a.ModeArg >= 0 && isInput(p.mode)) {
		return false // a wrapper summary of values the full analysis may know better
	}
	tagKnown := func() bool { return exactOr(exactTag, p.tag, a.TagArg >= 0) }
	if a.Rule == RuleAlways && a.ModeArg < 0 {
		return tagKnown()
	}
	if a.ModeArg >= 0 {
		may, definite := mayBeKernelMode(im.concrete(p.mode))
		switch {
		case !may:
			return true
		case !definite:
			return false
		case a.Rule == RuleAlways:
			return tagKnown()
		}
	}
	arg := im.concrete(p.arg)
	v := judge(a.Rule, arg)
	switch {
	case v.unresolved:
		return false
	case !v.exec:
		return true
	}
	consts := arg.IsConsts()
	return consts && v.definite && tagKnown()
}

// settled reports whether the quick pass computes v, a value in function r,
// exactly as the full analysis does: constants, and symbols, but for a
// writable global's value where r may store to that global (the full
// analysis may know it from a store earlier in the function).
func (im *image) settled(v dataflow.Value, r *reached) bool {
	if v.IsConsts() {
		return true
	}
	s, _, _, ok := v.Symbol()
	if !ok {
		s, _, ok = v.Pointer()
	}
	if !ok {
		return false
	}
	info, client := im.symInfo(s)
	return !client || info.kind != symGlobal || !r.mayStore(info.rva, uint8(info.index))
}

// requeueReaders sends the functions judged quickly that reference rva, a
// global just found to hold a checked API's address, back to the queue for
// the full analysis.
func (w *walker) requeueReaders(rva uint32) {
	if w.apiGlobals[rva] {
		return
	}
	w.apiGlobals[rva] = true
	w.sites = nil
	for _, f := range w.im.functionsAt(w.im.referrersDeep(rva)) {
		if w.quickDone[f] {
			delete(w.quickDone, f)
			w.processed[f] = false
		}
	}
}
