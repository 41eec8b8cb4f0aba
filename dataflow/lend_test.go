package dataflow

import (
	"fmt"
	"testing"

	"github.com/hvcicheck/hvcicheck/ir"
)

// lendingEnv lends Analyze its states and scratch storage, and checks that
// each is taken and given back once.
type lendingEnv struct {
	toyEnv
	t          *testing.T
	free       []*State
	out        map[*State]bool // lent, not given back yet
	inFree     map[*State]bool
	scratches  []*Scratch
	lent       map[*Scratch]bool
	takenTotal int
}

func (e *lendingEnv) TakeState() *State {
	var st *State
	if n := len(e.free); n > 0 {
		st, e.free = e.free[n-1], e.free[:n-1]
		delete(e.inFree, st)
	} else {
		st = &State{}
	}
	if e.out[st] {
		e.t.Errorf("state %p lent twice", st)
	}
	e.out[st] = true
	e.takenTotal++
	return st
}

// ReturnState takes back a state lent or made by Analyze (its first
// block's entry state), once.
func (e *lendingEnv) ReturnState(st *State) {
	if e.inFree[st] {
		e.t.Errorf("state %p given back twice", st)
	}
	delete(e.out, st)
	e.inFree[st] = true
	e.free = append(e.free, st)
}

func (e *lendingEnv) TakeScratch() *Scratch {
	var sc *Scratch
	if n := len(e.scratches); n > 0 {
		sc, e.scratches = e.scratches[n-1], e.scratches[:n-1]
	}
	if sc != nil {
		e.lent[sc] = true
	}
	return sc
}

func (e *lendingEnv) ReturnScratch(sc *Scratch) {
	delete(e.lent, sc)
	e.scratches = append(e.scratches, sc)
}

// TestLentStorage runs the same functions with an Env that lends states and
// scratch storage (nested too: an analysis started from a visitor) and with
// one that does not: the values seen must be the same, and every state lent
// must come back once.
func TestLentStorage(t *testing.T) {
	store := func(off int64, r ir.Reg) ir.Insn {
		return ir.Insn{Kind: ir.Store, Mem: ir.Mem{Base: sp, Index: ir.RegNone, Disp: off}, A: ir.R(r), Width: 8}
	}
	load := func(r ir.Reg, off int64) ir.Insn {
		return ir.Insn{Kind: ir.Assign, Op: ir.OpMov, Dst: r, A: ir.M(ir.Mem{Base: sp, Index: ir.RegNone, Disp: off}), Width: 8, SrcWidth: 8}
	}
	prog := toy{
		0: mov(r1, ir.I(5)), 1: store(8, r1), 2: br(5), 3: mov(r1, ir.I(7)), 4: store(16, r1),
		5: load(r2, 8), 6: op(ir.OpAdd, r3, ir.R(r3), ir.I(1), 8), 7: br(0x10), 8: jmp(1),
		0x10: call(0x40), 0x11: ret(),
		0x40: store(24, r2), 0x41: mov(r1, ir.I(0x40)), 0x42: call(0x60), 0x43: ret(),
	}
	run := func(env Env, nested func()) []string {
		var seen []string
		for _, start := range []uint32{0, 0x40, 0} {
			_, err := Analyze(Func{Start: start, End: start + 0x20}, prog, env, Limits{}, func(in *ir.Insn, st *State) {
				if in.Kind == ir.Call {
					seen = append(seen, fmt.Sprintf("%#x: %v %v", in.Addr, st.Arg(0), st.Reg(r2)))
					if nested != nil {
						nested()
					}
				}
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		return seen
	}
	want := run(toyEnv{}, nil)
	env := &lendingEnv{t: t, out: map[*State]bool{}, inFree: map[*State]bool{}, lent: map[*Scratch]bool{}}
	depth := 0
	got := run(env, func() {
		if depth > 0 {
			return
		}
		depth++
		defer func() { depth-- }()
		if _, err := Analyze(Func{Start: 0x40, End: 0x60}, prog, env, Limits{}, nil); err != nil {
			t.Fatal(err)
		}
	})
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("with lent storage:\n%v\nwant\n%v", got, want)
	}
	if len(env.out) != 0 || len(env.lent) != 0 {
		t.Errorf("%d states and %d scratches not given back", len(env.out), len(env.lent))
	}
	if env.takenTotal == 0 || len(env.scratches) < 2 {
		t.Errorf("lent %d states, %d scratches kept: want some of both (two at once, nested)", env.takenTotal, len(env.scratches))
	}
}
