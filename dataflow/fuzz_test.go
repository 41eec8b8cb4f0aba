package dataflow

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hvcicheck/hvcicheck/ir"
)

// FuzzEngine runs random ir.Insn programs, generated from the fuzz bytes
// (see genProgram), through Analyze with a toy decoder and Env, and checks
// that the analysis ends, does not panic, shows the visitor only the code it
// can reach (and all of it, unless a limit truncated the analysis), and, for
// programs of the "sound" kind, that every register value the visitor sees
// covers what a concrete interpreter computes on random paths through the
// same program (concrete): the lattice must over-approximate.
func FuzzEngine(f *testing.F) {
	for _, seed := range fuzzEngineSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := genProgram(data)
		done := make(chan string, 1)
		go func() {
			defer func() {
				if r := recover(); r != nil {
					done <- fmt.Sprintf("panic: %v", r)
				}
			}()
			done <- p.check()
		}()
		select {
		case msg := <-done:
			if msg != "" {
				t.Fatalf("%s\n%s", msg, p)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no result after 10s\n%s", p)
		}
	})
}

// fuzzEngineSeeds are a few programs of each kind: random bytes, straight
// lines of arithmetic, loops, switches.
func fuzzEngineSeeds() [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	var out [][]byte
	for i := 0; i < 24; i++ {
		b := make([]byte, 16+r.IntN(400))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		b[0] = byte(i % 4) // kinds: sound (even), general (odd)
		out = append(out, b)
	}
	return out
}

// The toy machine of the fuzz test: r0..r3, sp, r5 (callee-saved).
const fzSP ir.Reg = 4

var fuzzArch = &ir.Arch{
	Name: "fuzz", PtrSize: 8, NumRegs: 6, SP: fzSP, Ret: 0,
	ArgRegs: []ir.Reg{1, 2}, CallerSaved: []ir.Reg{0, 1, 2}, RegInputs: []ir.Reg{3},
	StackArgOffset: 0x10, EntryStackArgOffset: 0x18,
	RegName: func(r ir.Reg) string { return fmt.Sprintf("r%d", r) },
}

// Where a program lives: its first instruction at progBase, one byte each;
// read-only globals (whose values the Env gives) and writable ones.
const (
	progBase  = 0x1100
	fzImage   = 0x10000
	roGlobals = 0x2000 // [roGlobals, rwGlobals): read-only, values from roByte
	rwGlobals = 0x3000 // [rwGlobals, rwEnd): writable, Unknown to the Env
	rwEnd     = 0x4000
	// concreteSP is the entry stack pointer of the concrete interpreter:
	// below 2^31, so a 32-bit copy of a stack address is the same address.
	concreteSP = 0x7ff00000
)

// roByte is the byte of read-only global memory at rva.
func roByte(rva uint64) byte { return byte(mix(rva^0x51) >> 7) }

func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// program is one generated function and how to analyse it.
type program struct {
	insns []ir.Insn
	sound bool // only what the concrete interpreter models exactly
	fn    Func
	lim   Limits
	pop   int64    // what CallEffect says callees pop
	init  []uint64 // the concrete registers at entry
	seed  uint64   // the concrete run's branch choices and unknown values
}

func (p *program) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sound=%v fn=%+v lim=%+v pop=%d init=%#x\n", p.sound, p.fn, p.lim, p.pop, p.init)
	for i, in := range p.insns {
		fmt.Fprintf(&b, "  %#x: %s\n", progBase+i, insnText(in))
	}
	return b.String()
}

// insnText shows an instruction compactly.
func insnText(in ir.Insn) string {
	op := func(o ir.Operand) string {
		switch o.Kind {
		case ir.KReg:
			return fmt.Sprintf("r%d", o.Reg)
		case ir.KImm:
			return fmt.Sprintf("%#x", uint64(o.Imm))
		case ir.KMem:
			return "[" + memText(o.Mem) + "]"
		case ir.KAddr:
			return "&[" + memText(o.Mem) + "]"
		}
		return "_"
	}
	ops := []string{"mov", "add", "sub", "and", "or", "xor", "shl", "shr", "sar", "not", "neg", "mul", "sext", "unknown", "select"}
	switch in.Kind {
	case ir.Assign:
		mode := ""
		if in.Mode == ir.Merge {
			mode = " merge"
		}
		return fmt.Sprintf("r%d = %s(%s, %s) w%d sw%d%s", in.Dst, ops[in.Op%15], op(in.A), op(in.B), in.Width, in.SrcWidth, mode)
	case ir.Store:
		return fmt.Sprintf("[%s] = %s w%d", memText(in.Mem), op(in.A), in.Width)
	case ir.Call:
		return "call " + op(in.Target)
	case ir.Jump:
		return "jmp " + op(in.Target)
	case ir.Branch:
		return "br " + op(in.Target)
	case ir.Ret:
		return "ret"
	case ir.Clobber:
		return fmt.Sprintf("clobber %v", in.Regs)
	case ir.Nop:
		return "nop"
	case ir.Halt:
		return "halt"
	}
	return fmt.Sprintf("kind %d", in.Kind)
}

