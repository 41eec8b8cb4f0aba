/*
 * callsite_mdl_safe: MmGetSystemAddressForMdlSafe, a FORCEINLINE function in
 * km.h as in wdm.h: a test of MdlFlags, then
 * MmMapLockedPagesSpecifyCache(Mdl, KernelMode, MmCached, NULL, FALSE,
 * Priority). Without MdlMappingNoExecute: 0x2002; with it: nothing. The call
 * instruction's line-table row is in km.h; the harness maps it to the line
 * below through the inlined-subroutine call site.
 */
#include "km.h"

#define TAG 'fsmH'

volatile SIZE_T g_Len = 4096;
PVOID volatile g_Sink;

NOINLINE VOID MapMdlSafe(PMDL Mdl)
{
	g_Sink = MmGetSystemAddressForMdlSafe(Mdl, NormalPagePriority); // want 0x2002 value=0x10
	g_Sink = MmGetSystemAddressForMdlSafe(Mdl, NormalPagePriority | MdlMappingNoExecute);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	PVOID Buffer = ExAllocatePoolWithTag(NonPagedPoolNx, g_Len, TAG);
	PMDL Mdl;
	if (Buffer == NULL)
		return STATUS_UNSUCCESSFUL;
	Mdl = IoAllocateMdl(Buffer, (ULONG)g_Len, FALSE, FALSE, NULL);
	if (Mdl != NULL) {
		MapMdlSafe(Mdl);
		IoFreeMdl(Mdl);
	}
	ExFreePoolWithTag(Buffer, TAG);
	return STATUS_SUCCESS;
}
