/*
 * callsite_protect_mdl: MmProtectMdlSystemAddress(Mdl, NewProtect) with an
 * executable protection → 0x2001; PAGE_READONLY → nothing.
 */
#include "km.h"

#define TAG 'tpmH'

volatile SIZE_T g_Len = 4096;
volatile NTSTATUS g_Status;

NOINLINE VOID Protect(PMDL Mdl)
{
	g_Status = MmProtectMdlSystemAddress(Mdl, PAGE_EXECUTE_READ); // want 0x2001 value=0x20
	g_Status = MmProtectMdlSystemAddress(Mdl, PAGE_READONLY);
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
		Protect(Mdl);
		IoFreeMdl(Mdl);
	}
	ExFreePoolWithTag(Buffer, TAG);
	return STATUS_SUCCESS;
}
