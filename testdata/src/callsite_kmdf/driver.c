/*
 * callsite_kmdf/driver.c: WdfMemoryCreate, a FORCEINLINE in kmdf.h that
 * calls entry 192 of the WdfFunctions_01015 table with WdfDriverGlobals
 * first, so PoolType is the third argument of the indirect call
 * (x64: mov rax,[WdfFunctions_01015]; call [rax+0x600]). NonPagedPool →
 * 0x2000 at that call; NonPagedPoolNx → nothing. (Uncertain: whether Driver
 * Verifier blames the client driver, since the allocation happens inside
 * Wdf01000.sys; the table treats it as the driver's.)
 */
#include "kmdf.h"

#define TAG 'fdkH'

volatile SIZE_T g_Len = 64;
PVOID volatile g_Sink;

NOINLINE NTSTATUS CreateBuffers(SIZE_T Len)
{
	WDFMEMORY Memory;
	PVOID Buffer;
	NTSTATUS Status = WdfMemoryCreate(NULL, NonPagedPool, TAG, Len, &Memory, &Buffer); // want 0x2000 value=0x0
	if (NT_SUCCESS(Status))
		g_Sink = Buffer;
	Status = WdfMemoryCreate(NULL, NonPagedPoolNx, TAG, Len, &Memory, &Buffer);
	if (NT_SUCCESS(Status))
		g_Sink = Buffer;
	return Status;
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	return CreateBuffers(g_Len);
}
