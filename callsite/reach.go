package callsite

import (
	"sort"

	"github.com/hvcicheck/hvcicheck/dataflow"
	"github.com/hvcicheck/hvcicheck/ir"
)

// maxQuickSpan bounds the extent of a function the quick pass decodes; a
// larger one (or a damaged .pdata entry) gets the full data flow.
const maxQuickSpan = 1 << 18

// machineInsn is one decoded machine instruction of a reached function:
// what the quick passes need of it without keeping its lifted form (a
// block is lifted again when it first runs, and kept: rblock.lifted).
type machineInsn struct {
	pc, next uint32
	target   uint32  // a jump's or branch's constant target
	kind     ir.Kind // the kind of its last lifted instruction
	intra    bool    // target lies in the function
	viaSlot  bool    // a call or jump through memory at a global address
	dispatch bool    // a jump through a register or a table: a switch
	global   bool    // it has a rip-relative operand (x64)
	leader   bool    // a block starts here
	marks    uint8   // what it does that a pass looks for (mark*)
	block    int32   // its basic block
	call     int32   // 1 + its call's index in reached.calls (0: none)
	reads    uint64  // registers it reads before writing them
	writes   uint64  // registers it writes
}

// What a machine instruction does that a pass runs its block for.
const (
	markCall     uint8 = 1 << iota // a call or a tail jump
	markStore                      // a store to a global, or a global's address
	markStoreReg                   // a store through a register but the stack pointer
	markSpill                      // a store to the stack
)

// reached is a function's code as the full analysis decodes it (recursive
// descent from its start within its .pdata extent), split into basic blocks,
// for passes that run single blocks instead of the whole data flow.
type reached struct {
	fn    dataflow.Func
	insns []machineInsn // sorted by address once decoded
	calls []ir.Operand  // the targets of its calls and tail jumps
	// at maps, while decoding, each byte of the extent to 1 + the index of
	// the machine instruction starting there; -1 marks the other bytes of
	// one.
	at []int32
	// blocks are the basic blocks in address order.
	blocks []rblock
	seeds  *seeder
	// dispatches counts the switch jumps.
	dispatches int
	// stored lists the globals the function stores to directly, taken the
	// image addresses it computes (a store through one may reach the
	// globals near it).
	stored []globalKey
	taken  []uint32
}

// rblock is a basic block of a reached function.
type rblock struct {
	first, end int    // its machine instructions: reached.insns[first:end]
	next       uint32 // the address after its last instruction
	succs      []int32
	preds      []int32
	marks      uint8     // its instructions' marks
	leaves     bool      // control leaves the function at its end
	reached    bool      // control reaches it from the entry
	lifted     []ir.Insn // its instructions lifted, once it has run (reached.lifted)
}

// reached returns the function at start decoded, split into blocks, its
// machine instructions marked, once; nil when the quick passes cannot
// stand for the full analysis there (see reach).
func (im *image) reached(start uint32) *reached {
	if r, ok := im.reachMemo[start]; ok {
		return r
	}
	if im.budget <= 0 {
		return nil // the full analysis says the limit was reached
	}
	var r *reached
	if fn, ok := im.funcAt(start); ok && fn.Start == start {
		im.budget-- // decoding counts against MaxFunctions as analysing does
		r = im.reach(fn)
	}
	im.reachMemo[start] = r
	return r
}

