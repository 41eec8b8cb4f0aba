package checks

// ExecutablePoolType is Driver Verifier's 0x2000: a pool allocation that
// asks for executable memory.
var ExecutablePoolType = &Analyzer{
	Rule: Rule{
		Code:  "0x2000",
		Name:  "executable-pool-type",
		Title: "pool allocation asks for executable memory",
		Doc: "A call of a pool allocator passes a non-paged pool type without the NX bit (NonPagedPool, " +
			"NonPagedPoolMustSucceed, NonPagedPoolCacheAligned, their session variants, with or without the " +
			"modifier bits POOL_ZERO_ALLOCATION, POOL_RAISE_IF_ALLOCATION_FAILURE, POOL_QUOTA_FAIL_INSTEAD_OF_RAISE, " +
			"POOL_COLD_ALLOCATION), ExAllocatePool2/3 flags with POOL_FLAG_NON_PAGED_EXECUTE (0x80), " +
			"ExInitializeNPagedLookasideList Flags without POOL_NX_ALLOCATION, or a KMDF DDI (WdfMemoryCreate, " +
			"WdfLookasideListCreate, …) a non-NX pool type. With memory integrity on such memory is not executable " +
			"after all, and Driver Verifier's code-integrity option bug-checks with 0xC4/0x2000 at the call. The " +
			"analysis follows the value through registers, stack slots, branches, wrappers and globals; " +
			"`certainty: possible` means some path passes an executable value.",
		Fix: "Pass NonPagedPoolNx (or PagedPool), build with POOL_NX_OPTIN_AUTO=1 or POOL_NX_OPTIN=1 plus " +
			"ExInitializeDriverRuntime(DrvRtPoolNxOptIn) first in DriverEntry, or use ExAllocatePool2 with " +
			"POOL_FLAG_NON_PAGED.",
	},
	Run: func(p *Pass) error { return reportCallSites(p, "0x2000") },
}
