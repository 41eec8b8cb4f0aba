// Package callsite finds every call of the kernel's allocation and mapping
// APIs in a driver's machine code and computes the arguments that decide
// whether the memory is executable (Driver Verifier's 0x2000, 0x2001 and
// 0x2002), with the data-flow engine of package dataflow. The APIs are
// data: the table in this file drives one generic analysis.
package callsite

import (
	"fmt"
	"strings"
)

// Rule is how an API's checked argument is judged.
type Rule uint8

// Rules.
const (
	// RulePoolType: a POOL_TYPE; executable when non-paged (bit 0 clear)
	// without the NX bit 0x200, after masking the modifier bits.
	RulePoolType Rule = iota + 1
	// RulePoolFlags: ExAllocatePool2/3 POOL_FLAGS; executable with
	// POOL_FLAG_NON_PAGED_EXECUTE (0x80).
	RulePoolFlags
	// RuleLookasideFlags: ExInitializeNPagedLookasideList Flags; executable
	// without POOL_NX_ALLOCATION (0x200).
	RuleLookasideFlags
	// RuleProtection: a page protection; executable with any PAGE_EXECUTE*
	// bit (0x10, 0x20, 0x40, 0x80).
	RuleProtection
	// RuleMdlPriority: an MDL mapping's priority; executable without
	// MdlMappingNoExecute (0x40000000) when the mapping is for kernel mode.
	RuleMdlPriority
	// RuleAlways: the API has no way to ask for non-executable memory; with
	// a ModeArg, only kernel-mode mappings count.
	RuleAlways
)

// API describes one checked kernel API.
type API struct {
	Name string
	// Code is the Driver Verifier code a violation is reported under.
	Code string
	Rule Rule
	// Arg is the C index of the checked argument (-1 for RuleAlways).
	Arg int
	// TagArg is the C index of the pool tag argument, or -1.
	TagArg int
	// ModeArg is the C index of a KPROCESSOR_MODE argument that must be
	// KernelMode (0) for a violation, or -1.
	ModeArg int
	// Slots gives, per C argument, how many 4-byte stack slots it takes in
	// the 32-bit x86 stdcall convention (2 for 64-bit arguments).
	Slots []uint8
	// Replacement names the NX alternative for the message.
	Replacement string
	// WDFIndex is, for a KMDF DDI, its index in the WdfFunctions table (and
	// Arg, TagArg count the WdfDriverGlobals argument first); else -1.
	WDFIndex int
}

// Slot returns the x86 stack slot of C argument i (the C index elsewhere).
func (a *API) Slot(i int, x86 bool) int {
	if !x86 || a.Slots == nil {
		return i
	}
	n := 0
	for j := 0; j < i && j < len(a.Slots); j++ {
		n += int(a.Slots[j])
	}
	return n
}

// PopBytes is the stack bytes a 32-bit stdcall call of the API pops.
func (a *API) PopBytes() int64 {
	n := 0
	for _, s := range a.Slots {
		n += int(s)
	}
	return int64(4 * n)
}

func slots(s string) []uint8 {
	out := make([]uint8, len(s))
	for i, c := range s {
		out[i] = uint8(c - '0')
	}
	return out
}

