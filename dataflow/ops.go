package dataflow

import "github.com/hvcicheck/hvcicheck/ir"

// Operation aliases for callers that build values without the ir package.
const (
	OpAdd = ir.OpAdd
	OpSub = ir.OpSub
	OpAnd = ir.OpAnd
	OpOr  = ir.OpOr
	OpXor = ir.OpXor
	OpShl = ir.OpShl
	OpShr = ir.OpShr
)

// Binary applies a binary operation to two values.
func Binary(op ir.Op, a, b Value) Value {
	if a.kind == kSet && b.kind == kSet && int(a.n)*int(b.n) <= 4*MaxSet {
		return cartesian(op, a, b)
	}
	if v, ok := stackArith(op, a, b); ok {
		return v
	}
	if v, ok := symArith(op, a, b); ok {
		return v
	}
	if v, ok := symArith(op, b, a); ok && commutes(op) {
		return v
	}
	return bitsArith(op, a, b)
}

func commutes(op ir.Op) bool {
	return op == ir.OpAnd || op == ir.OpOr || op == ir.OpAdd || op == ir.OpXor
}

func cartesian(op ir.Op, a, b Value) Value {
	out := Value{}
	first := true
	for _, x := range a.set[:a.n] {
		for _, y := range b.set[:b.n] {
			r, ok := apply(op, x, y)
			if !ok {
				return Unknown
			}
			if first {
				out, first = Const(r), false
			} else {
				out = Join(out, Const(r))
			}
		}
	}
	return out
}

func apply(op ir.Op, x, y uint64) (uint64, bool) {
	switch op {
	case ir.OpMov:
		return x, true
	case ir.OpAdd:
		return x + y, true
	case ir.OpSub:
		return x - y, true
	case ir.OpAnd:
		return x & y, true
	case ir.OpOr:
		return x | y, true
	case ir.OpXor:
		return x ^ y, true
	case ir.OpShl:
		return x << (y & 63), true
	case ir.OpShr:
		return x >> (y & 63), true
	case ir.OpSar:
		return uint64(int64(x) >> (y & 63)), true
	case ir.OpMul:
		return x * y, true
	}
	return 0, false
}

// alignedFrame is the base of the offsets given to a stack pointer after
// the function aligns it (`and esp, -8`): its distance from the entry stack
// pointer is not known, so the realigned frame is a region of its own, far
// from every entry-relative offset.
const alignedFrame = -(int64(1) << 40)

// stackArith keeps stack addresses through adding and subtracting constants
// and through alignment.
func stackArith(op ir.Op, a, b Value) (Value, bool) {
	c, isConst := b.Const()
	switch {
	case a.kind == kStack && isConst && op == ir.OpAnd && isAlignMask(c):
		if a.off < alignedFrame/2 {
			return StackAddr(a.off & int64(c)), true
		}
		return StackAddr(alignedFrame + a.off&int64(c)), true
	case a.kind == kStack && isConst && op == ir.OpAdd:
		return StackAddr(a.off + int64(c)), true
	case a.kind == kStack && isConst && op == ir.OpSub:
		return StackAddr(a.off - int64(c)), true
	case b.kind == kStack && op == ir.OpAdd:
		if c, ok := a.Const(); ok {
			return StackAddr(b.off + int64(c)), true
		}
	case a.kind == kStack || b.kind == kStack:
		return Unknown, true
	}
	return Value{}, false
}

// symArith keeps a symbol's bitwise transform through and/or with constants.
func symArith(op ir.Op, a, b Value) (Value, bool) {
	if a.kind != kSym {
		return Value{}, false
	}
	c, ok := b.Const()
	if !ok {
		return Value{}, false
	}
	if a.off != 0 && op == ir.OpAnd && c&0xffffffff == 0xffffffff {
		a.set[0] &= c // a 32-bit write of a pointer into a table: And &= c
		return a, true
	}
	if a.off != 0 && op != ir.OpAdd && op != ir.OpSub {
		return Value{}, false
	}
	pure := a.and()&0xffffffff == 0xffffffff && a.or() == 0 // a pointer, 32 or 64 bits
	switch op {
	case ir.OpAnd:
		return symValue(a.sym, a.and()&c, a.or()&c, 0), true
	case ir.OpOr:
		return symValue(a.sym, a.and()&^c, a.or()|c, 0), true
	case ir.OpAdd, ir.OpSub:
		if c == 0 {
			return a, true
		}
		if pure {
			if op == ir.OpSub {
				c = -c
			}
			a.off += int64(c)
			return a, true
		}
	case ir.OpXor:
		if c == 0 {
			return a, true
		}
	}
	return Value{}, false
}