// reach decodes fn by recursive descent, as dataflow.Analyze does, and
// splits it into basic blocks. A function with a switch (a jump through a
// register or a table) is decoded as the full analysis does too: the code
// no branch reaches is swept for the cases, whose blocks follow every
// dispatch. It fails (nil) where the full analysis would see something
// single blocks cannot stand for: a 32-bit function (x86 arguments are
// pushed, and a push before a block's start moves what its calls pop), or
// a jump into the middle of an instruction. A function without .pdata ends
// where the next known one starts, as for the full analysis.
func (im *image) reach(fn dataflow.Func) *reached {
	if fn.End <= fn.Start || fn.End-fn.Start > maxQuickSpan || im.arch.PtrSize != 8 {
		return nil
	}
	span := fn.End - fn.Start
	if uint32(len(im.atScratch)) < span {
		im.atScratch = make([]int32, span)
	}
	scratch, calls := im.insnScratch, im.callScratch
	im.insnScratch, im.callScratch = nil, nil
	r := &reached{fn: fn, at: im.atScratch[:span], insns: scratch[:0], calls: calls[:0]}
	defer func() {
		clear(im.atScratch[:span]) // the scratch is the next function's
		im.insnScratch, im.callScratch = scratch[:0], calls[:0]
	}()
	leaders := []uint32{fn.Start}
	if !r.traverse(im, fn.Start, &leaders) || len(r.insns) > im.maxInsns() {
		return nil
	}
	var cases []uint32
	if r.dispatches > 0 {
		var ok bool
		if cases, ok = r.sweep(im, &leaders); !ok {
			return nil
		}
	}
	for _, l := range leaders {
		if i, ok := r.index(l); ok {
			r.insns[i].leader = true
		}
	}
	im.stats.Instructions += len(r.insns)
	scratch, calls = r.insns, r.calls // grown while decoding
	r.insns = r.inAddressOrder(im)
	r.calls = im.ws.calls.alloc(len(calls))
	copy(r.calls, calls)
	r.at = nil // indices into the unsorted instructions
	r.split(im)
	if len(r.blocks) > im.maxBlocks() {
		return nil // the full analysis truncates it, and says so
	}
	if r = r.linkCases(cases); r != nil {
		r.markReached()
	}
	return r
}

// maxInsns and maxBlocks are the engine's limits on one function: a
// function past them goes to the full analysis, which marks its result
// truncated.
func (im *image) maxInsns() int {
	if n := im.opts.Engine.MaxInsns; n > 0 {
		return n
	}
	return dataflow.DefaultLimits.MaxInsns
}

func (im *image) maxBlocks() int {
	if n := im.opts.Engine.MaxBlocks; n > 0 {
		return n
	}
	return dataflow.DefaultLimits.MaxBlocks
}

// inAddressOrder returns the decoded instructions sorted by address: in
// the order the byte map holds them (no comparisons; the last instruction
// may run past the end but starts inside).
func (r *reached) inAddressOrder(im *image) []machineInsn {
	out := im.ws.insns.alloc(len(r.insns))[:0]
	for _, at := range r.at {
		if at > 0 {
			out = append(out, r.insns[at-1])
		}
	}
	return out
}

// traverse decodes, by recursive descent from start, every instruction
// the function's direct branches reach, recording block leaders.
func (r *reached) traverse(im *image, start uint32, leaders *[]uint32) bool {
	fn := r.fn
	for todo := []uint32{start}; len(todo) > 0; {
		pc := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		for pc >= fn.Start && pc < fn.End {
			if at := r.at[pc-fn.Start]; at != 0 {
				if at < 0 {
					return false // into the middle of an instruction
				}
				break
			}
			if len(r.insns) > im.maxInsns() {
				return false
			}
			m := r.decode(im, pc)
			switch m.kind {
			case ir.Jump:
				if m.intra {
					todo, *leaders = append(todo, m.target), append(*leaders, m.target)
				}
			case ir.Branch:
				if m.intra {
					todo, *leaders = append(todo, m.target), append(*leaders, m.target)
				}
				*leaders = append(*leaders, m.next)
			}
			if k := m.kind; k == ir.Jump || k == ir.Ret || k == ir.Halt {
				break
			}
			pc = m.next
		}
	}
	return true
}

