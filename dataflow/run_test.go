package dataflow

import (
	"testing"

	"github.com/hvcicheck/hvcicheck/ir"
)

// TestRun runs a block alone: registers start unknown (but for the seeds),
// stack slots written in the block read back relative to the block's own
// stack pointer, and an unwritten slot never reads as an argument.
func TestRun(t *testing.T) {
	block := []ir.Insn{
		{Kind: ir.Assign, Op: ir.OpMov, Dst: r0, A: ir.I(0x200), Width: 4},
		{Kind: ir.Assign, Op: ir.OpOr, Dst: r1, A: ir.R(r1), B: ir.I(0x40), Width: 4},
		{Kind: ir.Store, Mem: ir.Mem{Base: sp, Index: ir.RegNone, Disp: 0x28}, A: ir.I(4), Width: 4},
		{Kind: ir.Assign, Op: ir.OpAdd, Dst: r2, A: ir.R(r3), B: ir.I(1), Width: 8},
		{Kind: ir.Nop},
	}
	var atEnd *State
	seeds := []Value{r3: Const(7)}
	Run(block, toyArch, toyEnv{}, seeds, func(in *ir.Insn, st *State) {
		if in.Kind == ir.Nop {
			atEnd = st.clone()
		}
	})
	if atEnd == nil {
		t.Fatal("the visitor did not see the last instruction")
	}
	if c, ok := atEnd.Reg(r0).Const(); !ok || c != 0x200 {
		t.Errorf("r0 = %v, want 0x200", atEnd.Reg(r0))
	}
	if known, b := atEnd.Reg(r1).KnownBits(); known&0x40 == 0 || b&0x40 == 0 || atEnd.Reg(r1).IsUnknown() {
		t.Errorf("r1 = %v, want bit 6 known set, the rest of the low bits unknown", atEnd.Reg(r1))
	}
	if c, ok := atEnd.Reg(r2).Const(); !ok || c != 8 {
		t.Errorf("r2 = %v, want 8 (from the seed of r3)", atEnd.Reg(r2))
	}
	sp0, ok := atEnd.Reg(sp).Stack()
	if !ok {
		t.Fatalf("sp = %v, want a stack address", atEnd.Reg(sp))
	}
	if c, ok := atEnd.ArgAt(sp0 + 0x28).Const(); !ok || c != 4 {
		t.Errorf("[sp+0x28] = %v, want 4", atEnd.ArgAt(sp0+0x28))
	}
	if v := atEnd.ArgAt(sp0 + 0x30); !v.IsUnknown() {
		t.Errorf("[sp+0x30] = %v, want unknown (not the function's argument)", v)
	}
}
