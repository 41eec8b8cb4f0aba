package dataflow

import (
	"container/heap"
	"fmt"
	"sort"

	"github.com/hvcicheck/hvcicheck/ir"
)

// Env is what the engine asks of the image while it analyses a function.
type Env interface {
	// Code returns the bytes from rva to the end of its executable section,
	// or nil when rva is not in executable code.
	Code(rva uint32) []byte
	// ImageBase and SizeOfImage place image-relative addresses.
	ImageBase() uint64
	SizeOfImage() uint32
	// LoadGlobal returns the value of w bytes at image RVA rva.
	LoadGlobal(rva uint32, w uint8) Value
	// LoadIndirect returns the value of w bytes at (symbol s) + disp, such
	// as an entry of a function table whose address is symbolic.
	LoadIndirect(s Sym, disp int64, w uint8) Value
	// CallEffect returns the value a call leaves in the return register and
	// how many bytes of arguments the callee pops (x86 stdcall; -1 when the
	// client does not know: the engine then infers it), given the state
	// before the call. It may update st's stack slots for what the
	// callee writes through pointer arguments.
	CallEffect(in *ir.Insn, st *State) (ret Value, pop int64)
	// IsFunctionStart reports whether rva begins a function other than the
	// one being analysed: a jump there is a tail call.
	IsFunctionStart(rva uint32) bool
}

// Func is the function to analyse: its entry and, where known, its end
// (exclusive; 0 when unknown).
type Func struct {
	Start, End uint32
}

// Limits bound one function's analysis. Zero fields take DefaultLimits.
type Limits struct {
	MaxInsns  int // machine instructions decoded
	MaxBlocks int // basic blocks
	MaxVisits int // times a block is re-analysed before its changing values widen to unknown
	MaxSteps  int // block analyses in all
	MaxSpan   uint32
}

// DefaultLimits are the limits used for zero fields of Limits.
var DefaultLimits = Limits{MaxInsns: 50000, MaxBlocks: 8000, MaxVisits: 6, MaxSteps: 200000, MaxSpan: 1 << 20}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxInsns > 0 {
		d.MaxInsns = l.MaxInsns
	}
	if l.MaxBlocks > 0 {
		d.MaxBlocks = l.MaxBlocks
	}
	if l.MaxVisits > 0 {
		d.MaxVisits = l.MaxVisits
	}
	if l.MaxSteps > 0 {
		d.MaxSteps = l.MaxSteps
	}
	if l.MaxSpan > 0 {
		d.MaxSpan = l.MaxSpan
	}
	return d
}

// Result says how an analysis went.
type Result struct {
	Insns int // machine instructions decoded
	// Undecodable counts paths that ended at bytes the front end could not
	// decode.
	Undecodable int
	// Truncated is set when a limit stopped the analysis: some code was
	// not reached, and the values at the visited sites may miss the paths
	// through it (a block past MaxBlocks or MaxInsns that jumps back) or
	// the later iterations of a loop (MaxSteps): they are not sound then.
	Truncated bool
	// IndirectJumps counts jumps whose target was not a constant (switch
	// tables, computed tail calls); the code behind them was not followed.
	IndirectJumps int
}

// Visitor is called, after the fixpoint, for every lifted instruction of
// every reachable block, with the state just before it. st must not be
// retained.
type Visitor func(in *ir.Insn, st *State)

type block struct {
	start  uint32
	insns  []ir.Insn
	succs  []int
	in     *State
	visits int
}

// Analyze runs the data flow of fn to a fixpoint and then replays every
// reachable block, calling visit before each instruction.
func Analyze(fn Func, dec ir.Decoder, env Env, lim Limits, visit Visitor) (Result, error) {
	lim = lim.withDefaults()
	a := &analysis{fn: fn, dec: dec, arch: dec.Arch(), env: env, lim: lim}
	a.scratch = &Scratch{}
	if lender, ok := env.(ScratchLender); ok {
		if sc := lender.TakeScratch(); sc != nil {
			a.scratch = sc
		}
		defer func() { // after the states' return below, which reads the blocks
			sc := a.scratch
			sc.order, sc.arena, sc.flat = a.blocks[:0], a.arena[:0], a.flat[:0]
			lender.ReturnScratch(sc)
		}()
	}
	a.scratch.reset()
	a.arena, a.flat = a.scratch.arena[:0], a.scratch.flat[:0]
	if states, ok := env.(StateBuffers); ok {
		a.states = states
		defer a.returnStates()
	}
	if err := a.buildCFG(); err != nil {
		return a.res, err
	}
	a.fixpoint()
	a.replay(visit)
	return a.res, nil
}