func memText(m ir.Mem) string {
	if m.Global {
		return fmt.Sprintf("g%#x", m.Disp)
	}
	return fmt.Sprintf("r%d+r%d*%d%+#x", m.Base, m.Index, m.Scale, m.Disp)
}

// bytesrc reads the fuzz bytes, zeros past the end.
type bytesrc struct {
	b []byte
	i int
}

func (s *bytesrc) u8() byte {
	if s.i >= len(s.b) {
		return 0
	}
	s.i++
	return s.b[s.i-1]
}

func (s *bytesrc) u64() uint64 {
	var v uint64
	for i := 0; i < 8; i++ {
		v |= uint64(s.u8()) << (8 * i)
	}
	return v
}

// pick returns one of xs, chosen by the next byte.
func pick[T any](s *bytesrc, xs ...T) T { return xs[int(s.u8())%len(xs)] }

// genProgram builds a program from fuzz bytes: the first byte chooses the
// kind (even: sound, odd: general), the next its length and limits, then
// about 8 bytes per instruction.
func genProgram(data []byte) *program {
	s := &bytesrc{b: data}
	p := &program{sound: s.u8()%2 == 0}
	n := 1 + int(s.u8())%64
	p.fn = Func{Start: progBase, End: progBase + uint32(n)}
	if !p.sound {
		if s.u8()%4 == 0 {
			p.fn.End = 0 // unknown end: MaxSpan and IsFunctionStart bound it
		}
		if s.u8()%2 == 0 {
			p.lim = Limits{MaxInsns: 1 + int(s.u8())%64, MaxBlocks: 1 + int(s.u8())%64, MaxVisits: 1 + int(s.u8())%8, MaxSteps: 1 + int(s.u8())*4, MaxSpan: 1 + uint32(s.u8())}
		}
		p.pop = pick(s, int64(0), -1, 8, 16)
	} else {
		p.pop = pick(s, int64(0), 0, 8, 16) // the concrete callee pops as much
	}
	p.init = make([]uint64, fuzzArch.NumRegs+2)
	for i := range p.init {
		p.init[i] = s.value()
	}
	p.init[fzSP] = concreteSP
	p.seed = s.u64()
	for i := 0; i < n; i++ {
		if p.sound {
			p.insns = append(p.insns, genSound(s, n))
		} else {
			p.insns = append(p.insns, genAny(s, n))
		}
	}
	return p
}

var (
	fzOps    = []ir.Op{ir.OpMov, ir.OpAdd, ir.OpSub, ir.OpAnd, ir.OpOr, ir.OpXor, ir.OpShl, ir.OpShr, ir.OpSar, ir.OpNot, ir.OpNeg, ir.OpMul, ir.OpSext, ir.OpUnknown, ir.OpSelect}
	fzWidths = []uint8{1, 2, 4, 8}
)

// interesting are the constants imm and the entry registers favour.
var interesting = []uint64{0, 1, 2, 4, 8, 0x10, 0x1f, 0x20, 0x3f, 0x40, 0xff, 0x100, 0x200, 0x201, 0x400, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff,
	1 << 63, 0xffffffffffffffff, 0xfffffffffffffff0, 0xffffffffffff0000}

// value returns an interesting constant or, one time in 24, any 64 bits.
func (s *bytesrc) value() uint64 {
	if i := int(s.u8()) % (len(interesting) + 1); i < len(interesting) {
		return interesting[i]
	}
	return s.u64()
}

// imm returns value as an immediate.
func imm(s *bytesrc) int64 { return int64(s.value()) }

