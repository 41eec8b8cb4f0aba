/*
 * callsite_routine_address: ExAllocatePoolWithTag resolved at run time with
 * MmGetSystemRoutineAddress(L"ExAllocatePoolWithTag"), stored in a global
 * function pointer and called through it later (no import of
 * ExAllocatePoolWithTag at all). NonPagedPool → 0x2000; NonPagedPoolNx →
 * nothing.
 */
#include "km.h"

#define TAG 'arsH'

typedef PVOID(NTAPI *PFN_EX_ALLOCATE_POOL_WITH_TAG)(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);

volatile SIZE_T g_Len = 64;
PVOID volatile g_Sink;
PFN_EX_ALLOCATE_POOL_WITH_TAG g_ExAllocatePoolWithTag;

NOINLINE VOID ResolveRoutines(VOID)
{
	UNICODE_STRING Name;
	RtlInitUnicodeString(&Name, L"ExAllocatePoolWithTag");
	g_ExAllocatePoolWithTag = (PFN_EX_ALLOCATE_POOL_WITH_TAG)MmGetSystemRoutineAddress(&Name);
}

NOINLINE VOID UseRoutines(SIZE_T Len)
{
	if (g_ExAllocatePoolWithTag == NULL)
		return;
	g_Sink = g_ExAllocatePoolWithTag(NonPagedPool, Len, TAG); // want 0x2000 value=0x0
	g_Sink = g_ExAllocatePoolWithTag(NonPagedPoolNx, Len, TAG);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	ResolveRoutines();
	UseRoutines(g_Len);
	return STATUS_SUCCESS;
}