// Scratch is the storage of one analysis that the next may take over (see
// ScratchLender): its maps are emptied and its slices truncated, not freed,
// so that a function's analysis costs no allocation once the storage has
// grown to its size. The zero value is ready. Between analyses it holds
// nothing but storage that the next one overwrites.
type Scratch struct {
	// arena and flat hold the function's lifted instructions
	// (analysis.arena, analysis.flat).
	arena, flat []ir.Insn
	code        map[uint32]*decoded // the decoded instructions by address
	leaders     map[uint32]bool
	index       map[uint32]int // block starts → block numbers
	batches     [][]decoded    // where decoded instructions are stored
	batch       int            // the batch being filled
	blocks      []block        // the blocks' storage
	order       []*block       // the analysis's blocks (analysis.blocks)
	succs       []int          // the blocks' successor lists
	starts      []uint32
	todo        []uint32
	queued      []bool
	work        blockHeap
}

// decodedBatch is the number of decoded instructions stored per batch.
const decodedBatch = 256

// reset empties sc for a new analysis.
func (sc *Scratch) reset() {
	if sc.code == nil {
		sc.code, sc.leaders, sc.index = map[uint32]*decoded{}, map[uint32]bool{}, map[uint32]int{}
	}
	clear(sc.code)
	clear(sc.leaders)
	clear(sc.index)
	for i := range sc.batches {
		sc.batches[i] = sc.batches[i][:0]
	}
	sc.batch = 0
	clear(sc.blocks)
	sc.blocks, sc.order, sc.succs = sc.blocks[:0], sc.order[:0], sc.succs[:0]
	sc.starts, sc.todo, sc.queued, sc.work = sc.starts[:0], sc.todo[:0], sc.queued[:0], sc.work[:0]
}

// ScratchLender is implemented by an Env that lends Analyze its storage
// (Scratch), so that one function's serves the next. Analyze takes one
// (nil: it makes its own) and gives it back when done; it must not be lent
// to anyone else meanwhile (Analyze may be called again, for another
// function, from inside a visitor).
type ScratchLender interface {
	TakeScratch() *Scratch
	ReturnScratch(*Scratch)
}

// StateBuffers is implemented by an Env that lends Analyze the states of a
// function's blocks, so that one function's states serve the next.
// Analyze takes a state whenever it needs one (TakeState may return nil:
// Analyze then makes one) and, once it has replayed the function, gives
// every state it used back with ReturnState (whatever state TakeState
// returned is overwritten first). A state is given back at most once, and
// none is used by Analyze after that.
type StateBuffers interface {
	TakeState() *State
	ReturnState(*State)
}

type analysis struct {
	fn     Func
	dec    ir.Decoder
	arch   *ir.Arch
	env    Env
	lim    Limits
	res    Result
	blocks []*block
	// switches counts the jumps that look like switch dispatches.
	switches int
	// arena holds the lifted instructions of the whole function, in the
	// order they are decoded, and flat the same in block order.
	arena, flat []ir.Insn
	// scratch is the analysis's storage (maps, decoded instructions,
	// blocks, work lists).
	scratch *Scratch
	// states lends the blocks' states (nil: they are allocated); spare is
	// a block's working state no edge kept, for the next block.
	states StateBuffers
	spare  *State
}

// takeState returns a state to overwrite (nil: cloneInto makes one).
func (a *analysis) takeState() *State {
	if a.states == nil {
		return nil
	}
	return a.states.TakeState()
}

// returnStates gives every block's state, and the spare, back to the
// lender.
func (a *analysis) returnStates() {
	for _, b := range a.blocks {
		if b.in != nil {
			a.states.ReturnState(b.in)
			b.in = nil
		}
	}
	if a.spare != nil {
		a.states.ReturnState(a.spare)
		a.spare = nil
	}
}