// genSound returns an instruction the concrete interpreter models exactly:
// registers r0..r3 and r5 (sp only moved by constants), memory through sp
// or at globals (stores only to the writable ones), direct control flow.
func genSound(s *bytesrc, n int) ir.Insn {
	spMem := func() ir.Mem {
		// Mostly the slots around the caller's argument area.
		d := pick(s, int64(-0x10), -8, 0, 8, 0x10, 0x18, 0x1a, 0x1c, 0x20, 0x24, 0x28, 0x30, 0x40, int64(int8(s.u8())))
		return ir.Mem{Base: fzSP, Index: ir.RegNone, Disp: d}
	}
	mem := func(store bool) ir.Mem {
		if s.u8()%2 == 0 {
			return spMem()
		}
		lo, span := uint16(roGlobals), uint16(rwEnd-roGlobals-16)
		if store {
			lo, span = rwGlobals, rwEnd-rwGlobals-16
		}
		return ir.Mem{Base: ir.RegNone, Index: ir.RegNone, Global: true, Disp: int64(lo + uint16(s.u8())<<4%span + uint16(s.u8()%8))}
	}
	operand := func() ir.Operand {
		switch s.u8() % 8 {
		case 0, 1, 2:
			return ir.R(pick(s, ir.Reg(0), 1, 2, 3, 5))
		case 3, 4:
			return ir.I(imm(s))
		case 5:
			return ir.M(mem(false))
		case 6:
			return ir.A(mem(false))
		}
		return ir.R(fzSP)
	}
	target := func(extra int) ir.Operand { return ir.I(int64(progBase + int(s.u8())%(n+extra))) }
	switch k := s.u8() % 16; {
	case k < 8:
		in := ir.Insn{Kind: ir.Assign, Op: pick(s, fzOps...), Dst: pick(s, ir.Reg(0), 1, 2, 3, 5), Width: pick(s, fzWidths...)}
		in.A, in.B = operand(), operand()
		in.SrcWidth = pick(s, append([]uint8{0}, fzWidths...)...)
		if s.u8()%2 == 0 {
			in.Mode = ir.Merge
		}
		if s.u8()%8 == 0 { // sp moves by a constant
			in = ir.Insn{Kind: ir.Assign, Op: pick(s, ir.OpAdd, ir.OpSub), Dst: fzSP, A: ir.R(fzSP), B: ir.I(8 * int64(s.u8()%8)), Width: 8}
		}
		return in
	case k < 10:
		return ir.Insn{Kind: ir.Store, Mem: mem(true), A: operand(), Width: pick(s, fzWidths...)}
	case k == 10:
		return ir.Insn{Kind: ir.Branch, Target: target(0)}
	case k == 11:
		return ir.Insn{Kind: ir.Jump, Target: target(2)}
	case k == 12:
		return ir.Insn{Kind: ir.Call, Target: ir.I(0x9000)}
	case k == 13:
		regs := []ir.Reg{pick(s, ir.Reg(0), 1, 2, 3, 5)}
		return ir.Insn{Kind: ir.Clobber, Regs: regs[:1:1]}
	case k == 14:
		return ir.Insn{Kind: ir.Nop}
	}
	return ir.Insn{Kind: ir.Ret}
}

// genAny returns any instruction: registers out of range and RegNone,
// widths the front ends never use, indirect jumps (switches), any targets.
func genAny(s *bytesrc, n int) ir.Insn {
	reg := func() ir.Reg { return pick(s, ir.Reg(0), 1, 2, 3, 4, 5, 6, ir.MaxRegs-1, ir.MaxRegs, ir.RegNone) }
	mem := func() ir.Mem {
		m := ir.Mem{Base: reg(), Index: pick(s, ir.RegNone, ir.RegNone, reg()), Scale: pick(s, uint8(0), 1, 2, 4, 8), Disp: imm(s)}
		if s.u8()%4 == 0 {
			m = ir.Mem{Base: ir.RegNone, Index: ir.RegNone, Global: true, Disp: int64(s.u8()) << 8}
		}
		return m
	}
	operand := func() ir.Operand {
		switch s.u8() % 6 {
		case 0:
			return ir.Operand{}
		case 1, 2:
			return ir.R(reg())
		case 3:
			return ir.I(imm(s))
		case 4:
			return ir.M(mem())
		}
		return ir.A(mem())
	}
	target := func() ir.Operand {
		switch s.u8() % 8 {
		case 0:
			return ir.R(reg())
		case 1:
			return ir.M(mem())
		}
		return ir.I(int64(progBase - 4 + int(s.u8())%(n+8)))
	}
	in := ir.Insn{Kind: ir.Kind(s.u8() % 10), Op: ir.Op(s.u8() % 16), Dst: reg(), Width: pick(s, uint8(0), 1, 2, 3, 4, 8, 16), SrcWidth: pick(s, uint8(0), 1, 2, 4, 8, 9)}
	in.A, in.B, in.Mem, in.Target = operand(), operand(), mem(), target()
	in.Mode = ir.WriteMode(s.u8() % 3)
	if in.Kind == ir.Clobber {
		regs := []ir.Reg{reg(), reg()}
		in.Regs = regs[:2:2]
	}
	return in
}

// fzDecoder lifts a program: one Insn per byte address.
type fzDecoder struct{ p *program }

func (d fzDecoder) Arch() *ir.Arch { return fuzzArch }

