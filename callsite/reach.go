package callsite

import (
	"sort"

	"github.com/hvcicheck/hvcicheck/dataflow"
	"github.com/hvcicheck/hvcicheck/ir"
)

// maxQuickSpan bounds the extent of a function the quick pass decodes; a
// larger one (or a damaged .pdata entry) gets the full data flow.
const maxQuickSpan = 1 << 18

// machineInsn is one decoded machine instruction of a reached function.
type machineInsn struct {
	pc, next uint32
	lo, hi   int32 // its lifted instructions: reached.lifted[lo:hi]
	leader   bool  // a block starts here
	marks    uint8 // what it does that a pass looks for (mark*)
	block    int32 // its basic block
}

// What a machine instruction does that a pass runs its block for.
const (
	markCall  uint8 = 1 << iota // a call or a tail jump
	markStore                   // a store to a global, or a global's address
)

// reached is a function's code as the full analysis decodes it (recursive
// descent from its start within its .pdata extent), split into basic blocks,
// for passes that run single blocks instead of the whole data flow.
type reached struct {
	fn     dataflow.Func
	lifted []ir.Insn
	insns  []machineInsn
	// at maps, while decoding, each byte of the extent to 1 + the index of
	// the machine instruction starting there; -1 marks the other bytes of
	// one.
	at []int32
	// blocks are the basic blocks in address order.
	blocks []rblock
	seeds  *seeder
}

// rblock is a basic block of a reached function.
type rblock struct {
	lo, hi int    // its lifted instructions: reached.lifted[lo:hi]
	next   uint32 // the address after its last instruction
	succs  []int32
	preds  []int32
	marks  uint8 // its instructions' marks
	leaves bool  // control leaves the function at its end
	idom   int32 // immediate dominator (-1: unreachable or the entry)
	rpo    int32 // reverse postorder number
}

// reached returns the function at start decoded, split into blocks, its
// machine instructions marked, once; nil when the quick passes cannot
// stand for the full analysis there (see reach).
func (im *image) reached(start uint32) *reached {
	if r, ok := im.reachMemo[start]; ok {
		return r
	}
	var r *reached
	if fn, ok := im.funcAt(start); ok && fn.Start == start {
		r = im.reach(fn)
	}
	im.reachMemo[start] = r
	return r
}

// reach decodes fn by recursive descent, as dataflow.Analyze does, and
// splits it into basic blocks. It fails (nil) where the full analysis would
// see something single blocks cannot stand for: no .pdata extent,
// undecodable bytes, a jump into the middle of an instruction, or a jump
// through a register or a table (a switch: its cases are entered from the
// dispatch).
func (im *image) reach(fn dataflow.Func) *reached {
	if fn.End <= fn.Start || fn.End-fn.Start > maxQuickSpan || !im.pdataStart[fn.Start] {
		return nil
	}
	span := fn.End - fn.Start
	if uint32(len(im.atScratch)) < span {
		im.atScratch = make([]int32, span)
	}
	r := &reached{fn: fn, at: im.atScratch[:span], lifted: make([]ir.Insn, 0, min(span/3+16, 4096))}
	defer func() { clear(im.atScratch[:span]) }() // the scratch is the next function's
	leaders := []uint32{fn.Start}
	for todo := []uint32{fn.Start}; len(todo) > 0; {
		pc := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		for pc >= fn.Start && pc < fn.End {
			if at := r.at[pc-fn.Start]; at != 0 {
				if at < 0 {
					return nil // into the middle of an instruction
				}
				break
			}
			m, ok := r.decode(im, pc)
			if !ok {
				return nil
			}
			last := &r.lifted[m.hi-1]
			t, intra := r.target(last)
			switch last.Kind {
			case ir.Jump:
				if last.Target.Kind == ir.KReg || (last.Target.Kind == ir.KMem && !last.Target.Mem.Global) {
					return nil
				}
				if intra {
					todo, leaders = append(todo, t), append(leaders, t)
				}
			case ir.Branch:
				if intra {
					todo, leaders = append(todo, t), append(leaders, t)
				}
				leaders = append(leaders, m.next)
			}
			if k := last.Kind; k == ir.Jump || k == ir.Ret || k == ir.Halt {
				break
			}
			pc = m.next
		}
	}
	for _, l := range leaders {
		if i, ok := r.index(l); ok {
			r.insns[i].leader = true
		}
	}
	im.stats.Instructions += len(r.insns)
	sort.Slice(r.insns, func(i, j int) bool { return r.insns[i].pc < r.insns[j].pc })
	r.at = nil // indices into the unsorted instructions
	r.split()
	return r
}