// intra reports whether a jump to t stays inside the function.
func (a *analysis) intra(t uint32) bool {
	if t < a.fn.Start && a.fn.End != 0 {
		return false
	}
	if a.fn.End != 0 {
		return t < a.fn.End
	}
	if t == a.fn.Start {
		return true
	}
	return t > a.fn.Start && t-a.fn.Start < a.lim.MaxSpan && !a.env.IsFunctionStart(t)
}

// decoded is one machine instruction's lift.
type decoded struct {
	insns []ir.Insn
	next  uint32
	ends  bool // control does not fall through
}

func (a *analysis) buildCFG() error {
	code, leaders := a.scratch.code, a.scratch.leaders
	leaders[a.fn.Start] = true
	a.traverse(code, leaders, a.fn.Start)
	if len(code) == 0 {
		return fmt.Errorf("function at 0x%x: no decodable code", a.fn.Start)
	}
	var orphans []uint32
	if a.switches > 0 && a.fn.End != 0 {
		orphans = a.sweepOrphans(code, leaders)
	}
	a.formBlocks(code, leaders, orphans)
	return nil
}

// traverse decodes, by recursive descent from start, every instruction the
// function's direct branches reach, recording block leaders.
func (a *analysis) traverse(code map[uint32]*decoded, leaders map[uint32]bool, start uint32) {
	todo := append(a.scratch.todo[:0], start)
	defer func() { a.scratch.todo = todo[:0] }()
	for len(todo) > 0 {
		pc := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		for {
			if _, seen := code[pc]; seen || !a.intra(pc) {
				break
			}
			if a.res.Insns >= a.lim.MaxInsns {
				a.res.Truncated = true
				break
			}
			d := a.decodeAt(pc)
			code[pc] = d
			a.res.Insns++
			a.countIndirect(d)
			for _, t := range a.branchTargets(d) {
				if !leaders[t] {
					leaders[t] = true
					todo = append(todo, t)
				}
			}
			if d.ends {
				break
			}
			pc = d.next
		}
	}
}

// countIndirect counts jumps whose target is not a constant, and among them
// the likely switch dispatches: through a register, or through memory
// indexed by a register (a jump through a global is a tail call).
func (a *analysis) countIndirect(d *decoded) {
	last := d.insns[len(d.insns)-1]
	if last.Kind != ir.Jump || last.Target.Kind == ir.KImm {
		return
	}
	a.res.IndirectJumps++
	if isSwitch(last) {
		a.switches++
	}
}

func isSwitch(in ir.Insn) bool {
	return in.Kind == ir.Jump && (in.Target.Kind == ir.KReg || (in.Target.Kind == ir.KMem && !in.Target.Mem.Global))
}

// sweepOrphans finds the code of the function's extent that no direct
// branch reaches (the cases of a switch, reached through a jump table) by a
// linear sweep, and returns the roots of those regions.
// The sweep ends where the code ends and after MaxSpan bytes: a damaged
// .pdata entry may claim an extent of gigabytes.
func (a *analysis) sweepOrphans(code map[uint32]*decoded, leaders map[uint32]bool) []uint32 {
	var roots []uint32
	end := min(uint64(a.fn.End), uint64(a.fn.Start)+uint64(a.lim.MaxSpan))
	pc := uint64(a.fn.Start)
	for pc < end && a.res.Insns < a.lim.MaxInsns {
		if d, ok := code[uint32(pc)]; ok {
			pc = max(uint64(d.next), pc+1)
			continue
		}
		bytes := a.env.Code(uint32(pc))
		if len(bytes) == 0 {
			break // past the end of the code
		}
		insns, n, err := a.dec.Lift(bytes, uint32(pc), nil)
		if err != nil || n <= 0 || len(insns) == 0 {
			pc++
			continue
		}
		if k := insns[0].Kind; len(insns) == 1 && (k == ir.Nop || k == ir.Halt) {
			pc += uint64(n) // padding
			continue
		}
		roots = append(roots, uint32(pc))
		leaders[uint32(pc)] = true
		a.traverse(code, leaders, uint32(pc))
	}
	if pc < end && a.res.Insns >= a.lim.MaxInsns {
		a.res.Truncated = true // the budget ran out before the sweep's end
	}
	if pc >= end && end < uint64(a.fn.End) && len(a.env.Code(uint32(pc))) > 0 {
		a.res.Truncated = true // code left beyond MaxSpan
	}
	return roots
}