func (d fzDecoder) Lift(code []byte, rva uint32, out []ir.Insn) ([]ir.Insn, int, error) {
	i := int64(rva) - progBase
	if len(code) == 0 || i < 0 || i >= int64(len(d.p.insns)) {
		return out, 0, errToy
	}
	in := d.p.insns[i]
	in.Addr, in.Len = rva, 1
	return append(out, in), 1, nil
}

// fzEnv has code a little around the program (bytes that do not decode),
// read-only globals with known values and writable ones it knows nothing of.
type fzEnv struct{ p *program }

func (e fzEnv) Code(rva uint32) []byte {
	if rva >= progBase-8 && rva < progBase+uint32(len(e.p.insns))+8 {
		return []byte{0}
	}
	return nil
}
func (e fzEnv) ImageBase() uint64   { return fzImage }
func (e fzEnv) SizeOfImage() uint32 { return 0x10000 }
func (e fzEnv) IsFunctionStart(rva uint32) bool {
	return !e.p.sound && rva == progBase+uint32(len(e.p.insns))/2
}
func (e fzEnv) LoadGlobal(rva uint32, w uint8) Value {
	if rva < roGlobals || uint64(rva)+uint64(w) > rwGlobals || w == 0 || w > 8 {
		return Unknown
	}
	var v uint64
	for i := uint8(0); i < w; i++ {
		v |= uint64(roByte(uint64(rva)+uint64(i))) << (8 * i)
	}
	return Const(v)
}
func (e fzEnv) LoadIndirect(Sym, int64, uint8) Value { return Unknown }
func (e fzEnv) CallEffect(in *ir.Insn, st *State) (Value, int64) {
	return Unknown, e.p.pop
}

// check analyses p and returns what is wrong, or "".
func (p *program) check() string {
	type seen struct {
		in   ir.Insn
		regs []Value
		// stackOps: an operand is a stack address (see machine.taint).
		stackOps bool
	}
	visits := map[uint32]seen{}
	var dup []uint32
	res, err := Analyze(p.fn, fzDecoder{p}, fzEnv{p}, p.lim, func(in *ir.Insn, st *State) {
		if _, ok := visits[in.Addr]; ok && in.Kind != ir.Halt {
			dup = append(dup, in.Addr)
		}
		w := in.Width
		if w == 0 || w > 8 {
			w = 8
		}
		stackOps := false
		for _, o := range []ir.Operand{in.A, in.B} {
			if o.Kind != ir.KNone && st.Eval(o, memWidth(in, o, w)).kind == kStack {
				stackOps = true
			}
		}
		visits[in.Addr] = seen{*in, st.Regs(), stackOps}
	})
	if err != nil {
		if len(visits) > 0 {
			return fmt.Sprintf("error %v after visiting %d instructions", err, len(visits))
		}
		return ""
	}
	if len(dup) > 0 {
		return fmt.Sprintf("instructions visited twice: %#x", dup)
	}
	reach, all := p.reachable()
	for addr, v := range visits {
		i := int(addr) - progBase
		decodable := i >= 0 && i < len(p.insns)
		switch {
		case !decodable && v.in.Kind != ir.Halt:
			return fmt.Sprintf("visited %#x, outside the program, as %s", addr, insnText(v.in))
		case decodable && !reach[addr]:
			return fmt.Sprintf("visited %#x, which is not reachable", addr)
		}
	}
	if !res.Truncated {
		for addr := range all {
			if _, ok := visits[addr]; !ok {
				return fmt.Sprintf("reachable %#x not visited (result %+v)", addr, res)
			}
		}
	}
	if res.Truncated {
		return ""
	}
	full := make(map[uint32][]Value, len(visits))
	for a, v := range visits {
		full[a] = v.regs
	}
	if msg := p.checkExact(full); msg != "" {
		return msg
	}
	if !p.sound {
		return ""
	}
	return p.concrete(func(addr uint32, m *machine) (string, bool) {
		v, ok := visits[addr]
		if !ok {
			return fmt.Sprintf("concrete run reached %#x, which the analysis did not visit", addr), false
		}
		for r, a := range v.regs {
			if !m.taint[r] && !covers(a, m.regs[r], p.init, m.mem0) {
				return fmt.Sprintf("at %#x (%s): r%d is %v, concrete value %#x is not covered", addr, insnText(v.in), r, a, m.regs[r]), false
			}
		}
		return "", v.stackOps
	})
}

// fzTargetOnlyEnv is fzEnv, whose calls' effects depend on nothing: it says
// so (ExactCalls).
type fzTargetOnlyEnv struct{ fzEnv }

func (fzTargetOnlyEnv) TargetOnly(*ir.Insn, *State) bool { return true }

