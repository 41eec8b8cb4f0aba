package dataflow

import "sort"

// slot is a memory cell's value and the width it was written with.
type slot struct {
	v Value
	w uint8
	// inexact says, in a tracked run, that the value may differ from the
	// full analysis's (exact.go).
	inexact bool
}

// cell is a slot at an address: a stack offset, or a constant address
// (stored as its bits).
type cell struct {
	at int64
	slot
}

// cells is a small map from address to slot kept as a slice sorted by
// address: states are cloned at every block edge, and copying a short
// slice is far cheaper than copying a map.
type cells []cell

func (c cells) find(at int64) (int, bool) {
	i := sort.Search(len(c), func(i int) bool { return c[i].at >= at })
	return i, i < len(c) && c[i].at == at
}

func (c cells) get(at int64) (slot, bool) {
	if i, ok := c.find(at); ok {
		return c[i].slot, true
	}
	return slot{}, false
}

func (c *cells) set(at int64, s slot) {
	i, ok := c.find(at)
	if ok {
		(*c)[i].slot = s
		return
	}
	*c = append(*c, cell{})
	copy((*c)[i+1:], (*c)[i:])
	(*c)[i] = cell{at: at, slot: s}
}

// dropOverlaps removes the cells other than the one at `at` that overlap
// [at, at+w).
func (c *cells) dropOverlaps(at int64, w uint8) {
	out := (*c)[:0]
	for _, x := range *c {
		if x.at != at && x.at < at+int64(w) && at < x.at+int64(x.w) {
			continue
		}
		out = append(out, x)
	}
	*c = out
}

// forgetOverlaps makes unknown the cells other than the one at `at` that
// overlap [at, at+w).
func (c cells) forgetOverlaps(at int64, w uint8) {
	for i := range c {
		if x := &c[i]; x.at != at && x.at < at+int64(w) && at < x.at+int64(x.w) {
			x.v = Unknown
		}
	}
}

// overlaps reports whether a cell other than the one at `at` overlaps
// [at, at+w).
func (c cells) overlaps(at int64, w uint8) bool {
	for _, x := range c {
		if x.at != at && x.at < at+int64(w) && at < x.at+int64(x.w) {
			return true
		}
		if x.at >= at+int64(w) {
			break
		}
	}
	return false
}

func (c cells) clone() cells {
	if len(c) == 0 {
		return nil
	}
	return append(make(cells, 0, len(c)+cloneRoom), c...)
}

// cloneInto copies c into buf's storage when it has room for c and
// cloneRoom more (else into a new slice, as clone).
func (c cells) cloneInto(buf cells) cells {
	if len(c) == 0 {
		return buf[:0]
	}
	if cap(buf) < len(c)+cloneRoom {
		return c.clone()
	}
	return append(buf[:0], c...)
}

// cloneRoom is the room a cloned cells leaves for new slots: a state
// copies its slots to write one, often a new one (a spill, an argument).
const cloneRoom = 2
