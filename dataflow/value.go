// Package dataflow is hvcicheck's data-flow engine: for one function, lifted
// to ir.Insn by an architecture front end, it computes which values every
// register and stack slot can hold at every instruction, by abstract
// interpretation over the function's control-flow graph.
//
// The value lattice is small and cheap: a set of up to MaxSet constants;
// known bits (which bits are known and their values) for everything else; a
// stack address (the entry stack pointer plus an offset); and a symbol with a
// bitwise transform ((sym & And) | Or) for values that come from outside the
// function — its parameters, an import's address, a global the client
// resolves later. Known bits answer branch-free selects such as
// (~(x<<8)) & 0x200: bit 9 unknown, every other bit 0.
package dataflow

import (
	"fmt"
	"slices"
	"strings"
)

// MaxSet is the largest constant set a Value holds before it is widened to
// known bits.
const MaxSet = 8

type vkind uint8

const (
	kBits  vkind = iota // known bits (known==0: nothing known, the zero Value)
	kSet                // a set of constants
	kStack              // the entry stack pointer + off
	kSym                // (sym & and) | or
)

// Sym is an opaque symbol: a function input (see Input) or anything a client
// defines with its own numbering (values at or above SymClient).
type Sym uint32

// SymClient is the first symbol number free for clients.
const SymClient Sym = 1 << 16

// Input is the symbol of the function's argument slot i as it was at entry.
func Input(i int) Sym { return Sym(1 + i) }

// regInputBase numbers the symbols of registers' entry values (InputReg)
// after those of the argument slots.
const regInputBase = 1 << 12

// InputReg is the symbol of register r's value at the function's entry,
// for the registers of ir.Arch.RegInputs.
func InputReg(r int) Sym { return Sym(regInputBase + r) }

// InputIndex returns the argument slot of an Input symbol.
func (s Sym) InputIndex() (int, bool) {
	if s >= 1 && s < regInputBase {
		return int(s) - 1, true
	}
	return 0, false
}

// InputRegister returns the register of an InputReg symbol.
func (s Sym) InputRegister() (int, bool) {
	if s >= regInputBase && s < SymClient {
		return int(s - regInputBase), true
	}
	return 0, false
}

// Value is an abstract value. The zero Value is "unknown". It is copied at
// every block edge for every register and slot, so its fields overlap by
// kind: set holds a constant set's members; for known bits set[0] is the
// mask of known bits and set[1] their values; for a symbol set[0] and set[1]
// are its transform's And and Or.
type Value struct {
	kind vkind
	n    uint8
	sym  Sym
	off  int64
	set  [MaxSet]uint64
}

func (v *Value) known() uint64 { return v.set[0] }
func (v *Value) bits() uint64  { return v.set[1] }
func (v *Value) and() uint64   { return v.set[0] }
func (v *Value) or() uint64    { return v.set[1] }

// symValue builds (s & and) | or, plus off.
func symValue(s Sym, and, or uint64, off int64) Value {
	v := Value{kind: kSym, sym: s, off: off}
	v.set[0], v.set[1] = and, or
	return v
}

// Unknown is the value about which nothing is known.
var Unknown = Value{}

// Const returns the value that is exactly c.
func Const(c uint64) Value { v := Value{kind: kSet, n: 1}; v.set[0] = c; return v }

// Consts returns the value that is one of cs (widened to known bits past
// MaxSet).
func Consts(cs ...uint64) Value {
	if len(cs) == 0 {
		return Unknown
	}
	v := Const(cs[0])
	for _, c := range cs[1:] {
		v = Join(v, Const(c))
	}
	return v
}

// Bits returns a value whose bits in known have the values in b.
func Bits(known, b uint64) Value {
	if known == ^uint64(0) {
		return Const(b)
	}
	v := Value{kind: kBits}
	v.set[0], v.set[1] = known, b&known
	return v
}

// StackAddr returns the address entry-SP + off.
func StackAddr(off int64) Value { return Value{kind: kStack, off: off} }

// Symbol returns the value of symbol s unchanged.
func Symbol(s Sym) Value { return symValue(s, ^uint64(0), 0, 0) }

// IsUnknown reports whether nothing at all is known of v.
func (v Value) IsUnknown() bool { return v.kind == kBits && v.known() == 0 }

// IsConsts reports whether v is a constant set (Consts without the copy).
func (v Value) IsConsts() bool { return v.kind == kSet }

// Consts returns v's constants when v is a constant set.
func (v Value) Consts() ([]uint64, bool) {
	if v.kind != kSet {
		return nil, false
	}
	return append([]uint64(nil), v.set[:v.n]...), true
}

// Const returns v's value when it is exactly one constant.
func (v Value) Const() (uint64, bool) {
	if v.kind == kSet && v.n == 1 {
		return v.set[0], true
	}
	return 0, false
}

// KnownBits returns which bits of v are known and their values; a constant
// set yields the bits its members share.
func (v Value) KnownBits() (known, b uint64) {
	switch v.kind {
	case kBits:
		return v.known(), v.bits()
	case kSet:
		known = ^uint64(0)
		for _, c := range v.set[1:v.n] {
			known &^= c ^ v.set[0]
		}
		return known, v.set[0] & known
	case kSym:
		if v.off != 0 {
			return 0, 0
		}
		// (s & and) | or: bits set in or are 1; bits clear in and and in or are 0.
		return v.or() | ^v.and(), v.or()
	}
	return 0, 0
}