// checkExact runs every basic block of p alone, tracked (RunTracked), from
// nothing known, and reports a register the run calls exact whose value the
// full analysis (full: the registers before each instruction it visited)
// knows better: an exact value is the full analysis's own, or less precise
// only where the fixpoint widened.
func (p *program) checkExact(full map[uint32][]Value) string {
	leader := map[int]bool{0: true}
	stores := false
	for i, in := range p.insns {
		switch in.Kind {
		case ir.Branch, ir.Jump, ir.Ret, ir.Halt:
			leader[i+1] = true
			if in.Target.Kind == ir.KImm {
				leader[int(in.Target.Imm)-progBase] = true
			}
		case ir.Store:
			stores = true
		}
	}
	var unchanged func(uint64, uint8) bool
	if !stores {
		unchanged = func(uint64, uint8) bool { return true }
	}
	for start := 0; start < len(p.insns); start++ {
		if !leader[start] {
			continue
		}
		end := start + 1
		for end < len(p.insns) && !leader[end] {
			end++
		}
		if _, ok := full[uint32(progBase+start)]; !ok {
			continue // not reached
		}
		var msg string
		RunTracked(nil, p.insns[start:end], fuzzArch, fzTargetOnlyEnv{fzEnv{p}}, Entry{Unchanged: unchanged}, func(in *ir.Insn, st *State) {
			k := start
			for k < end && &p.insns[k] != in {
				k++
			}
			regs, ok := full[uint32(progBase+k)]
			if !ok || msg != "" {
				return
			}
			for r := range regs {
				if !st.Exact(ir.Reg(r)) {
					continue
				}
				if q, f := st.Reg(ir.Reg(r)), regs[r]; !Equal(Join(f, q), f) {
					msg = fmt.Sprintf("block at %#x, before %#x: r%d exact as %v, the full analysis has %v", progBase+start, progBase+k, r, q, f)
				}
			}
		})
		if msg != "" {
			return msg
		}
	}
	return ""
}

// reachable returns the addresses the analysis may visit (closure from the
// entry, and from every address of the extent when a switch is reachable)
// and those it must visit when not truncated.
func (p *program) reachable() (may, must map[uint32]bool) {
	intra := func(t uint32) bool {
		switch {
		case p.fn.End != 0:
			return t >= p.fn.Start && t < p.fn.End
		case t == p.fn.Start:
			return true
		}
		span := p.lim.MaxSpan
		if span == 0 {
			span = DefaultLimits.MaxSpan
		}
		return t > p.fn.Start && t-p.fn.Start < span && !(fzEnv{p}).IsFunctionStart(t)
	}
	closure := func(set map[uint32]bool, roots ...uint32) bool {
		sw := false
		todo := append([]uint32(nil), roots...)
		for len(todo) > 0 {
			pc := todo[len(todo)-1]
			todo = todo[:len(todo)-1]
			for intra(pc) && !set[pc] {
				set[pc] = true
				i := int(pc) - progBase
				if i < 0 || i >= len(p.insns) {
					break // undecodable: the path ends
				}
				in := p.insns[i]
				if (in.Kind == ir.Branch || in.Kind == ir.Jump) && in.Target.Kind == ir.KImm && intra(uint32(in.Target.Imm)) {
					todo = append(todo, uint32(in.Target.Imm))
				}
				if isSwitch(in) {
					sw = true
				}
				if in.Kind == ir.Jump || in.Kind == ir.Ret || in.Kind == ir.Halt {
					break
				}
				pc++
			}
		}
		return sw
	}
	must = map[uint32]bool{}
	sw := closure(must, p.fn.Start)
	may = map[uint32]bool{}
	for a := range must {
		may[a] = true
	}
	if sw && p.fn.End != 0 {
		var roots []uint32
		for a := p.fn.Start; a < p.fn.End; a++ {
			roots = append(roots, a)
			if k := p.insns[a-progBase].Kind; k != ir.Nop && k != ir.Halt && !must[a] {
				closure(must, a) // the sweep's roots
			}
		}
		closure(may, roots...)
	}
	return may, must
}