// apiTable lists every checked API. The facts behind it are in
// docs/checks.md ("The API table").
func apiTable() []API {
	none, x := -1, -1
	return []API{
		{Name: "ExAllocatePool", Code: "0x2000", Rule: RulePoolType, Arg: 0, TagArg: none, ModeArg: x, Slots: slots("11"), Replacement: "ExAllocatePool2 with POOL_FLAG_NON_PAGED, or NonPagedPoolNx"},
		{Name: "ExAllocatePoolWithTag", Code: "0x2000", Rule: RulePoolType, Arg: 0, TagArg: 2, ModeArg: x, Slots: slots("111"), Replacement: "NonPagedPoolNx (or ExAllocatePool2 with POOL_FLAG_NON_PAGED)"},
		{Name: "ExAllocatePoolWithQuota", Code: "0x2000", Rule: RulePoolType, Arg: 0, TagArg: none, ModeArg: x, Slots: slots("11"), Replacement: "NonPagedPoolNx"},
		{Name: "ExAllocatePoolWithQuotaTag", Code: "0x2000", Rule: RulePoolType, Arg: 0, TagArg: 2, ModeArg: x, Slots: slots("111"), Replacement: "NonPagedPoolNx"},
		{Name: "ExAllocatePoolWithTagPriority", Code: "0x2000", Rule: RulePoolType, Arg: 0, TagArg: 2, ModeArg: x, Slots: slots("1111"), Replacement: "NonPagedPoolNx"},
		{Name: "ExAllocatePool2", Code: "0x2000", Rule: RulePoolFlags, Arg: 0, TagArg: 2, ModeArg: x, Slots: slots("211"), Replacement: "POOL_FLAG_NON_PAGED instead of POOL_FLAG_NON_PAGED_EXECUTE"},
		{Name: "ExAllocatePool3", Code: "0x2000", Rule: RulePoolFlags, Arg: 0, TagArg: 2, ModeArg: x, Slots: slots("21111"), Replacement: "POOL_FLAG_NON_PAGED instead of POOL_FLAG_NON_PAGED_EXECUTE"},
		{Name: "ExAllocateCacheAwareRundownProtection", Code: "0x2000", Rule: RulePoolType, Arg: 0, TagArg: 1, ModeArg: x, Slots: slots("11"), Replacement: "NonPagedPoolNx"},
		{Name: "ExInitializeLookasideListEx", Code: "0x2000", Rule: RulePoolType, Arg: 3, TagArg: 6, ModeArg: x, Slots: slots("11111111"), Replacement: "NonPagedPoolNx"},
		{Name: "ExInitializeNPagedLookasideList", Code: "0x2000", Rule: RuleLookasideFlags, Arg: 3, TagArg: 5, ModeArg: x, Slots: slots("1111111"), Replacement: "POOL_NX_ALLOCATION in Flags"},
		{Name: "FltAllocatePoolAlignedWithTag", Code: "0x2000", Rule: RulePoolType, Arg: 1, TagArg: 3, ModeArg: x, Slots: slots("1111"), Replacement: "NonPagedPoolNx"},
		{Name: "FltAllocateContext", Code: "0x2000", Rule: RulePoolType, Arg: 3, TagArg: none, ModeArg: x, Slots: slots("11111"), Replacement: "NonPagedPoolNx or PagedPool"},

		{Name: "MmAllocateContiguousNodeMemory", Code: "0x2001", Rule: RuleProtection, Arg: 4, TagArg: none, ModeArg: x, Slots: slots("122211"), Replacement: "PAGE_READWRITE"},
		{Name: "MmAllocateContiguousMemoryEx", Code: "0x2001", Rule: RuleProtection, Arg: 5, TagArg: 7, ModeArg: x, Slots: slots("1222111111"), Replacement: "PAGE_READWRITE"},
		{Name: "MmMapIoSpaceEx", Code: "0x2001", Rule: RuleProtection, Arg: 2, TagArg: none, ModeArg: x, Slots: slots("211"), Replacement: "PAGE_READWRITE | PAGE_NOCACHE"},
		{Name: "MmProtectMdlSystemAddress", Code: "0x2001", Rule: RuleProtection, Arg: 1, TagArg: none, ModeArg: x, Slots: slots("11"), Replacement: "a protection without PAGE_EXECUTE*"},
		{Name: "ZwAllocateVirtualMemory", Code: "0x2001", Rule: RuleProtection, Arg: 5, TagArg: none, ModeArg: x, Slots: slots("111111"), Replacement: "PAGE_READWRITE"},
		{Name: "NtAllocateVirtualMemory", Code: "0x2001", Rule: RuleProtection, Arg: 5, TagArg: none, ModeArg: x, Slots: slots("111111"), Replacement: "PAGE_READWRITE"},
		{Name: "ZwMapViewOfSection", Code: "0x2001", Rule: RuleProtection, Arg: 9, TagArg: none, ModeArg: x, Slots: slots("1111111111"), Replacement: "PAGE_READWRITE or PAGE_READONLY"},
		{Name: "NtMapViewOfSection", Code: "0x2001", Rule: RuleProtection, Arg: 9, TagArg: none, ModeArg: x, Slots: slots("1111111111"), Replacement: "PAGE_READWRITE or PAGE_READONLY"},
		{Name: "ZwCreateSection", Code: "0x2001", Rule: RuleProtection, Arg: 4, TagArg: none, ModeArg: x, Slots: slots("1111111"), Replacement: "PAGE_READWRITE or PAGE_READONLY"},
		{Name: "NtCreateSection", Code: "0x2001", Rule: RuleProtection, Arg: 4, TagArg: none, ModeArg: x, Slots: slots("1111111"), Replacement: "PAGE_READWRITE or PAGE_READONLY"},
		{Name: "MmMapIoSpace", Code: "0x2001", Rule: RuleAlways, Arg: x, TagArg: none, ModeArg: x, Slots: slots("211"), Replacement: "MmMapIoSpaceEx(..., PAGE_READWRITE | PAGE_NOCACHE)"},
		{Name: "MmAllocateContiguousMemory", Code: "0x2001", Rule: RuleAlways, Arg: x, TagArg: none, ModeArg: x, Slots: slots("12"), Replacement: "MmAllocateContiguousNodeMemory(..., PAGE_READWRITE, MM_ANY_NODE_OK)"},
		{Name: "MmAllocateContiguousMemorySpecifyCache", Code: "0x2001", Rule: RuleAlways, Arg: x, TagArg: none, ModeArg: x, Slots: slots("12221"), Replacement: "MmAllocateContiguousNodeMemory(..., PAGE_READWRITE, MM_ANY_NODE_OK)"},
		{Name: "MmAllocateContiguousMemorySpecifyCacheNode", Code: "0x2001", Rule: RuleAlways, Arg: x, TagArg: none, ModeArg: x, Slots: slots("122211"), Replacement: "MmAllocateContiguousNodeMemory(..., PAGE_READWRITE, node)"},

		{Name: "MmMapLockedPagesSpecifyCache", Code: "0x2002", Rule: RuleMdlPriority, Arg: 5, TagArg: none, ModeArg: 1, Slots: slots("111111"), Replacement: "MdlMappingNoExecute OR'd into Priority"},
		{Name: "MmMapLockedPages", Code: "0x2002", Rule: RuleAlways, Arg: x, TagArg: none, ModeArg: 1, Slots: slots("11"), Replacement: "MmGetSystemAddressForMdlSafe(Mdl, NormalPagePriority | MdlMappingNoExecute)"},
	}
}

