/*
 * callsite_map_locked_pages: MmMapLockedPages has no priority argument, so a
 * kernel-mode mapping is always executable: 0x2002. A user-mode mapping:
 * nothing. (Uncertain: whether Driver Verifier flags MmMapLockedPages itself
 * is unconfirmed; it is on Microsoft's list of affected DDIs.)
 */
#include "km.h"

#define TAG 'plmH'

volatile SIZE_T g_Len = 4096;
PVOID volatile g_Sink;

NOINLINE VOID MapLocked(PMDL Mdl)
{
	g_Sink = MmMapLockedPages(Mdl, KernelMode); // want 0x2002
	g_Sink = MmMapLockedPages(Mdl, UserMode);
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
		MapLocked(Mdl);
		IoFreeMdl(Mdl);
	}
	ExFreePoolWithTag(Buffer, TAG);
	return STATUS_SUCCESS;
}