// maxArena bounds the instructions allocated before any is decoded.
const maxArena = 4096

// newDecoded returns d stored in the analysis's slab.
func (a *analysis) newDecoded(d decoded) *decoded {
	sc := a.scratch
	if sc.batch < len(sc.batches) && len(sc.batches[sc.batch]) == decodedBatch {
		sc.batch++
	}
	if sc.batch == len(sc.batches) {
		sc.batches = append(sc.batches, make([]decoded, 0, decodedBatch))
	}
	b := append(sc.batches[sc.batch], d)
	sc.batches[sc.batch] = b
	return &b[len(b)-1]
}

func (a *analysis) decodeAt(pc uint32) *decoded {
	bytes := a.env.Code(pc)
	if len(bytes) == 0 {
		a.res.Undecodable++
		return &decoded{insns: []ir.Insn{{Kind: ir.Halt, Addr: pc}}, next: pc + 1, ends: true}
	}
	// Lift appends to one arena for the whole function: one allocation
	// amortised over many instructions instead of one per instruction.
	if len(a.arena) == 0 {
		// About one lifted instruction per 3 bytes of code, at most
		// maxArena up front (append grows it): a damaged .pdata entry may
		// claim gigabytes for a function of three instructions.
		n := 256
		if a.fn.End > a.fn.Start {
			n = min(int(a.fn.End-a.fn.Start)/3+16, a.lim.MaxInsns, maxArena)
		}
		if cap(a.arena) < n {
			a.arena = make([]ir.Insn, 0, n)
		}
	}
	start := len(a.arena)
	arena, n, err := a.dec.Lift(bytes, pc, a.arena)
	if err != nil || n <= 0 || len(arena) == start {
		a.res.Undecodable++
		return &decoded{insns: []ir.Insn{{Kind: ir.Halt, Addr: pc}}, next: pc + 1, ends: true}
	}
	a.arena = arena
	insns := arena[start:len(arena):len(arena)]
	d := a.newDecoded(decoded{insns: insns, next: pc + uint32(n)})
	switch last := insns[len(insns)-1]; last.Kind {
	case ir.Jump, ir.Ret, ir.Halt:
		d.ends = true
	case ir.Branch:
		// falls through as well
	}
	return d
}

// branchTargets returns the intra-function targets of a decoded
// instruction, plus its fall-through when it is a conditional branch.
func (a *analysis) branchTargets(d *decoded) []uint32 {
	last := d.insns[len(d.insns)-1]
	var out []uint32
	switch last.Kind {
	case ir.Branch:
		if last.Target.Kind == ir.KImm && a.intra(uint32(last.Target.Imm)) {
			out = append(out, uint32(last.Target.Imm))
		}
		out = append(out, d.next)
	case ir.Jump:
		if last.Target.Kind == ir.KImm && a.intra(uint32(last.Target.Imm)) {
			out = append(out, uint32(last.Target.Imm))
		}
	}
	return out
}