// sweep finds the code of the extent no direct branch reaches (the cases
// of a switch) by a linear sweep, as the full analysis does, and returns
// the roots of those regions.
func (r *reached) sweep(im *image, leaders *[]uint32) ([]uint32, bool) {
	var roots []uint32
	for pc := r.fn.Start; pc < r.fn.End; {
		if at := r.at[pc-r.fn.Start]; at != 0 {
			if at < 0 {
				return nil, false
			}
			pc = r.insns[at-1].next
			continue
		}
		code := im.Code(pc)
		if len(code) == 0 {
			break
		}
		insns, n, err := im.dec.Lift(code, pc, im.liftScratch[:0])
		im.liftScratch = insns[:0]
		switch {
		case err != nil || n <= 0 || len(insns) == 0:
			pc++
			continue
		case len(insns) == 1 && (insns[0].Kind == ir.Nop || insns[0].Kind == ir.Halt):
			pc += uint32(n) // padding
			continue
		}
		roots = append(roots, pc)
		*leaders = append(*leaders, pc)
		if !r.traverse(im, pc, leaders) {
			return nil, false
		}
	}
	return roots, true
}

// maxCaseEdges bounds the edges from a function's dispatches to its cases.
const maxCaseEdges = 1 << 16

// linkCases makes the blocks at cases successors of every dispatch block;
// nil when there would be too many edges.
func (r *reached) linkCases(cases []uint32) *reached {
	if len(cases) == 0 {
		return r
	}
	var dispatch []int32
	for i := range r.blocks {
		if r.insns[r.blocks[i].end-1].dispatch {
			dispatch = append(dispatch, int32(i))
		}
	}
	if len(dispatch)*len(cases) > maxCaseEdges {
		return nil
	}
	for _, c := range cases {
		k, ok := r.index(c)
		if !ok {
			continue
		}
		j := r.insns[k].block
		for _, d := range dispatch {
			r.blocks[d].succs = append(r.blocks[d].succs, j)
			r.blocks[j].preds = append(r.blocks[j].preds, d)
		}
	}
	return r
}

// mark returns what in does that a quick pass looks for.
func (im *image) mark(fn dataflow.Func, in *ir.Insn) uint8 {
	var m uint8
	// A switch's jump is no call: its target is the function's own code.
	if in.Kind == ir.Call || (in.Kind == ir.Jump && !isSwitchJump(in) && im.isTailJump(fn, in)) {
		m |= markCall
	}
	if im.touchesImage(in) {
		m |= markStore
	}
	switch {
	case in.Kind != ir.Store || in.Mem.Global:
	case in.Mem.Base == im.arch.SP:
		m |= markSpill // never a global: the stack pointer holds a stack address or nothing known
	default:
		m |= markStoreReg
	}
	return m
}

// split forms the basic blocks of r (machine instructions sorted by
// address) and their edges. The blocks' edge lists share two arrays (a
// switch's cases, linked later, append beyond them).
func (r *reached) split(im *image) {
	n := 0
	for i := range r.insns {
		if r.startsBlock(i) {
			n++
		}
	}
	r.blocks = im.ws.blocks.alloc(n)[:0]
	for i := range r.insns {
		m := &r.insns[i]
		if r.startsBlock(i) {
			if n := len(r.blocks); n > 0 {
				r.blocks[n-1].end = i
			}
			r.blocks = append(r.blocks, rblock{first: i})
		}
		b := &r.blocks[len(r.blocks)-1]
		m.block = int32(len(r.blocks) - 1)
		b.next, b.marks = m.next, b.marks|m.marks
	}
	if n := len(r.blocks); n > 0 {
		r.blocks[n-1].end = len(r.insns)
	}
	succs := im.ws.edges.alloc(2 * len(r.blocks))[:0]
	npreds := im.ws.edges.alloc(len(r.blocks) + 1)
	for i := range r.blocks {
		first := len(succs)
		succs = r.link(i, succs)
		r.blocks[i].succs = succs[first:len(succs):len(succs)]
		for _, t := range r.blocks[i].succs {
			npreds[t+1]++
		}
	}
	for i := 1; i < len(npreds); i++ {
		npreds[i] += npreds[i-1] // where block i's predecessors start
	}
	preds := im.ws.edges.alloc(int(npreds[len(r.blocks)]))
	for i := range r.blocks {
		for _, t := range r.blocks[i].succs {
			b := &r.blocks[t]
			at := npreds[t] + int32(len(b.preds))
			b.preds = preds[npreds[t] : at+1 : at+1]
			preds[at] = int32(i)
		}
	}
}

