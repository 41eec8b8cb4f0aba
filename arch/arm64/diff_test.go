package arm64

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hvcicheck/hvcicheck/ir"
	"golang.org/x/arch/arm64/arm64asm"
)

// The lift is compared with arm64asm, which decodes from the architecture's
// tables: on every word arm64asm decodes, the lift must succeed, write
// every general-purpose register arm64asm names as a destination, agree on
// the kind and target of control transfers, and write no register that
// arm64asm's instruction leaves alone (with the listed exceptions).

// asmGPR returns the register number of a W/X register or SP argument
// (ok false for the zero register and for SIMD&FP registers).
func asmGPR(a arm64asm.Arg) (ir.Reg, bool) {
	switch r := a.(type) {
	case arm64asm.Reg:
		switch {
		case r >= arm64asm.W0 && r < arm64asm.WZR:
			return ir.Reg(r - arm64asm.W0), true
		case r >= arm64asm.X0 && r < arm64asm.XZR:
			return ir.Reg(r - arm64asm.X0), true
		}
	case arm64asm.RegSP:
		switch {
		case arm64asm.Reg(r) == arm64asm.SP || arm64asm.Reg(r) == arm64asm.WSP:
			return SP, true
		case arm64asm.Reg(r) >= arm64asm.W0 && arm64asm.Reg(r) < arm64asm.WZR:
			return ir.Reg(arm64asm.Reg(r) - arm64asm.W0), true
		case arm64asm.Reg(r) >= arm64asm.X0 && arm64asm.Reg(r) < arm64asm.XZR:
			return ir.Reg(arm64asm.Reg(r) - arm64asm.X0), true
		}
	}
	return 0, false
}

// readFirst lists the mnemonics whose first operand is not written.
var readFirst = map[string]bool{
	"CMP": true, "CMN": true, "TST": true, "CCMP": true, "CCMN": true,
	"CBZ": true, "CBNZ": true, "TBZ": true, "TBNZ": true, "BR": true, "BLR": true, "RET": true,
	"MSR": true, "SYS": true, "PRFM": true, "PRFUM": true, "DC": true, "IC": true, "AT": true, "TLBI": true,
	"FCMP": true, "FCMPE": true, "FCCMP": true, "FCCMPE": true,
}

// asmWrites returns the general-purpose registers an arm64asm instruction
// writes.
func asmWrites(inst *arm64asm.Inst) []ir.Reg {
	name := inst.Op.String()
	var out []ir.Reg
	add := func(a arm64asm.Arg) {
		if r, ok := asmGPR(a); ok {
			out = append(out, r)
		}
	}
	isStore := strings.HasPrefix(name, "ST")
	switch {
	case isStore && strings.Contains(name, "XR") || isStore && strings.Contains(name, "XP"):
		add(inst.Args[0]) // the status register
	case isStore, readFirst[name]:
	default:
		add(inst.Args[0])
		if strings.HasPrefix(name, "LD") && strings.Contains(name, "P") && !strings.HasPrefix(name, "LDAP") {
			add(inst.Args[1])
		}
	}
	for _, a := range inst.Args {
		if m, ok := a.(arm64asm.MemImmediate); ok && m.Mode != arm64asm.AddrOffset {
			add(m.Base)
		}
	}
	return out
}

// liftWrites returns the registers a lift writes, whether it ends in a
// control transfer, and that transfer.
func liftWrites(out []ir.Insn) map[ir.Reg]bool {
	w := map[ir.Reg]bool{}
	for _, in := range out {
		switch in.Kind {
		case ir.Assign:
			w[in.Dst] = true
		case ir.Clobber:
			for _, r := range in.Regs {
				w[r] = true
			}
		case ir.Call:
			for _, r := range arm64Arch.CallerSaved {
				w[r] = true
			}
		}
	}
	return w
}

// wantKind is the control transfer arm64asm's mnemonic implies.
func wantKind(inst *arm64asm.Inst) (ir.Kind, bool) {
	name := inst.Op.String()
	if _, ok := inst.Args[0].(arm64asm.Cond); ok && name == "B" {
		return ir.Branch, true
	}
	switch {
	case name == "B":
		return ir.Jump, true
	case name == "BL":
		return ir.Call, true
	case name == "BR":
		return ir.Jump, true
	case name == "BLR":
		return ir.Call, true
	case name == "RET":
		return ir.Ret, true
	case strings.HasPrefix(name, "B."), name == "CBZ", name == "CBNZ", name == "TBZ", name == "TBNZ":
		return ir.Branch, true
	}
	return 0, false
}

