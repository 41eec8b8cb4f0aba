/*
 * callsite_nx_optin_unset: the POOL_NX_OPTIN globals are read but never set
 * (the driver forgot ExInitializeDriverRuntime, Code Analysis C30031/C30035).
 * They keep their initial value 0, so NonPagedPool is executable pool (0x2000)
 * and the MDL mapping lacks MdlMappingNoExecute (0x2002).
 */
#define POOL_NX_OPTIN 1
#include "km.h"

#define TAG 'snxH'

volatile SIZE_T g_Len = 64;
PVOID volatile g_Sink;
NPAGED_LOOKASIDE_LIST g_Lookaside;

NOINLINE VOID UseDefaults(PMDL Mdl, SIZE_T Len)
{
	g_Sink = ExAllocatePoolWithTag(NonPagedPool, Len, TAG); // want 0x2000 value=0x0
	g_Sink = ExAllocatePoolWithTag(NonPagedPoolCacheAligned, Len, TAG); // want 0x2000 value=0x4
	g_Sink = MmMapLockedPagesSpecifyCache(Mdl, KernelMode, MmCached, NULL, FALSE, NormalPagePriority); // want 0x2002 value=0x10
	ExInitializeNPagedLookasideList(&g_Lookaside, NULL, NULL, 0, Len, TAG, 0); // want 0x2000 value=0x0
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	PMDL Mdl = IoAllocateMdl((PVOID)&g_Lookaside, sizeof(g_Lookaside), FALSE, FALSE, NULL);
	if (Mdl == NULL)
		return STATUS_UNSUCCESSFUL;
	MmBuildMdlForNonPagedPool(Mdl);
	UseDefaults(Mdl, g_Len);
	IoFreeMdl(Mdl);
	return STATUS_SUCCESS;
}
