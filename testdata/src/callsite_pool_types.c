/*
 * callsite_pool_types: ExAllocatePoolWithTag with constant pool types.
 * Non-paged without the NX bit (after masking the modifier bits 0x8, 0x10,
 * 0x100, 0x400 and the session bit 0x20) is executable: 0x2000 with the
 * pool type as passed as the value. NX and paged types: nothing.
 */
#include "km.h"

#define TAG 'pytH'

volatile SIZE_T g_Len = 64;
PVOID volatile g_Sink;

NOINLINE VOID ExecutablePoolTypes(SIZE_T Len)
{
	g_Sink = ExAllocatePoolWithTag(NonPagedPool, Len, TAG); // want 0x2000 value=0x0 certainty=definite
	g_Sink = ExAllocatePoolWithTag(NonPagedPoolMustSucceed, Len, TAG); // want 0x2000 value=0x2 certainty=definite
	g_Sink = ExAllocatePoolWithTag(NonPagedPoolCacheAligned, Len, TAG); // want 0x2000 value=0x4
	g_Sink = ExAllocatePoolWithTag(NonPagedPoolCacheAlignedMustS, Len, TAG); // want 0x2000 value=0x6
	g_Sink = ExAllocatePoolWithTag(NonPagedPoolSession, Len, TAG); // want 0x2000 value=0x20
	g_Sink = ExAllocatePoolWithTag(NonPagedPool | POOL_ZERO_ALLOCATION | POOL_RAISE_IF_ALLOCATION_FAILURE, Len, TAG); // want 0x2000 value=0x410
}

NOINLINE VOID NxPoolTypes(SIZE_T Len)
{
	g_Sink = ExAllocatePoolWithTag(NonPagedPoolNx, Len, TAG);
	g_Sink = ExAllocatePoolWithTag(PagedPool, Len, TAG);
	g_Sink = ExAllocatePoolWithTag(PagedPoolCacheAligned, Len, TAG);
	g_Sink = ExAllocatePoolWithTag(NonPagedPoolNxCacheAligned, Len, TAG);
	g_Sink = ExAllocatePoolWithTag(NonPagedPoolSessionNx, Len, TAG);
	g_Sink = ExAllocatePoolWithTag(NonPagedPoolNx | POOL_ZERO_ALLOCATION, Len, TAG);
	g_Sink = ExAllocatePoolWithTag(PagedPool | POOL_ZERO_ALLOCATION, Len, TAG);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	ExecutablePoolTypes(g_Len);
	NxPoolTypes(g_Len);
	return STATUS_SUCCESS;
}