// mark returns what in does that a quick pass looks for.
func (im *image) mark(fn dataflow.Func, in *ir.Insn) uint8 {
	var m uint8
	if in.Kind == ir.Call || (in.Kind == ir.Jump && im.isTailJump(fn, in)) {
		m |= markCall
	}
	if im.touchesImage(in) {
		m |= markStore
	}
	return m
}

// split forms the basic blocks of r (machine instructions sorted by
// address), their edges and dominators. A block's lifted instructions are a
// range of r.lifted: where decoding order left them apart, a copy is
// appended.
func (r *reached) split() {
	var prev *machineInsn
	var first int // the block's first machine instruction
	for i := range r.insns {
		m := &r.insns[i]
		if m.leader || prev == nil || prev.next != m.pc || endsBlock(r.lifted[prev.hi-1].Kind) {
			r.closeBlock(first, i)
			r.blocks = append(r.blocks, rblock{idom: -1})
			first = i
		}
		b := &r.blocks[len(r.blocks)-1]
		m.block = int32(len(r.blocks) - 1)
		b.next, b.marks = m.next, b.marks|m.marks
		prev = m
	}
	r.closeBlock(first, len(r.insns))
	for i := range r.blocks {
		r.link(i)
	}
	r.dominators()
}

// closeBlock sets the range of the last block, made of r.insns[first:end].
func (r *reached) closeBlock(first, end int) {
	if len(r.blocks) == 0 || first >= end {
		return
	}
	b := &r.blocks[len(r.blocks)-1]
	ms := r.insns[first:end]
	for k := 1; k < len(ms); k++ {
		if ms[k].lo != ms[k-1].hi {
			b.lo = len(r.lifted)
			for _, m := range ms {
				r.lifted = append(r.lifted, r.lifted[m.lo:m.hi]...)
			}
			b.hi = len(r.lifted)
			return
		}
	}
	b.lo, b.hi = int(ms[0].lo), int(ms[len(ms)-1].hi)
}

// link sets the successors of block i.
func (r *reached) link(i int) {
	b := &r.blocks[i]
	last := &r.lifted[b.hi-1]
	to := func(pc uint32) {
		if k, ok := r.index(pc); ok {
			j := r.insns[k].block
			b.succs = append(b.succs, j)
			r.blocks[j].preds = append(r.blocks[j].preds, int32(i))
		}
	}
	t, intra := r.target(last)
	switch last.Kind {
	case ir.Ret, ir.Halt:
		b.leaves = true
	case ir.Jump:
		if intra {
			to(t)
		} else {
			b.leaves = true
		}
	case ir.Branch:
		if intra {
			to(t)
		}
		to(b.next)
	default:
		to(b.next)
	}
}

// dominators computes every block's immediate dominator (Cooper, Harvey
// and Kennedy's iteration over the reverse postorder).
func (r *reached) dominators() {
	n := len(r.blocks)
	if n == 0 {
		return
	}
	order := make([]int32, 0, n) // postorder
	seen := make([]bool, n)
	type frame struct{ b, k int32 }
	stack := []frame{{0, 0}}
	seen[0] = true
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if succs := r.blocks[f.b].succs; int(f.k) < len(succs) {
			s := succs[f.k]
			f.k++
			if !seen[s] {
				seen[s] = true
				stack = append(stack, frame{s, 0})
			}
			continue
		}
		order = append(order, f.b)
		stack = stack[:len(stack)-1]
	}
	for i, b := range order {
		r.blocks[b].rpo = int32(len(order) - 1 - i)
	}
	r.blocks[0].idom = 0
	for changed := true; changed; {
		changed = false
		for i := len(order) - 2; i >= 0; i-- { // reverse postorder, entry skipped
			b := order[i]
			idom := int32(-1)
			for _, p := range r.blocks[b].preds {
				if r.blocks[p].idom < 0 {
					continue
				}
				if idom < 0 {
					idom = p
				} else {
					idom = r.intersect(p, idom)
				}
			}
			if idom >= 0 && r.blocks[b].idom != idom {
				r.blocks[b].idom, changed = idom, true
			}
		}
	}
}

func (r *reached) intersect(a, b int32) int32 {
	for a != b {
		for r.blocks[a].rpo > r.blocks[b].rpo {
			a = r.blocks[a].idom
		}
		for r.blocks[b].rpo > r.blocks[a].rpo {
			b = r.blocks[b].idom
		}
	}
	return a
}

// dominates reports whether block d strictly dominates block b.
func (r *reached) dominates(d, b int32) bool {
	for b != 0 && r.blocks[b].idom >= 0 {
		b = r.blocks[b].idom
		if b == d {
			return true
		}
	}
	return false
}