// startsBlock reports whether machine instruction i of r begins a block.
func (r *reached) startsBlock(i int) bool {
	if i == 0 {
		return true
	}
	m, prev := &r.insns[i], &r.insns[i-1]
	return m.leader || prev.next != m.pc || endsBlock(prev.kind)
}

// run runs block b alone from entry (see dataflow.Run). Its instructions
// are lifted again the first time it runs, and kept for the next runs.
// Runs nest (a run's visitor may resolve a global, which runs other
// blocks), so each takes its own state from the image's free list: a
// caller done with the state it returns gives it back (image.release).
func (r *reached) run(im *image, b int32, entry dataflow.Entry, visit dataflow.Visitor) *dataflow.State {
	st := popFree(&im.runStates)
	fresh := st == nil
	st = dataflow.RunTracked(st, r.lifted(im, b), im.arch, im, entry, visit)
	if fresh { // the workspace frees it for the next image
		im.ws.states = append(im.ws.states, st)
	}
	return st
}

// lifted returns block b's instructions lifted (a Halt where bytes do not
// decode, as in the full analysis), lifting them the first time.
func (r *reached) lifted(im *image, b int32) []ir.Insn {
	blk := &r.blocks[b]
	if blk.lifted != nil {
		return blk.lifted
	}
	buf := im.liftScratch[:0]
	for _, m := range r.insns[blk.first:blk.end] {
		n := len(buf)
		if buf, _, _ = im.dec.Lift(im.Code(m.pc), m.pc, buf); len(buf) == n {
			buf = append(buf, ir.Insn{Kind: ir.Halt, Addr: m.pc})
		}
	}
	im.liftScratch = buf[:0]
	blk.lifted = im.ws.lifted.alloc(len(buf))
	copy(blk.lifted, buf)
	return blk.lifted
}

// release takes back a state run returned, for the next run.
func (im *image) release(st *dataflow.State) {
	im.runStates = append(im.runStates, st)
}

// link appends to succs the successors of block i (and marks whether
// control leaves the function at its end).
func (r *reached) link(i int, succs []int32) []int32 {
	b := &r.blocks[i]
	last := &r.insns[b.end-1]
	to := func(pc uint32) {
		if k, ok := r.index(pc); ok {
			succs = append(succs, r.insns[k].block)
		}
	}
	switch last.kind {
	case ir.Ret, ir.Halt:
		b.leaves = true
	case ir.Jump:
		if last.intra {
			to(last.target)
		} else {
			b.leaves = true
		}
	case ir.Branch:
		if last.intra {
			to(last.target)
		}
		to(b.next)
	default:
		to(b.next)
	}
	return succs
}

// markReached marks the blocks control reaches from the function's entry
// (through the dispatches of a switch to its cases too).
func (r *reached) markReached() {
	if len(r.blocks) == 0 {
		return
	}
	stack := []int32{0}
	r.blocks[0].reached = true
	for len(stack) > 0 {
		b := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, s := range r.blocks[b].succs {
			if !r.blocks[s].reached {
				r.blocks[s].reached = true
				stack = append(stack, s)
			}
		}
	}
}