// concrete runs p on the concrete machine along random paths (up to 4
// runs of 512 steps), calling at before every instruction; it stops at the
// first message at returns. at also says whether the analysis saw a stack
// address among the instruction's operands.
func (p *program) concrete(at func(addr uint32, m *machine) (msg string, stackOps bool)) string {
	r := rand.New(rand.NewPCG(p.seed, 7))
	mem0 := func(a uint64) byte {
		if a >= fzImage+roGlobals && a < fzImage+rwGlobals {
			return roByte(a - fzImage)
		}
		return byte(mix(a^p.seed) >> 13)
	}
	for run := 0; run < 4; run++ {
		m := &machine{pop: p.pop, regs: append([]uint64(nil), p.init...), mem: map[uint64]byte{}, mem0: mem0, r: r,
			taint: make([]bool, len(p.init)), memTaint: map[uint64]bool{}}
		pc := uint32(progBase)
		for step := 0; step < 512; step++ {
			i := int(pc) - progBase
			if i < 0 || i >= len(p.insns) || pc >= p.fn.End {
				break
			}
			msg, stackOps := at(pc, m)
			if msg != "" {
				return msg
			}
			m.propagateTaint(p.insns[i], stackOps)
			next, ok := m.exec(p.insns[i], pc)
			if !ok {
				break
			}
			pc = next
		}
	}
	return ""
}

// machine is the concrete interpreter of the sound programs, with the
// engine's semantics of ir (see step.go): operands cut to the width, shifts
// by the count mod 64, callees that change the caller-saved registers and
// the return register (to anything) and pop what the Env says.
type machine struct {
	pop  int64 // what a callee pops
	regs []uint64
	mem  map[uint64]byte
	mem0 func(uint64) byte
	r    *rand.Rand
	// taint marks the registers and stack bytes whose values derive from
	// a stack address cut to fewer than 8 bytes: the engine keeps such a
	// value as the address (Truncate: "a 32-bit stack pointer still
	// addresses the same slot"), a deliberate simplification the machine
	// does not model, so they are not compared.
	taint    []bool
	memTaint map[uint64]bool
}

// propagateTaint updates the taint for in, about to run; stackOps says the
// analysis saw a stack address among its operands.
func (m *machine) propagateTaint(in ir.Insn, stackOps bool) {
	addrTaint := func(x ir.Mem) bool {
		return !x.Global && (x.Base != ir.RegNone && m.taint[x.Base] || x.Index != ir.RegNone && m.taint[x.Index])
	}
	opTaint := func(o ir.Operand) bool {
		switch o.Kind {
		case ir.KReg:
			return m.taint[o.Reg]
		case ir.KAddr:
			return addrTaint(o.Mem)
		case ir.KMem:
			a := m.addr(o.Mem)
			for i := uint64(0); i < 8; i++ {
				if m.memTaint[a+i] {
					return true
				}
			}
			return addrTaint(o.Mem)
		}
		return false
	}
	narrow := in.Width != 0 && in.Width < 8
	switch in.Kind {
	case ir.Assign:
		m.taint[in.Dst] = opTaint(in.A) || opTaint(in.B) || stackOps && (narrow || in.Op == ir.OpSext) ||
			in.Mode == ir.Merge && narrow && m.taint[in.Dst]
	case ir.Store:
		t := opTaint(in.A) || stackOps && narrow
		a := m.addr(in.Mem)
		for i := uint64(0); i < uint64(in.Width); i++ {
			m.memTaint[a+i] = t
		}
	case ir.Call:
		for _, r := range fuzzArch.CallerSaved {
			m.taint[r] = false
		}
	case ir.Clobber:
		for _, r := range in.Regs {
			m.taint[r] = false
		}
	}
}

func (m *machine) load(a uint64, w uint8) uint64 {
	var v uint64
	for i := uint8(0); i < w && i < 8; i++ {
		b, ok := m.mem[a+uint64(i)]
		if !ok {
			b = m.mem0(a + uint64(i))
		}
		v |= uint64(b) << (8 * i)
	}
	return v
}

func (m *machine) store(a uint64, w uint8, v uint64) {
	for i := uint8(0); i < w && i < 8; i++ {
		m.mem[a+uint64(i)] = byte(v >> (8 * i))
	}
}

func (m *machine) addr(x ir.Mem) uint64 {
	if x.Global {
		return fzImage + uint64(x.Disp)
	}
	var v uint64
	if x.Base != ir.RegNone {
		v = m.regs[x.Base]
	}
	if x.Index != ir.RegNone {
		v += m.regs[x.Index] * uint64(max(x.Scale, 1))
	}
	return v + uint64(x.Disp)
}

func (m *machine) eval(o ir.Operand, w uint8) uint64 {
	switch o.Kind {
	case ir.KReg:
		return m.regs[o.Reg]
	case ir.KImm:
		return uint64(o.Imm)
	case ir.KAddr:
		return m.addr(o.Mem)
	case ir.KMem:
		return m.load(m.addr(o.Mem), w)
	}
	return m.r.Uint64()
}

func cut(v uint64, w uint8) uint64 { return v & lowMask(w) }

func sext(v uint64, w uint8) uint64 {
	if w >= 8 {
		return v
	}
	sh := 64 - 8*uint(w)
	return uint64(int64(v<<sh) >> sh)
}