// seeder computes, for a block, the registers whose value is known at its
// start whatever the path to it. A write in a block that leaves the
// function (an epilogue's restore) reaches no other block; of the other
// writes:
//
//   - a register no other block writes holds its value at the function's
//     entry (an argument's Input symbol, for a wrapper's parameter);
//   - a register written in one block only, that block strictly dominating
//     this one, holds the value it has at the end of that block, run from
//     its own seeds: every path passes through the write and no other
//     write reaches past it. Compilers keep a zero or a constant in a
//     callee-saved register that way (xor ebx, ebx; mov r15d, 1;
//     lea r14d, [rbx+1]), or a parameter (mov ebx, ecx);
//   - the first block, when nothing jumps back to it, starts from the
//     function's entry state.
//
// Only values the full analysis computes the same (constants, symbols) are
// kept.
type seeder struct {
	r     *reached
	im    *image
	entry []dataflow.Value // the function's entry registers
	defs  [ir.MaxRegs]int
	where [ir.MaxRegs]int32 // the writing block of a register written once
	exits map[int32][]dataflow.Value
}

func (r *reached) seeder(im *image) *seeder {
	if r.seeds != nil {
		return r.seeds
	}
	s := &seeder{r: r, im: im, entry: dataflow.EntryRegs(im.arch), exits: map[int32][]dataflow.Value{}}
	r.seeds = s
	for i := range r.blocks {
		b := &r.blocks[i]
		if b.leaves {
			continue
		}
		for k := b.lo; k < b.hi; k++ {
			countDefs(im.arch, &r.lifted[k], &s.defs, &s.where, int32(i))
		}
	}
	return s
}

// seeds returns the known register values at block b's start (nil: none).
func (s *seeder) seeds(b int32) []dataflow.Value {
	if b == 0 && len(s.r.blocks[0].preds) == 0 {
		return s.entry
	}
	var out []dataflow.Value
	for reg := 0; reg < s.im.arch.NumRegs && reg < ir.MaxRegs; reg++ {
		var v dataflow.Value
		d := s.where[reg]
		switch {
		case ir.Reg(reg) == s.im.arch.SP:
			continue
		case s.defs[reg] == 0 && reg < len(s.entry):
			v = s.entry[reg]
		case s.defs[reg] == 1 && d != b && s.r.dominates(d, b):
			v = s.exit(d)[reg]
		default:
			continue
		}
		if v.IsUnknown() || !exactValue(v) {
			continue
		}
		if out == nil {
			out = make([]dataflow.Value, s.im.arch.NumRegs)
		}
		out[reg] = v
	}
	return out
}

// exit returns the registers at the end of block d run from its seeds.
func (s *seeder) exit(d int32) []dataflow.Value {
	if v, ok := s.exits[d]; ok {
		return v
	}
	s.exits[d] = nil // a cycle cannot happen (dominance is a tree); be safe
	b := &s.r.blocks[d]
	st := dataflow.Run(s.r.lifted[b.lo:b.hi], s.im.arch, s.im, s.seeds(d), nil)
	v := st.Regs()
	s.exits[d] = v
	return v
}

// countDefs counts the registers in's writes, recording the block.
func countDefs(arch *ir.Arch, in *ir.Insn, defs *[ir.MaxRegs]int, where *[ir.MaxRegs]int32, b int32) {
	def := func(reg ir.Reg) {
		if int(reg) < len(defs) {
			defs[reg]++
			where[reg] = b
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
	case ir.Clobber:
		for _, reg := range in.Regs {
			def(reg)
		}
	}
}

// endsBlock reports whether an instruction of kind k ends its basic block.
func endsBlock(k ir.Kind) bool {
	return k == ir.Jump || k == ir.Branch || k == ir.Ret || k == ir.Halt
}

// decode lifts the machine instruction at pc and records it.
func (r *reached) decode(im *image, pc uint32) (machineInsn, bool) {
	code := im.Code(pc)
	lo := len(r.lifted)
	lifted, n, err := im.dec.Lift(code, pc, r.lifted)
	if code == nil || err != nil || n <= 0 || len(lifted) == lo || uint64(pc)+uint64(n) > uint64(r.fn.End) {
		return machineInsn{}, false
	}
	r.lifted = lifted
	m := machineInsn{pc: pc, next: pc + uint32(n), lo: int32(lo), hi: int32(len(lifted))}
	for k := lo; k < len(lifted); k++ {
		m.marks |= im.mark(r.fn, &lifted[k])
	}
	r.insns = append(r.insns, m)
	r.at[pc-r.fn.Start] = int32(len(r.insns))
	for b := pc + 1; b < m.next; b++ {
		r.at[b-r.fn.Start] = -1
	}
	return m, true
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