// seeder computes, for a block, the registers whose value is known at its
// start whatever the path to it. The writes of a register that reach the
// block are found by walking its predecessors back to the blocks that
// write it (the last write of a block is the one that leaves it; a block
// that leaves the function reaches nothing) or to the function's entry;
// where every one of them leaves the same value (the writing block run
// from its own seeds; the entry value for the entry), the block starts with
// it. Compilers keep a zero, a constant or a parameter in a callee-saved
// register that way (xor ebx, ebx; mov esi, 1; mov r14, rcx). The first
// block, when nothing jumps back to it, starts from the function's entry
// state. Only values the full analysis computes the same (constants,
// symbols) are kept.
type seeder struct {
	r      *reached
	im     *image
	entry  []dataflow.Value // the function's entry registers
	writes []uint64         // per block: the registers it writes
	uses   []uint64         // per block: the registers it reads before writing
	exits  map[int32]*seededExit
	memo   map[int32]*seededEntry
	open   []uint64 // per block: the registers a walk has passed it with
	stack  []seedItem
	// unchanged is the function's test for Entry.Unchanged.
	unchanged func(addr uint64, w uint8) bool
	// cuts counts the searches a loop cut short: a block met again while
	// its own entry or end was being computed knows nothing more there;
	// depth counts the entries being computed.
	cuts, depth int
}

// seededEntry is a block's entry (seeds) and seededExit its end (exit), as
// computed: busy while computing; cut where a loop cut the search short
// (such a result is computed once more on its next use, from outside the
// loop that cut it, then kept).
type seededEntry struct {
	entry                dataflow.Entry
	busy, cut, recounted bool
}

type seededExit struct {
	st                   *dataflow.State
	busy, cut, recounted bool
}

// seedItem is a block a walk for writers visits, with the registers it
// still looks for.
type seedItem struct {
	block int32
	regs  uint64
}

// maxSeedWalk bounds the blocks one search for a register's writes visits.
const maxSeedWalk = 2048

func (r *reached) seeder(im *image) *seeder {
	if r.seeds != nil {
		return r.seeds
	}
	n := len(r.blocks)
	s := &seeder{r: r, im: im, entry: im.entryRegs(), writes: im.ws.masks.alloc(n), uses: im.ws.masks.alloc(n),
		exits: map[int32]*seededExit{}, memo: map[int32]*seededEntry{}}
	s.unchanged = r.unchanged(im)
	r.seeds = s
	for i := range r.blocks {
		b := &r.blocks[i]
		for _, m := range r.insns[b.first:b.end] {
			s.uses[i] |= m.reads &^ s.writes[i]
			s.writes[i] |= m.writes
		}
	}
	return s
}

// seeds returns where block b starts (dataflow.Entry): the registers whose
// value every write reaching it agrees on, and which of them are exact (the
// full analysis's: agreed constants and symbols, and values, unknown ones
// too, that every writer computes exactly); the registers b writes before
// reading them count as exact (no value of theirs is seen). The first
// block, when nothing jumps back to it, starts from the function's entry
// state, exact in every register (the stack pointer too: its frame is the
// function's).
func (s *seeder) seeds(b int32) dataflow.Entry {
	if b == 0 && len(s.r.blocks[0].preds) == 0 {
		return dataflow.Entry{Regs: s.entry, Exact: ^uint64(0), Unchanged: s.unchanged}
	}
	e := s.memo[b]
	switch {
	case e == nil:
		e = &seededEntry{}
		s.memo[b] = e
	case e.busy:
		s.cuts++
		return dataflow.Entry{Unchanged: s.unchanged} // a loop back here knows nothing more
	case !e.cut || e.recounted || s.depth > 0:
		return e.entry
	default:
		e.recounted = true // asked from outside every walk: the loop that cut it is not being walked now
	}
	e.busy = true
	s.depth++
	cuts := s.cuts
	sp := uint64(1) << s.im.arch.SP
	want := s.uses[b] &^ sp
	writers, fromEntry := s.writers(b, want)
	out := dataflow.Entry{Exact: ^want &^ sp, Unchanged: s.unchanged}
	for reg := 0; reg < s.im.arch.NumRegs && reg < 64; reg++ {
		if want&(1<<reg) == 0 {
			continue
		}
		v, exact, ok := s.agree(reg, writers, fromEntry&(1<<reg) != 0)
		if !ok {
			continue
		}
		if _, stack := v.Stack(); stack {
			continue // the writer's frame, not this run's
		}
		if exact || (!v.IsUnknown() && seedable(v)) {
			if out.Regs == nil {
				out.Regs = s.im.ws.values.alloc(s.im.arch.NumRegs)
			}
			out.Regs[reg] = v
			out.Exact |= 1 << reg
		}
	}
	s.depth--
	e.entry, e.busy, e.cut = out, false, s.cuts != cuts
	return out
}

