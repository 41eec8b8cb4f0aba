package checks

// ExecutableMDLMapping is Driver Verifier's 0x2002: a kernel-mode MDL
// mapping without MdlMappingNoExecute.
var ExecutableMDLMapping = &Analyzer{
	Rule: Rule{
		Code:  "0x2002",
		Name:  "executable-mdl-mapping",
		Title: "MDL is mapped for kernel mode without MdlMappingNoExecute",
		Doc: "MmMapLockedPagesSpecifyCache (also as the expansion of MmGetSystemAddressForMdlSafe) is called with " +
			"AccessMode KernelMode and a Priority without MdlMappingNoExecute (0x40000000), or MmMapLockedPages " +
			"(and the deprecated MmGetSystemAddressForMdl) maps an MDL for kernel mode, which is always executable. " +
			"User-mode mappings are never executable and are not reported. Driver Verifier bug-checks with " +
			"0xC4/0x2002.",
		Fix: "OR MdlMappingNoExecute into the priority (MmGetSystemAddressForMdlSafe(Mdl, NormalPagePriority | " +
			"MdlMappingNoExecute)), or build with POOL_NX_OPTIN_AUTO=1; replace MmMapLockedPages by " +
			"MmMapLockedPagesSpecifyCache with MdlMappingNoExecute.",
	},
	Run: func(p *Pass) error { return reportCallSites(p, "0x2002") },
}