// formBlocks splits the decoded code into basic blocks. A switch dispatch
// gets the orphan regions as successors: their state is the dispatch's.
// The edges go through one empty block, the hub (the join of every
// dispatch's state, passed on to every orphan region), so that n dispatches
// and m regions cost n+m edges, not n*m (code where every case ends with an
// indirect jump).
func (a *analysis) formBlocks(code map[uint32]*decoded, leaders map[uint32]bool, orphans []uint32) {
	sc := a.scratch
	starts := sc.starts[:0]
	defer func() { sc.starts = starts[:0] }()
	for l := range leaders {
		if _, ok := code[l]; ok {
			starts = append(starts, l)
		}
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	if len(starts) > a.lim.MaxBlocks {
		starts = starts[:a.lim.MaxBlocks]
		a.res.Truncated = true
	}
	index := sc.index
	if cap(sc.blocks) < len(starts)+1 { // the pointers into it must not move
		sc.blocks = make([]block, 0, len(starts)+1+len(starts)/4)
	}
	sc.blocks = sc.blocks[:len(starts)+1]
	a.blocks = sc.order[:0]
	for i, s := range starts {
		index[s] = i
		sc.blocks[i] = block{start: s}
		a.blocks = append(a.blocks, &sc.blocks[i])
	}
	hub := &sc.blocks[len(starts)]
	*hub = block{start: a.fn.Start}
	// Every block's successors go into one slice, block after block.
	succs := sc.succs[:0]
	defer func() { sc.succs = succs[:0] }()
	for _, o := range orphans {
		if i, ok := index[o]; ok {
			succs = append(succs, i)
		}
	}
	hub.succs = succs[0:len(succs):len(succs)]
	if len(hub.succs) > 0 {
		a.blocks = append(a.blocks, hub) // last: it runs after the dispatches queued with it
	}
	// Every block's instructions go into one allocation.
	total := 0
	for _, d := range code {
		total += len(d.insns)
	}
	if cap(a.flat) < total {
		a.flat = make([]ir.Insn, 0, total)
	}
	flat := a.flat[:0]
	for _, b := range a.blocks[:len(starts)] {
		pc := b.start
		first, firstSucc := len(flat), len(succs)
		for {
			d := code[pc]
			flat = append(flat, d.insns...)
			b.insns = flat[first:len(flat):len(flat)]
			if d.ends || d.insns[len(d.insns)-1].Kind == ir.Branch {
				for _, t := range a.branchTargets(d) {
					if i, ok := index[t]; ok {
						succs = append(succs, i)
					}
				}
				if isSwitch(d.insns[len(d.insns)-1]) && len(hub.succs) > 0 {
					succs = append(succs, len(starts))
				}
				break
			}
			pc = d.next
			if i, ok := index[pc]; ok {
				succs = append(succs, i)
				break
			}
			if code[pc] == nil {
				break
			}
		}
		b.succs = succs[firstSucc:len(succs):len(succs)]
	}
}

func (a *analysis) fixpoint() {
	if len(a.blocks) == 0 {
		return
	}
	a.blocks[0].in = newEntryState(a.arch)
	a.blocks[0].in.env = a.env // the visitor sees the first instruction before any step sets it
	sc := a.scratch
	queued := sc.queued[:0]
	for range a.blocks {
		queued = append(queued, false)
	}
	sc.queued = queued
	// Lowest address first: a cheap approximation of reverse postorder.
	sc.work = append(sc.work[:0], 0)
	work := &sc.work
	queued[0] = true
	steps := 0
	for work.Len() > 0 {
		i := heap.Pop(work).(int)
		queued[i] = false
		if steps++; steps > a.lim.MaxSteps {
			a.res.Truncated = true
			return
		}
		b := a.blocks[i]
		b.visits++
		if a.spare == nil {
			a.spare = a.takeState()
		}
		st := b.in.cloneInto(a.spare)
		a.spare = st
		for k := range b.insns {
			a.step(st, b.insns, k)
		}
		for i, s := range b.succs {
			last := i == len(b.succs)-1
			kept := last && a.blocks[s].in == nil
			if a.propagate(s, st, last) && !queued[s] {
				queued[s] = true
				heap.Push(work, s)
			}
			if kept {
				a.spare = nil // st became that block's entry state
			}
		}
	}
}

// blockHeap is the work list: block indices, lowest first.
type blockHeap []int

func (h blockHeap) Len() int           { return len(h) }
func (h blockHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h blockHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *blockHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *blockHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// propagate joins st into block to's entry state. With last set, st is not
// used again and may become that state itself.
func (a *analysis) propagate(to int, st *State, last bool) bool {
	b := a.blocks[to]
	if b.in == nil {
		if last {
			b.in = st
		} else {
			b.in = st.cloneInto(a.takeState())
		}
		return true
	}
	return b.in.join(st, b.visits >= a.lim.MaxVisits)
}

func (a *analysis) replay(visit Visitor) {
	if visit == nil {
		return
	}
	for _, b := range a.blocks {
		if b.in == nil {
			continue
		}
		st := b.in // the replay is its last use: no copy
		for k := range b.insns {
			visit(&b.insns[k], st)
			a.step(st, b.insns, k)
		}
	}
}