// unchanged returns the test of dataflow.Entry.Unchanged for r's blocks:
// a global r neither stores to nor computes an address near.
func (r *reached) unchanged(im *image) func(uint64, uint8) bool {
	return func(addr uint64, w uint8) bool {
		return addr >= im.base && addr-im.base < uint64(im.size) && !r.mayStore(uint32(addr-im.base), w)
	}
}

// agree returns the value of reg its writers (and the entry) all leave, or
// the set of the constants they leave, and whether every writer computes
// it exactly.
func (s *seeder) agree(reg int, writers []seedItem, fromEntry bool) (dataflow.Value, bool, bool) {
	var v dataflow.Value
	have, exact := false, true
	take := func(x dataflow.Value, xExact bool) bool {
		switch {
		case !have:
			v, have = x, true
		case dataflow.Equal(v, x):
		case v.IsConsts() && x.IsConsts():
			// Different constants: the value is one of them, as the
			// join at the merge says (the full analysis's own join,
			// unless a loop made it widen).
			v = dataflow.Join(v, x)
		default:
			return false
		}
		exact = exact && xExact
		return true
	}
	if fromEntry && (reg >= len(s.entry) || !take(s.entry[reg], true)) {
		return v, false, false
	}
	for _, w := range writers {
		if w.regs&(1<<reg) == 0 {
			continue
		}
		exit := s.exit(w.block)
		if exit == nil || !take(exit.Reg(ir.Reg(reg)), exit.Exact(ir.Reg(reg))) {
			return v, false, false
		}
	}
	return v, exact && have, have
}

// writers walks back from block b's predecessors, for the registers of
// want at once, to the blocks whose writes of them reach b (with the
// registers they write), and returns those and the registers whose entry
// value reaches b. A walk too long makes every register reach from the
// entry with an unknown value: nothing is seeded then.
func (s *seeder) writers(b int32, want uint64) ([]seedItem, uint64) {
	if want == 0 {
		return nil, 0
	}
	if s.open == nil {
		s.open = s.im.ws.masks.alloc(len(s.r.blocks))
	}
	clear(s.open)
	var out []seedItem
	var fromEntry uint64
	if b == 0 {
		fromEntry = want
	}
	stack := s.stack[:0]
	for _, p := range s.r.blocks[b].preds {
		stack = append(stack, seedItem{p, want})
	}
	for steps := 0; len(stack) > 0; {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		regs := it.regs &^ s.open[it.block]
		if regs == 0 {
			continue
		}
		if steps++; steps > maxSeedWalk {
			s.stack = stack[:0]
			return nil, ^uint64(0)
		}
		s.open[it.block] |= regs
		if w := regs & s.writes[it.block]; w != 0 {
			out = append(out, seedItem{it.block, w})
		}
		rest := regs &^ s.writes[it.block]
		if rest == 0 {
			continue
		}
		if it.block == 0 {
			fromEntry |= rest
		}
		for _, p := range s.r.blocks[it.block].preds {
			stack = append(stack, seedItem{p, rest})
		}
	}
	s.stack = stack[:0]
	return out, fromEntry
}

// exit returns the state at the end of block d run from its seeds (nil
// while it is being computed: a loop back to it knows nothing).
func (s *seeder) exit(d int32) *dataflow.State {
	x := s.exits[d]
	switch {
	case x == nil:
		x = &seededExit{}
		s.exits[d] = x
	case x.busy:
		s.cuts++
		return nil
	case !x.cut || x.recounted:
		return x.st
	default:
		x.recounted = true
	}
	x.busy = true
	cuts := s.cuts
	st := s.r.run(s.im, d, s.seeds(d), nil)
	x.st, x.busy, x.cut = st, false, s.cuts != cuts
	return st
}