// exec runs one instruction at pc; ok is false where the path ends.
func (m *machine) exec(in ir.Insn, pc uint32) (next uint32, ok bool) {
	switch in.Kind {
	case ir.Assign:
		w := in.Width
		if w == 0 {
			w = 8
		}
		mw := func(o ir.Operand) uint8 {
			if o.Kind == ir.KMem && in.SrcWidth != 0 {
				return in.SrcWidth
			}
			return w
		}
		var v uint64
		switch in.Op {
		case ir.OpUnknown:
			v = m.r.Uint64()
		case ir.OpMov:
			v = m.eval(in.A, mw(in.A))
		case ir.OpSext:
			sw := in.SrcWidth
			if sw == 0 {
				sw = w
			}
			v = sext(m.eval(in.A, sw), sw)
		case ir.OpSelect:
			if m.r.IntN(2) == 0 {
				v = cut(m.eval(in.A, mw(in.A)), w)
			} else {
				v = cut(m.eval(in.B, mw(in.B)), w)
			}
		case ir.OpNot:
			v = ^cut(m.eval(in.A, w), w)
		case ir.OpNeg:
			v = -cut(m.eval(in.A, w), w)
		case ir.OpSar:
			a := sext(cut(m.eval(in.A, mw(in.A)), w), w)
			v = uint64(int64(a) >> (cut(m.eval(in.B, mw(in.B)), w) & 63))
		default:
			var okOp bool
			v, okOp = apply(in.Op, cut(m.eval(in.A, mw(in.A)), w), cut(m.eval(in.B, mw(in.B)), w))
			if !okOp {
				v = m.r.Uint64()
			}
		}
		if in.Mode == ir.Merge && w < 8 {
			msk := lowMask(w)
			m.regs[in.Dst] = m.regs[in.Dst]&^msk | v&msk
		} else {
			m.regs[in.Dst] = cut(v, w)
		}
	case ir.Store:
		m.store(m.addr(in.Mem), in.Width, m.eval(in.A, in.Width))
	case ir.Call:
		for _, r := range fuzzArch.CallerSaved {
			m.regs[r] = m.r.Uint64()
		}
		m.regs[fzSP] += uint64(m.pop)
	case ir.Clobber:
		for _, r := range in.Regs {
			m.regs[r] = m.r.Uint64()
		}
	case ir.Jump:
		return uint32(in.Target.Imm), true
	case ir.Branch:
		if m.r.IntN(2) == 0 {
			return uint32(in.Target.Imm), true
		}
	case ir.Ret, ir.Halt:
		return 0, false
	}
	return pc + 1, true
}

// covers reports whether the abstract value v holds the concrete value c,
// given the entry registers init (for Input symbols) and the initial memory
// (for stack arguments). A stack address covers the address and its 32-, 16-
// and 8-bit cuts (the engine keeps an address through a narrow copy); an
// address in a realigned frame covers anything.
func covers(v Value, c uint64, init []uint64, mem0 func(uint64) byte) bool {
	switch v.kind {
	case kBits:
		return c&v.known() == v.bits()
	case kSet:
		return v.has(c)
	case kStack:
		if v.off < alignedFrame/2 {
			return true
		}
		a := uint64(concreteSP + v.off)
		return c == a || c == cut(a, 4) || c == cut(a, 2) || c == cut(a, 1)
	case kSym:
		var s uint64
		if k, ok := v.sym.InputIndex(); ok {
			if k < len(fuzzArch.ArgRegs) {
				s = init[fuzzArch.ArgRegs[k]]
			} else {
				a := uint64(concreteSP + fuzzArch.EntryStackArgOffset + int64(k-len(fuzzArch.ArgRegs))*8)
				for i := uint64(0); i < 8; i++ {
					s |= uint64(mem0(a+i)) << (8 * i)
				}
			}
		} else if r, ok := v.sym.InputRegister(); ok {
			s = init[r]
		} else {
			return true // a client symbol: the toy Env makes none
		}
		t := s&v.and() | v.or()
		return c == t+uint64(v.off) || c == (s+uint64(v.off))&v.and()
	}
	return false
}

// Regression tests for what the fuzz and mutation tests found.

// A damaged .pdata entry gave a function with a switch an extent of 2 GiB:
// the sweep for switch cases tried to decode every address of it (50 s).
func TestSweepEndsWithTheCode(t *testing.T) {
	prog := toy{0: mov(r1, ir.I(0)), 1: {Kind: ir.Jump, Target: ir.R(r2)}, 2: call(0x50), 3: ret()}
	env := shortEnv{n: 4}
	var calls int
	err := within(t, 5*time.Second, func() error {
		_, err := Analyze(Func{Start: 0, End: 0x7fffffff}, prog, env, Limits{}, func(in *ir.Insn, st *State) {
			if in.Kind == ir.Call {
				calls++
			}
		})
		return err
	})
	if err != nil || calls != 1 {
		t.Fatalf("err %v, %d calls seen; want the case's call", err, calls)
	}
}