// Stack returns the offset from the entry stack pointer when v is a stack
// address.
func (v Value) Stack() (int64, bool) { return v.off, v.kind == kStack }

// Symbol returns v's symbol and transform when v is symbolic:
// v == (sym & and) | or.
func (v Value) Symbol() (s Sym, and, or uint64, ok bool) {
	return v.sym, v.and(), v.or(), v.kind == kSym && v.off == 0
}

// Pointer returns the symbol and byte offset when v is a symbol's value
// plus a constant (a pointer into a table the symbol stands for). A symbol
// cut to its low 32 bits (a 32-bit pointer) still counts.
func (v Value) Pointer() (s Sym, off int64, ok bool) {
	return v.sym, v.off, v.kind == kSym && v.and()&0xffffffff == 0xffffffff && v.or() == 0
}

// Apply substitutes x for the symbol in v's transform: (x & and) | or. A
// non-symbolic v is returned unchanged.
func (v Value) Apply(x Value) Value {
	if v.kind != kSym {
		return v
	}
	if v.off != 0 {
		return Binary(OpAdd, x, Const(uint64(v.off)))
	}
	return Binary(OpOr, Binary(OpAnd, x, Const(v.and())), Const(v.or()))
}

// Equal reports whether a and b are the same abstract value.
func Equal(a, b Value) bool {
	if a.kind != b.kind {
		return false
	}
	switch a.kind {
	case kBits:
		return a.known() == b.known() && a.bits() == b.bits()
	case kSet:
		return a.n == b.n && a.set == b.set
	case kStack:
		return a.off == b.off
	}
	return a.sym == b.sym && a.and() == b.and() && a.or() == b.or() && a.off == b.off
}

// Join returns the least value that covers both a and b.
func Join(a, b Value) Value {
	switch {
	case Equal(a, b):
		return a
	case a.kind == kSet && b.kind == kSet:
		return joinSets(a, b)
	case a.kind == kStack || b.kind == kStack:
		return Unknown
	case a.kind == kSym && b.kind == kSym && a.sym != b.sym:
		return Unknown
	}
	ka, ba := a.KnownBits()
	kb, bb := b.KnownBits()
	k := ka & kb &^ (ba ^ bb)
	return Bits(k, ba&k)
}

func joinSets(a, b Value) Value {
	out := a
	for _, c := range b.set[:b.n] {
		if out.has(c) {
			continue
		}
		if out.n == MaxSet {
			ka, ba := a.KnownBits()
			kb, bb := b.KnownBits()
			k := ka & kb &^ (ba ^ bb)
			return Bits(k, ba&k)
		}
		out.set[out.n] = c
		out.n++
	}
	slices.Sort(out.set[:out.n])
	return out
}

func (v *Value) has(c uint64) bool {
	for _, x := range v.set[:v.n] {
		if x == c {
			return true
		}
	}
	return false
}

// MayHaveBits reports whether some concrete value covered by v may have any
// bit of mask set, and the constants of v that do (for a set).
func (v Value) MayHaveBits(mask uint64) bool {
	if v.kind == kSet {
		for _, c := range v.set[:v.n] {
			if c&mask != 0 {
				return true
			}
		}
		return false
	}
	known, b := v.KnownBits()
	return mask&^known != 0 || b&mask != 0
}

func (v Value) String() string {
	switch v.kind {
	case kSet:
		parts := make([]string, v.n)
		for i, c := range v.set[:v.n] {
			parts[i] = fmt.Sprintf("%#x", c)
		}
		return "{" + strings.Join(parts, ",") + "}"
	case kStack:
		return fmt.Sprintf("sp%+#x", v.off)
	case kSym:
		if v.off != 0 {
			return fmt.Sprintf("sym%d%+#x", v.sym, v.off)
		}
		return fmt.Sprintf("(sym%d&%#x)|%#x", v.sym, v.and(), v.or())
	}
	if v.known() == 0 {
		return "?"
	}
	return fmt.Sprintf("bits(known=%#x,val=%#x)", v.known(), v.bits())
}

// lowMask returns the mask of the low w bytes.
func lowMask(w uint8) uint64 {
	if w >= 8 {
		return ^uint64(0)
	}
	return uint64(1)<<(8*uint(w)) - 1
}

// Truncate keeps the low w bytes of v and zeroes the rest.
// A stack address is kept as it is: a 32-bit stack pointer (x86, or a
// 32-bit write of an address on x64) still addresses the same slot.
func Truncate(v Value, w uint8) Value {
	if w >= 8 || v.kind == kStack {
		return v
	}
	return Binary(OpAnd, v, Const(lowMask(w)))
}

// SignExtend sign-extends v from w bytes.
func SignExtend(v Value, w uint8) Value {
	if w >= 8 {
		return v
	}
	if v.kind == kSet {
		return mapSet(v, func(c uint64) uint64 {
			sh := 64 - 8*uint(w)
			return uint64(int64(c<<sh) >> sh)
		})
	}
	known, b := v.KnownBits()
	sign := uint64(1) << (8*uint(w) - 1)
	m := lowMask(w)
	if known&sign == 0 {
		return Bits(known&m, b&m)
	}
	if b&sign != 0 {
		return Bits(known|^m, b|^m)
	}
	return Bits(known|^m, b&m)
}

func mapSet(v Value, f func(uint64) uint64) Value {
	out := Value{kind: kSet}
	for _, c := range v.set[:v.n] {
		r := f(c)
		if !out.has(r) {
			out.set[out.n] = r
			out.n++
		}
	}
	slices.Sort(out.set[:out.n])
	return out
}