// reads returns the registers in reads, as a mask: its operands' and
// address registers, a merged write's destination, and at a call or jump
// what the analysis reads there: the argument registers (and x86's
// register inputs), every register where the target is not a constant or
// is a dispatch stub (jmp rax).
func (im *image) reads(in *ir.Insn) uint64 {
	var m uint64
	use := func(reg ir.Reg) {
		if reg < 64 {
			m |= 1 << reg
		}
	}
	mem := func(x ir.Mem) {
		use(x.Base)
		use(x.Index)
	}
	op := func(o ir.Operand) {
		switch o.Kind {
		case ir.KReg:
			use(o.Reg)
		case ir.KMem, ir.KAddr:
			mem(o.Mem)
		}
	}
	op(in.A)
	op(in.B)
	op(in.Target)
	switch in.Kind {
	case ir.Assign:
		if in.Mode == ir.Merge {
			use(in.Dst)
		}
	case ir.Store:
		mem(in.Mem)
	case ir.Call, ir.Jump:
		if in.Target.Kind != ir.KImm || im.jumpsThroughRegister(uint32(in.Target.Imm)) {
			return ^uint64(0)
		}
		for _, reg := range im.arch.ArgRegs {
			use(reg)
		}
		for _, reg := range im.arch.RegInputs {
			use(reg)
		}
	}
	return m
}

// writes returns the registers in writes, as a mask.
func writes(arch *ir.Arch, in *ir.Insn) uint64 {
	var m uint64
	def := func(reg ir.Reg) {
		if reg < 64 {
			m |= 1 << reg
		}
	}
	switch in.Kind {
	case ir.Assign:
		def(in.Dst)
	case ir.Call:
		for _, reg := range arch.CallerSaved {
			def(reg)
		}
		def(arch.Ret)
		def(arch.SP)
	case ir.Clobber:
		for _, reg := range in.Regs {
			def(reg)
		}
	}
	return m
}

// endsBlock reports whether an instruction of kind k ends its basic block.
func endsBlock(k ir.Kind) bool {
	return k == ir.Jump || k == ir.Branch || k == ir.Ret || k == ir.Halt
}

// decode lifts the machine instruction at pc and records what the passes
// need of it.
func (r *reached) decode(im *image, pc uint32) machineInsn {
	code := im.Code(pc)
	lifted, n, err := im.dec.Lift(code, pc, im.liftScratch[:0])
	im.liftScratch = lifted[:0]
	if code == nil || err != nil || n <= 0 || len(lifted) == 0 {
		// Where the full analysis meets bytes it cannot decode, the path
		// ends (a one-byte halt); so it does here.
		lifted, n = append(lifted[:0], ir.Insn{Kind: ir.Halt, Addr: pc}), 1
	}
	m := machineInsn{pc: pc, next: pc + uint32(n)}
	for k := range lifted {
		in := &lifted[k]
		m.reads |= im.reads(in) &^ m.writes
		m.writes |= writes(im.arch, in)
		m.global = m.global || in.A.Mem.Global || in.B.Mem.Global || in.Mem.Global || in.Target.Mem.Global
		switch {
		case in.Kind == ir.Store && in.Mem.Global:
			r.stored = append(r.stored, globalKey{uint32(in.Mem.Disp), in.Width})
		case in.Kind == ir.Assign:
			r.taken = im.appendAddress(r.taken, in.A)
			r.taken = im.appendAddress(r.taken, in.B)
		}
		mk := im.mark(r.fn, in)
		if mk&markCall != 0 && m.call == 0 {
			r.calls = append(r.calls, in.Target)
			m.call = int32(len(r.calls))
		}
		m.marks |= mk
	}
	last := &lifted[len(lifted)-1]
	m.kind = last.Kind
	m.target, m.intra = r.target(last)
	m.viaSlot = (last.Kind == ir.Call || last.Kind == ir.Jump) && last.Target.Kind == ir.KMem && last.Target.Mem.Global
	if isSwitchJump(last) {
		m.dispatch = true // a switch
		r.dispatches++
	}
	r.insns = append(r.insns, m)
	r.at[pc-r.fn.Start] = int32(len(r.insns))
	for b := pc + 1; b < m.next && b < r.fn.End; b++ { // the last may run past the end, as in the full analysis
		r.at[b-r.fn.Start] = -1
	}
	return m
}

