/*
 * layout_merge_rdata: the import address table lies inside .text.
 * clang/lld-link: /MERGE:.rdata=.text (lld-link keeps the IAT in .rdata).
 * mingw/ld: a linker script made from ld's default one that moves .idata$5
 * (the IAT, between __IAT_start__ and __IAT_end__) to the end of .text; the
 * import descriptors stay in .idata.
 */
#include "km.h"

// want-section 0x2005 .text blocking=true

volatile SIZE_T g_Len = 64;

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, g_Len, 'grmH');
	DbgPrint("merge_rdata %p\n", p);
	if (p != NULL)
		ExFreePoolWithTag(p, 'grmH');
	return STATUS_SUCCESS;
}
