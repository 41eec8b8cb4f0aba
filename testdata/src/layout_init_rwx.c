/*
 * layout_init_rwx: DriverEntry in a discardable INIT section that is
 * readable, writable and executable, as Visual Studio 2013 and older linked
 * it. Windows 10 strips the write permission at load, so the 0x2003 finding
 * does not block memory integrity (blocking=false).
 * clang: #pragma code_seg("INIT") (clang 14 has no #pragma alloc_text) and
 * /SECTION:INIT,ERWD. mingw: __attribute__((section("INIT"))), then
 * objcopy --set-section-flags INIT=alloc,load,contents,code,debug on the
 * image (ld cannot mark a section discardable; "debug" maps to
 * IMAGE_SCN_MEM_DISCARDABLE, no "readonly" to IMAGE_SCN_MEM_WRITE), the same
 * kind of post-link fix-up ReactOS's pefixup does for its GCC-built drivers.
 */
#include "km.h"

// want-section 0x2003 INIT blocking=false

volatile SIZE_T g_Len = 64;

NOINLINE PVOID Helper(SIZE_T Len)
{
	return ExAllocatePoolWithTag(NonPagedPoolNx, Len, 'tniH');
}

#if defined(_MSC_VER)
#pragma code_seg("INIT")
#define INIT_CODE
#else
#define INIT_CODE __attribute__((section("INIT")))
#endif

INIT_CODE NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	DbgPrint("init_rwx %p\n", Helper(g_Len));
	return STATUS_SUCCESS;
}

#if defined(_MSC_VER)
#pragma code_seg()
#endif