// target returns a jump's or branch's constant target and whether it stays
// in the function (as the full analysis and isTailJump decide).
func (r *reached) target(in *ir.Insn) (uint32, bool) {
	if in.Target.Kind != ir.KImm {
		return 0, false
	}
	t := uint32(in.Target.Imm)
	return t, t >= r.fn.Start && t < r.fn.End
}

// index returns the machine instruction starting at pc: while decoding,
// from r.at; after, by binary search of the sorted instructions.
func (r *reached) index(pc uint32) (int, bool) {
	if pc < r.fn.Start || pc >= r.fn.End {
		return 0, false
	}
	if r.at != nil {
		at := r.at[pc-r.fn.Start]
		return int(at) - 1, at > 0
	}
	i := sort.Search(len(r.insns), func(i int) bool { return r.insns[i].pc >= pc })
	return i, i < len(r.insns) && r.insns[i].pc == pc
}

// jumpsThroughRegister reports whether the code at rva begins with a jump
// through a register (x86 and x64: FF /4 with a register operand, with or
// without a REX prefix), as a dispatch stub does; ARM64 code has none.
func (im *image) jumpsThroughRegister(rva uint32) bool {
	if im.isARM64() {
		return false
	}
	code := im.Code(rva)
	if len(code) > 0 && code[0]&0xF0 == 0x40 && im.arch.PtrSize == 8 {
		code = code[1:] // REX
	}
	return len(code) >= 2 && code[0] == 0xFF && code[1]&0xF8 == 0xE0
}

// readElsewhere returns the registers some block other than i reads before
// writing them: a value left in another register at i's end is read by no
// one.
func (s *seeder) readElsewhere(i int32) uint64 {
	var m uint64
	for j, u := range s.uses {
		if int32(j) != i {
			m |= u
		}
	}
	return m
}

// mayStore reports whether the function may store to the global of w
// bytes at rva: directly, or through an address it computes.
func (r *reached) mayStore(rva uint32, w uint8) bool {
	for _, a := range r.taken {
		if near(a, rva, w) {
			return true
		}
	}
	for _, g := range r.stored {
		if g.rva < rva+uint32(w) && rva < g.rva+uint32(max(g.w, 1)) {
			return true
		}
	}
	return false
}

// isSwitchJump reports whether in is a jump through a register or through
// a table indexed by one (a switch's dispatch; a jump through a global is
// a tail call), as dataflow's own switch test says.
func isSwitchJump(in *ir.Insn) bool {
	return in.Kind == ir.Jump && (in.Target.Kind == ir.KReg || (in.Target.Kind == ir.KMem && !in.Target.Mem.Global))
}

// TakeState implements dataflow.StateBuffers: the full analysis's block
// states come from the same free list as the quick passes' runs, and new
// ones are freed by the workspace for the next image, as theirs are.
func (im *image) TakeState() *dataflow.State {
	if st := popFree(&im.runStates); st != nil {
		return st
	}
	st := &dataflow.State{}
	im.ws.states = append(im.ws.states, st)
	return st
}

// ReturnState implements dataflow.StateBuffers.
func (im *image) ReturnState(st *dataflow.State) { im.release(st) }

// TakeScratch implements dataflow.ScratchLender: the full analysis's
// lifted instructions, maps and lists are kept from one function to the
// next, and from image to image by the workspace.
func (im *image) TakeScratch() *dataflow.Scratch { return popFree(&im.scratches) }

// ReturnScratch implements dataflow.ScratchLender.
func (im *image) ReturnScratch(sc *dataflow.Scratch) { im.scratches = append(im.scratches, sc) }