// wdfTable lists the KMDF DDIs with a pool type argument, called through the
// WdfFunctions table. Argument indexes count WdfDriverGlobals as argument 0.
func wdfTable() []API {
	mk := func(name string, idx, pool, tag int) API {
		return API{Name: name, Code: "0x2000", Rule: RulePoolType, Arg: pool, TagArg: tag, ModeArg: -1, WDFIndex: idx, Replacement: "NonPagedPoolNx"}
	}
	return []API{
		mk("WdfMemoryCreate", 192, 2, 3),
		mk("WdfLookasideListCreate", 198, 3, 5),
		mk("WdfDeviceAllocAndQueryProperty", 82, 3, -1),
		mk("WdfFdoInitAllocAndQueryProperty", 127, 3, -1),
		mk("WdfIoTargetAllocAndQueryTargetProperty", 176, 3, -1),
		mk("WdfRegistryQueryMemory", 236, 3, -1),
		mk("WdfDeviceAllocAndQueryPropertyEx", 434, 3, -1),
		mk("WdfFdoInitAllocAndQueryPropertyEx", 437, 3, -1),
	}
}

// Table is the set of checked APIs, looked up by name.
type Table struct {
	byName map[string]*API
	byWDF  map[int]*API
}

// NewTable returns the checked-API table.
func NewTable() *Table {
	t := &Table{byName: map[string]*API{}, byWDF: map[int]*API{}}
	for _, a := range apiTable() {
		a.WDFIndex = -1
		t.byName[strings.ToLower(a.Name)] = &a
	}
	for _, a := range wdfTable() {
		t.byWDF[a.WDFIndex] = &a
	}
	return t
}

// Lookup returns the API named name (case-insensitive), or nil.
func (t *Table) Lookup(name string) *API {
	var buf [64]byte
	if len(name) > len(buf) {
		return t.byName[strings.ToLower(name)]
	}
	b := buf[:len(name)]
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	return t.byName[string(b)] // no allocation: the conversion is the map key's
}

// WDF returns the KMDF DDI at WdfFunctions index i, or nil.
func (t *Table) WDF(i int) *API { return t.byWDF[i] }

// APIs returns every API of the table, imports first, then KMDF DDIs.
func APIs() []API {
	out := apiTable()
	for i := range out {
		out[i].WDFIndex = -1
	}
	return append(out, wdfTable()...)
}

// RuleText says in words when a call of a is executable, for the docs.
func RuleText(a *API) string {
	var s string
	switch a.Rule {
	case RulePoolType:
		s = "non-paged pool type without NonPagedPoolNx (0x200), modifier bits masked"
	case RulePoolFlags:
		s = "flags with POOL_FLAG_NON_PAGED_EXECUTE (0x80)"
	case RuleLookasideFlags:
		s = "Flags without POOL_NX_ALLOCATION (0x200)"
	case RuleProtection:
		s = "protection with a PAGE_EXECUTE* bit (0xF0)"
	case RuleMdlPriority:
		s = "Priority without MdlMappingNoExecute (0x40000000)"
	case RuleAlways:
		s = "always"
	}
	if a.ModeArg >= 0 {
		s += fmt.Sprintf(", when AccessMode (argument %d) is KernelMode", a.ModeArg)
	}
	return s
}
