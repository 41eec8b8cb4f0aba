/*
 * callsite_mdl: MmMapLockedPagesSpecifyCache. A kernel-mode mapping whose
 * Priority lacks MdlMappingNoExecute (0x40000000) is executable: 0x2002 with
 * the priority as the value. With MdlMappingNoExecute, or for a user-mode
 * mapping (always NX): nothing.
 */
#include "km.h"

#define TAG 'ldmH'

volatile SIZE_T g_Len = 4096;
PVOID volatile g_Sink;

NOINLINE VOID MapMdl(PMDL Mdl)
{
	g_Sink = MmMapLockedPagesSpecifyCache(Mdl, KernelMode, MmCached, NULL, FALSE, NormalPagePriority); // want 0x2002 value=0x10
	g_Sink = MmMapLockedPagesSpecifyCache(Mdl, KernelMode, MmNonCached, NULL, FALSE, HighPagePriority | MdlMappingNoWrite); // want 0x2002 value=0x80000020
	g_Sink = MmMapLockedPagesSpecifyCache(Mdl, KernelMode, MmCached, NULL, FALSE, NormalPagePriority | MdlMappingNoExecute);
	g_Sink = MmMapLockedPagesSpecifyCache(Mdl, UserMode, MmCached, NULL, FALSE, NormalPagePriority);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	PVOID Buffer = ExAllocatePoolWithTag(NonPagedPoolNx, g_Len, TAG);
	PMDL Mdl;
	if (Buffer == NULL)
		return STATUS_UNSUCCESSFUL;
	Mdl = IoAllocateMdl(Buffer, (ULONG)g_Len, FALSE, FALSE, NULL);
	if (Mdl != NULL) {
		MmBuildMdlForNonPagedPool(Mdl);
		MapMdl(Mdl);
		IoFreeMdl(Mdl);
	}
	ExFreePoolWithTag(Buffer, TAG);
	return STATUS_SUCCESS;
}
