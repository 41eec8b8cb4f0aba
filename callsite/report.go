package callsite

import (
	"fmt"
	"strings"
)

// report records a finding for p at ev, once per site, API and chain.
func (w *walker) report(fi *funcInfo, ev *callEvent, p pending, v verdict, hasValue bool) {
	f := Finding{Code: p.api.Code, API: p.api.Name, Site: ev.site, Function: fi.fn.Start, Certainty: Possible}
	if v.definite {
		f.Certainty = Definite
	}
	if hasValue {
		val := v.example
		f.Value = &val
	}
	if tag, ok := p.tag.Const(); ok && p.api.TagArg >= 0 {
		f.Tag = tagText(uint32(tag))
	}
	if len(p.chain) > 0 {
		f.Path = append([]string{fmt.Sprintf("sub_%x@%x", fi.fn.Start, ev.site)}, p.chain...)
		f.Path = append(f.Path, p.api.Name)
	}
	key := fmt.Sprintf("%x/%s/%s", f.Site, f.API, strings.Join(f.Path, ">"))
	if w.seen[key] {
		return
	}
	w.seen[key] = true
	f.Message = message(p.api, f, v, hasValue)
	f.Fix = "use " + p.api.Replacement
	w.findings = append(w.findings, f)
}

// message says in one sentence what is wrong with the call.
func message(a *API, f Finding, v verdict, hasValue bool) string {
	what := a.Name
	if len(f.Path) > 0 {
		what = fmt.Sprintf("%s (through %s)", a.Name, strings.Join(f.Path[1:len(f.Path)-1], " → "))
	}
	if !hasValue {
		switch {
		case a.ModeArg >= 0 && !v.definite:
			return fmt.Sprintf("%s may map the MDL for kernel mode, where the mapping is always executable", what)
		case a.ModeArg >= 0:
			return fmt.Sprintf("%s maps the MDL for kernel mode, and that mapping is always executable", what)
		}
		return fmt.Sprintf("%s always returns executable memory", what)
	}
	verb := "is called with"
	if !v.definite {
		verb = "may be called with"
	}
	return fmt.Sprintf("%s %s %s %s, which is executable", what, verb, argName(a.Rule), valueName(a.Rule, *f.Value))
}

func argName(r Rule) string {
	switch r {
	case RulePoolType:
		return "pool type"
	case RulePoolFlags:
		return "pool flags"
	case RuleLookasideFlags:
		return "lookaside flags"
	case RuleProtection:
		return "page protection"
	case RuleMdlPriority:
		return "priority"
	}
	return "argument"
}

// valueName shows a value with the constant names that make it up.
func valueName(r Rule, v uint64) string {
	var name string
	switch r {
	case RulePoolType:
		name = poolTypeName(v)
	case RuleProtection:
		name = protectionName(v)
	case RuleMdlPriority:
		name = "no MdlMappingNoExecute"
	case RulePoolFlags:
		name = "POOL_FLAG_NON_PAGED_EXECUTE"
	case RuleLookasideFlags:
		name = "no POOL_NX_ALLOCATION"
	}
	if name == "" {
		return fmt.Sprintf("%#x", v)
	}
	return fmt.Sprintf("%#x (%s)", v, name)
}

func poolTypeName(v uint64) string {
	base := map[uint64]string{0: "NonPagedPool", 2: "NonPagedPoolMustSucceed", 4: "NonPagedPoolCacheAligned", 6: "NonPagedPoolCacheAlignedMustS"}
	n, ok := base[v&7]
	if !ok {
		return ""
	}
	if v&0x20 != 0 {
		n += "Session"
	}
	for _, m := range []struct {
		bit  uint64
		name string
	}{{0x400, "POOL_ZERO_ALLOCATION"}, {0x10, "POOL_RAISE_IF_ALLOCATION_FAILURE"}, {0x8, "POOL_QUOTA_FAIL_INSTEAD_OF_RAISE"}, {0x100, "POOL_COLD_ALLOCATION"}} {
		if v&m.bit != 0 {
			n += " | " + m.name
		}
	}
	return n
}

func protectionName(v uint64) string {
	names := []struct {
		bit  uint64
		name string
	}{{0x10, "PAGE_EXECUTE"}, {0x20, "PAGE_EXECUTE_READ"}, {0x40, "PAGE_EXECUTE_READWRITE"}, {0x80, "PAGE_EXECUTE_WRITECOPY"},
		{0x01, "PAGE_NOACCESS"}, {0x02, "PAGE_READONLY"}, {0x04, "PAGE_READWRITE"}, {0x08, "PAGE_WRITECOPY"}, {0x100, "PAGE_GUARD"}, {0x200, "PAGE_NOCACHE"}, {0x400, "PAGE_WRITECOMBINE"}}
	var parts []string
	for _, n := range names {
		if v&n.bit != 0 {
			parts = append(parts, n.name)
		}
	}
	return strings.Join(parts, " | ")
}

// tagText shows a pool tag as its four bytes in memory order, as pool
// tools display it.
func tagText(t uint32) string {
	var b strings.Builder
	for i := 0; i < 4; i++ {
		c := byte(t >> (8 * i))
		if c >= 0x20 && c < 0x7f {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "\\x%02x", c)
		}
	}
	return b.String()
}
