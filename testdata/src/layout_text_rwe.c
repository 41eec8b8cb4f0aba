/*
 * layout_text_rwe: .text is writable as well as executable.
 * clang/lld-link: /SECTION:.text,RWE. mingw/ld: -N (--omagic), which leaves
 * .text writable.
 */
#include "km.h"

// want-section 0x2003 .text blocking=true

volatile SIZE_T g_Len = 64;

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, g_Len, 'ewrH');
	DbgPrint("text_rwe %p\n", p);
	return STATUS_SUCCESS;
}
