package callsite

import (
	"math/bits"

	"github.com/hvcicheck/hvcicheck/dataflow"
)

// Certainty of a finding.
const (
	Definite = "definite" // every value the argument can hold is executable
	Possible = "possible" // some can
)

// maxUnknownBits is how many unknown bits a known-bits value may have and
// still be judged: a branch-free select leaves one or two; a value read from
// outside leaves all. More is "unresolved", never a finding.
const maxUnknownBits = 8

// Modifier bits masked off a POOL_TYPE before it is classified.
const poolModifiers = 0x8 | 0x10 | 0x100 | 0x400 | 0x20

// verdict is the outcome of judging one argument value.
type verdict struct {
	exec       bool   // some value is executable
	definite   bool   // every value is
	example    uint64 // an executable value
	unresolved bool   // too little is known to judge
}

// executable reports whether the concrete value c breaks rule.
func executable(rule Rule, c uint64) bool {
	switch rule {
	case RulePoolType:
		t := c &^ poolModifiers
		return t&1 == 0 && t&0x200 == 0
	case RulePoolFlags:
		return c&0x80 != 0
	case RuleLookasideFlags:
		return c&0x200 == 0
	case RuleProtection:
		return c&0xF0 != 0
	case RuleMdlPriority:
		return c&0x40000000 == 0
	}
	return false
}

// relevant is the mask of the bits rule looks at.
func relevant(rule Rule) uint64 {
	switch rule {
	case RulePoolType:
		return 0x201
	case RulePoolFlags:
		return 0x80
	case RuleLookasideFlags:
		return 0x200
	case RuleProtection:
		return 0xF0
	case RuleMdlPriority:
		return 0x40000000
	}
	return 0
}

// judge decides whether v, an argument under rule, may be executable.
func judge(rule Rule, v dataflow.Value) verdict {
	if cs, ok := v.Consts(); ok {
		return judgeSet(rule, cs)
	}
	known, b := v.KnownBits()
	mask := relevant(rule)
	if known == 0 || bits.OnesCount64(^known) > maxUnknownBits {
		return verdict{unresolved: true}
	}
	// Every combination of the unknown relevant bits is a candidate; the
	// unknown irrelevant bits do not change the verdict, so take them as 0.
	free := mask &^ known
	var cands []uint64
	for sub := free; ; sub = (sub - 1) & free {
		cands = append(cands, b|sub)
		if sub == 0 {
			break
		}
	}
	return judgeSet(rule, cands)
}

func judgeSet(rule Rule, cs []uint64) verdict {
	var out verdict
	n := 0
	for _, c := range cs {
		if executable(rule, c) {
			if n == 0 {
				out.example = c
			}
			n++
		}
	}
	out.exec = n > 0
	out.definite = n == len(cs)
	return out
}

// mayBeKernelMode reports whether an AccessMode value may be KernelMode (0):
// unknown counts as "may", so the priority decides.
func mayBeKernelMode(v dataflow.Value) (may, definite bool) {
	if cs, ok := v.Consts(); ok {
		zero := 0
		for _, c := range cs {
			if c&0xff == 0 {
				zero++
			}
		}
		return zero > 0, zero == len(cs)
	}
	known, b := v.KnownBits()
	if known&0xff == 0xff {
		return b&0xff == 0, b&0xff == 0
	}
	return true, false
}