// bitsArith computes known bits of op(a, b).
func bitsArith(op ir.Op, a, b Value) Value {
	ka, va := a.KnownBits()
	kb, vb := b.KnownBits()
	switch op {
	case ir.OpAnd:
		zero := (ka &^ va) | (kb &^ vb)
		one := (ka & va) & (kb & vb)
		return Bits(zero|one, one)
	case ir.OpOr:
		one := (ka & va) | (kb & vb)
		zero := (ka &^ va) & (kb &^ vb)
		return Bits(zero|one, one)
	case ir.OpXor:
		k := ka & kb
		return Bits(k, (va^vb)&k)
	case ir.OpShl, ir.OpShr, ir.OpSar:
		return shiftBits(op, ka, va, b)
	case ir.OpAdd, ir.OpSub:
		return addBits(op, ka, va, kb, vb)
	case ir.OpMul:
		// Trailing known zeros of both factors survive.
		tz := trailingKnownZeros(ka, va) + trailingKnownZeros(kb, vb)
		if tz >= 64 {
			return Const(0)
		}
		return Bits(uint64(1)<<tz-1, 0)
	}
	return Unknown
}

func trailingKnownZeros(k, v uint64) uint {
	n := uint(0)
	for n < 64 && k&(1<<n) != 0 && v&(1<<n) == 0 {
		n++
	}
	return n
}

func shiftBits(op ir.Op, ka, va uint64, b Value) Value {
	s, ok := b.Const()
	if !ok {
		return Unknown
	}
	s &= 63
	switch op {
	case ir.OpShl:
		return Bits(ka<<s|(uint64(1)<<s-1), va<<s)
	case ir.OpShr:
		return Bits(ka>>s|^(^uint64(0)>>s), va>>s)
	}
	// Arithmetic: the top bits copy the sign bit when it is known.
	if ka&(1<<63) == 0 {
		return Bits(ka>>s&(^uint64(0)>>s), va>>s)
	}
	return Bits(uint64(int64(ka)>>s), uint64(int64(va)>>s))
}

// addBits keeps the low bits that are known in both operands below the first
// unknown one (carries above it are unknown).
func addBits(op ir.Op, ka, va, kb, vb uint64) Value {
	k := ka & kb
	n := uint(0)
	for n < 64 && k&(1<<n) != 0 {
		n++
	}
	if n == 0 {
		return Unknown
	}
	m := ^uint64(0)
	if n < 64 {
		m = uint64(1)<<n - 1
	}
	r := va + vb
	if op == ir.OpSub {
		r = va - vb
	}
	return Bits(m, r&m)
}

// Unary applies not or neg.
func Unary(op ir.Op, a Value) Value {
	if a.kind == kSet {
		return mapSet(a, func(c uint64) uint64 {
			if op == ir.OpNeg {
				return -c
			}
			return ^c
		})
	}
	if op == ir.OpNot {
		k, v := a.KnownBits()
		return Bits(k, ^v)
	}
	return Binary(ir.OpSub, Const(0), a)
}

// isAlignMask reports whether c clears only the low bits, up to a page: the
// mask of a stack alignment (-8, -16, … as 32 or 64 bits).
func isAlignMask(c uint64) bool {
	if c>>32 == 0 {
		c |= 0xffffffff00000000 // a 32-bit mask applied to a 32-bit stack pointer
	}
	low := ^c
	return low != 0 && low&(low+1) == 0 && low < 0x1000
}
