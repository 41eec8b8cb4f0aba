package scantest

// Example is a synthetic image that breaks one rule, for tests and for the
// examples in docs/checks.md.
type Example struct {
	// File is the file name the example is written or reported as.
	File string
	// Rule is the name of the rule the image breaks.
	Rule  string
	Image Image
}

// Examples returns images that break the image rules of package checks, in
// the order of checks.All (a rule may have several). A rule without an
// example here gets none in the docs.
func Examples() []Example {
	return []Example{
		{File: "exec-pool.sys", Rule: "executable-pool-type", Image: ExecutablePool()},
		{File: "map-io-space.sys", Rule: "executable-page-protection", Image: ExecutableMapping()},
		{File: "map-locked-pages.sys", Rule: "executable-mdl-mapping", Image: ExecutableMDLMapping()},
		{File: "rwx.sys", Rule: "writable-executable-section", Image: WritableExecutable()},
		{File: "old-init.sys", Rule: "writable-executable-section", Image: ToleratedINIT()},
		{File: "align200.sys", Rule: "unaligned-section", Image: Unaligned()},
		{File: "iat-in-text.sys", Rule: "iat-in-executable-section", Image: IATInCode()},
		{File: "packed-pointer.sys", Rule: "page-crossing-relocation", Image: PageCrossingReloc()},
	}
}

// WritableExecutable is Driver with a read-write-execute section "RWXCODE".
func WritableExecutable() Image {
	im := Driver()
	im.Sections = append(im.Sections, Section{Name: "RWXCODE", Characteristics: RWX, Data: []byte{0xc3}})
	return im
}

// ToleratedINIT is Driver with the discardable RWX INIT section that old
// toolchains emit: reported, but not blocking.
func ToleratedINIT() Image {
	im := Driver()
	im.Sections = append(im.Sections, Section{Name: "INIT", Characteristics: INIT, Data: []byte{0xc3}})
	return im
}

// Unaligned is Driver linked with SectionAlignment 0x200, so its sections
// start off page boundaries.
func Unaligned() Image {
	im := Driver()
	im.SectionAlignment = 0x200
	im.EntryPoint = 0x200
	return im
}

// IATInCode is Driver with its imports (and so its IAT) merged into .text.
func IATInCode() Image {
	im := Driver()
	im.ImportSection = ".text"
	return im
}

// PageCrossingReloc is Driver with a DIR64 base relocation at RVA 0x3ffc,
// whose 8 bytes straddle the page boundary at 0x4000.
func PageCrossingReloc() Image {
	im := Driver()
	im.Sections[2].Data = make([]byte, 0x1000)
	im.Relocs = []uint32{0x3000, 0x3ffc}
	return im
}

// callDriver is Driver whose entry point calls fn from ntoskrnl.exe after
// setup, the bytes that load its arguments.
func callDriver(fn string, setup ...byte) Image {
	im := Driver()
	im.Imports = []Import{{DLL: "ntoskrnl.exe", Functions: []string{fn}}}
	im.Code = func(va uint32, slot func(string) uint32) []byte {
		code := append([]byte{0x48, 0x83, 0xec, 0x28}, setup...) // sub rsp, 0x28
		code = append(code, CallIAT(va+uint32(len(code)), slot(fn))...)
		return append(code, 0x48, 0x83, 0xc4, 0x28, 0xc3) // add rsp, 0x28; ret
	}
	return im
}

// ExecutablePool is a driver calling ExAllocatePoolWithTag(NonPagedPool,
// 0x100, 'tseT'), tag "Test".
func ExecutablePool() Image {
	return callDriver("ExAllocatePoolWithTag",
		0x33, 0xc9, // xor ecx, ecx: NonPagedPool
		0xba, 0x00, 0x01, 0x00, 0x00, // mov edx, 0x100
		0x41, 0xb8, 'T', 'e', 's', 't') // mov r8d, 0x74736554: tag "Test"
}

// ExecutableMapping is a driver calling MmMapIoSpace, whose mapping is
// always executable.
func ExecutableMapping() Image {
	return callDriver("MmMapIoSpace",
		0x48, 0xb9, 0, 0, 0xd0, 0xfe, 0, 0, 0, 0, // mov rcx, 0xfed00000
		0xba, 0x00, 0x10, 0x00, 0x00, // mov edx, 0x1000
		0x45, 0x33, 0xc0) // xor r8d, r8d: MmNonCached
}

// ExecutableMDLMapping is a driver calling MmMapLockedPages(mdl, KernelMode).
func ExecutableMDLMapping() Image {
	return callDriver("MmMapLockedPages",
		0x48, 0x8b, 0xcb, // mov rcx, rbx
		0x33, 0xd2) // xor edx, edx: KernelMode
}
