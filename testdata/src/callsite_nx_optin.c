/*
 * callsite_nx_optin: the WDK's POOL_NX_OPTIN pattern. NonPagedPool is a read
 * of the global ExDefaultNonPagedPoolType, MDL mappings and lookaside flags
 * OR in ExDefaultMdlProtection / ExDefaultNonPagedPoolType. Both globals
 * start at 0; ExInitializeDriverRuntime (inlined into DriverEntry) sets them
 * to NonPagedPoolNx (0x200) and MdlMappingNoExecute (0x40000000) after
 * RtlGetVersion. On Windows 10+ (the only systems with memory integrity) the
 * version test always passes, so every use below is NX: nothing to report.
 */
#define POOL_NX_OPTIN 1
#include "km.h"

// want-none

#define TAG 'nixH'

volatile SIZE_T g_Len = 64;
PVOID volatile g_Sink;
NPAGED_LOOKASIDE_LIST g_Lookaside;

NOINLINE VOID UseDefaults(PMDL Mdl, SIZE_T Len)
{
	g_Sink = ExAllocatePoolWithTag(NonPagedPool, Len, TAG);
	g_Sink = ExAllocatePoolWithTag(NonPagedPoolCacheAligned, Len, TAG);
	g_Sink = MmMapLockedPagesSpecifyCache(Mdl, KernelMode, MmCached, NULL, FALSE, NormalPagePriority);
	g_Sink = MmGetSystemAddressForMdlSafe(Mdl, NormalPagePriority);
	ExInitializeNPagedLookasideList(&g_Lookaside, NULL, NULL, 0, Len, TAG, 0);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	PMDL Mdl;
	ExInitializeDriverRuntime(DrvRtPoolNxOptIn);
	Mdl = IoAllocateMdl((PVOID)&g_Lookaside, sizeof(g_Lookaside), FALSE, FALSE, NULL);
	if (Mdl == NULL)
		return STATUS_UNSUCCESSFUL;
	MmBuildMdlForNonPagedPool(Mdl);
	UseDefaults(Mdl, g_Len);
	IoFreeMdl(Mdl);
	return STATUS_SUCCESS;
}