// within runs f and fails t when it takes longer than d (f goes on in the
// background).
func within(t *testing.T, d time.Duration, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("no result after %v", d)
		return nil
	}
}

// shortEnv is toyEnv with code only in [0, n).
type shortEnv struct {
	toyEnv
	n uint32
}

func (e shortEnv) Code(rva uint32) []byte {
	if rva < e.n {
		return []byte{0}
	}
	return nil
}

// Thousands of switch cases that each end with an indirect jump made every
// case a successor of every other: n² edges (a 3000-case function took
// 10 s). The edges now go through one hub; every case still sees the join
// of the dispatches.
func TestManyDispatchesAreLinear(t *testing.T) {
	const n = 4000
	prog := toy{0: {Kind: ir.Jump, Target: ir.R(r2)}}
	for i := uint32(0); i < n; i++ {
		prog[1+3*i] = mov(r1, ir.I(int64(i)))
		prog[2+3*i] = call(0x50)
		prog[3+3*i] = ir.Insn{Kind: ir.Jump, Target: ir.R(r2)}
	}
	var args []Value
	err := within(t, 5*time.Second, func() error {
		_, err := Analyze(Func{Start: 0, End: 1 + 3*n}, prog, toyEnv{}, Limits{}, func(in *ir.Insn, st *State) {
			if in.Kind == ir.Call {
				args = append(args, st.Arg(0))
			}
		})
		return err
	})
	if err != nil || len(args) != n {
		t.Fatalf("err %v, %d calls seen, want %d", err, len(args), n)
	}
	for i, a := range args {
		if c, ok := a.Const(); !ok || c != uint64(i) {
			t.Fatalf("case %d: arg %v", i, a)
		}
	}
}

// A store into part of a stack slot in the caller's argument area dropped
// the slot, and the argument's bytes then read as the caller's argument
// again: `mov [sp+0x18], 0x1111111111111111; mov byte [sp+0x18], 0x22; mov
// rax, [sp+0x18]` gave the entry value, not 0x1111111111111122 (likewise
// for the bytes of a slot only partly overwritten at another offset).
func TestPartialStackStoresAreSound(t *testing.T) {
	sp := func(d int64) ir.Mem { return ir.Mem{Base: fzSP, Index: ir.RegNone, Disp: d} }
	for _, c := range []struct {
		store ir.Mem
		load  ir.Mem
		w     uint8
		want  uint64 // 0: unknown
	}{
		{sp(0x18), sp(0x18), 8, 0x1111111111111122},
		{sp(0x1c), sp(0x18), 4, 0},
	} {
		p := &program{sound: true, insns: []ir.Insn{
			{Kind: ir.Store, Mem: sp(0x18), A: ir.I(0x1111111111111111), Width: 8},
			{Kind: ir.Store, Mem: c.store, A: ir.I(0x22), Width: 1},
			{Kind: ir.Assign, Op: ir.OpMov, Dst: 0, A: ir.M(c.load), Width: c.w},
			{Kind: ir.Ret},
		}, init: make([]uint64, fuzzArch.NumRegs), fn: Func{Start: progBase, End: progBase + 4}}
		p.init[fzSP] = concreteSP
		if msg := p.check(); msg != "" {
			t.Fatalf("%s\n%s", msg, p)
		}
		var got Value
		Analyze(p.fn, fzDecoder{p}, fzEnv{p}, Limits{}, func(in *ir.Insn, st *State) {
			if in.Kind == ir.Ret {
				got = st.Reg(0)
			}
		})
		if v, ok := got.Const(); c.want != 0 && (!ok || v != c.want) {
			t.Errorf("load after a byte store at %#x: %v, want %#x", c.store.Disp, got, c.want)
		}
	}
}

// The instruction arena was sized from the function's extent: a damaged
// .pdata entry claiming 2 GiB for three instructions cost 10 MB (and 2.5
// ms) per analysis.
func TestArenaIsBoundedForHugeExtents(t *testing.T) {
	prog := toy{0: mov(r1, ir.I(0)), 1: call(0x50), 2: ret()}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < 10; i++ {
		if _, err := Analyze(Func{Start: 0, End: 0x7fffffff}, prog, shortEnv{n: 3}, Limits{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / 10; per > 2<<20 {
		t.Fatalf("%d bytes allocated per analysis of 3 instructions", per)
	}
}