// extraWriteOK lists the mnemonics whose lift may write a register arm64asm
// does not name: the PAC hints (x17, x30), the Windows debug-service
// breakpoint and the calls to a handler (x0..x17).
func extraWriteOK(name string) bool {
	switch name {
	case "HINT", "BRK", "SVC", "HVC", "SMC", "PACIASP", "AUTIASP", "PACIBSP", "AUTIBSP", "XPACLRI",
		"PACIAZ", "PACIBZ", "AUTIAZ", "AUTIBZ", "PACIA1716", "PACIB1716", "AUTIA1716", "AUTIB1716":
		return true
	}
	return false
}

// compare checks one word and returns a description of a disagreement.
func compare(d *Decoder, word uint32) string {
	var code [4]byte
	binary.LittleEndian.PutUint32(code[:], word)
	out, _, err := d.Lift(code[:], 0x1000, nil)
	inst, aerr := arm64asm.Decode(code[:])
	switch {
	case aerr != nil:
		return ""
	case err != nil && asmLax(word):
		return ""
	case err != nil:
		return fmt.Sprintf("%08x %v: arm64asm decodes, lift fails", word, inst)
	}
	if msg := compareWrites(&inst, out); msg != "" {
		return fmt.Sprintf("%08x %v: %s: %s", word, inst, msg, dump(out))
	}
	if msg := compareControl(&inst, out[len(out)-1]); msg != "" {
		return fmt.Sprintf("%08x %v: %s", word, inst, msg)
	}
	return ""
}

// compareWrites checks that the lift writes every register arm64asm names
// as a destination, and no other (calls aside, and the exceptions of
// extraWriteOK).
func compareWrites(inst *arm64asm.Inst, out []ir.Insn) string {
	got := liftWrites(out)
	want := asmWrites(inst)
	for _, r := range want {
		if !got[r] {
			return RegName(r) + " not written"
		}
	}
	if extraWriteOK(inst.Op.String()) || out[len(out)-1].Kind == ir.Call {
		return ""
	}
	for r := range got {
		if !slices.Contains(want, r) {
			return "lift writes " + RegName(r)
		}
	}
	return ""
}

// compareControl checks the kind and the pc-relative target of a control
// transfer.
func compareControl(inst *arm64asm.Inst, last ir.Insn) string {
	k, ok := wantKind(inst)
	if !ok {
		if last.Kind == ir.Jump || last.Kind == ir.Call || last.Kind == ir.Branch || last.Kind == ir.Ret {
			return fmt.Sprintf("unexpected control transfer %d", last.Kind)
		}
		return ""
	}
	if last.Kind != k {
		return fmt.Sprintf("kind %d, want %d", last.Kind, k)
	}
	for _, a := range inst.Args {
		if rel, ok := a.(arm64asm.PCRel); ok && (last.Target.Kind != ir.KImm || last.Target.Imm != 0x1000+int64(rel)) {
			return fmt.Sprintf("target %+v", last.Target)
		}
	}
	return ""
}

// asmLax reports the reserved encodings arm64asm accepts: an all-ones
// logical immediate and an extended-register shift above 4.
func asmLax(word uint32) bool {
	switch {
	case word&0x1f800000 == 0x12000000: // logical immediate
		_, ok := decodeBitMask(word>>22&1, word>>10&0x3f, word>>16&0x3f, 8)
		return !ok
	case word&0x1f200000 == 0x0b200000: // add/sub extended register
		return word>>10&7 > 4
	}
	return false
}

func dump(out []ir.Insn) string {
	var b strings.Builder
	for _, in := range out {
		fmt.Fprintf(&b, "\n\t%v", in)
	}
	return b.String()
}

// diffWords compares the lift with arm64asm on words and reports the
// disagreements (one example per mnemonic).
func diffWords(t *testing.T, words []uint32) {
	t.Helper()
	d := New(0x140000000, 0x100000)
	seen := map[string]int{}
	var msgs []string
	for _, w := range words {
		if msg := compare(d, w); msg != "" {
			key := strings.Fields(msg)[1]
			if seen[key]++; seen[key] == 1 {
				msgs = append(msgs, msg)
			}
		}
	}
	sort.Strings(msgs)
	for _, m := range msgs {
		t.Error(m)
	}
}

func TestDiffCorpus(t *testing.T) {
	text := loadText(t)
	if len(text) == 0 {
		t.Skip("corpus file absent")
	}
	words := make([]uint32, 0, len(text)/4)
	for i := 0; i+4 <= len(text); i += 4 {
		words = append(words, binary.LittleEndian.Uint32(text[i:]))
	}
	diffWords(t, words)
}

func TestDiffRandom(t *testing.T) {
	n := 2000000
	if testing.Short() {
		n = 200000
	}
	rng := rand.New(rand.NewSource(1))
	words := make([]uint32, n)
	for i := range words {
		words[i] = rng.Uint32()
	}
	diffWords(t, words)
}
