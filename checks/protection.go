package checks

// ExecutableProtection is Driver Verifier's 0x2001: an executable page
// protection, or an API whose mapping is always executable.
var ExecutableProtection = &Analyzer{
	Rule: Rule{
		Code:  "0x2001",
		Name:  "executable-page-protection",
		Title: "memory is mapped or allocated with an executable page protection",
		Doc: "A call passes a page protection with a PAGE_EXECUTE* bit (PAGE_EXECUTE 0x10, PAGE_EXECUTE_READ 0x20, " +
			"PAGE_EXECUTE_READWRITE 0x40, PAGE_EXECUTE_WRITECOPY 0x80) to MmMapIoSpaceEx, " +
			"MmAllocateContiguousNodeMemory, MmAllocateContiguousMemoryEx, MmProtectMdlSystemAddress, " +
			"ZwAllocateVirtualMemory, ZwMapViewOfSection or ZwCreateSection, or calls an API that always maps or " +
			"allocates executable memory (MmMapIoSpace, MmAllocateContiguousMemory, " +
			"MmAllocateContiguousMemorySpecifyCache(Node)). Memory integrity never grants the execute permission; " +
			"Driver Verifier bug-checks with 0xC4/0x2001.",
		Fix: "Drop the PAGE_EXECUTE* bit (PAGE_EXECUTE_READWRITE → PAGE_READWRITE, PAGE_EXECUTE_READ → " +
			"PAGE_READONLY); replace MmMapIoSpace by MmMapIoSpaceEx(…, PAGE_READWRITE | PAGE_NOCACHE) and " +
			"MmAllocateContiguousMemory* by MmAllocateContiguousNodeMemory(…, PAGE_READWRITE, …).",
	},
	Run: func(p *Pass) error { return reportCallSites(p, "0x2001") },
}
