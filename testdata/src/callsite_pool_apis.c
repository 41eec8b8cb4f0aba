/*
 * callsite_pool_apis: the other ntoskrnl pool allocators with a POOL_TYPE
 * first argument: ExAllocatePool, ExAllocatePoolWithQuotaTag,
 * ExAllocatePoolWithTagPriority. Executable types: 0x2000; NX/paged: nothing.
 */
#include "km.h"

#define TAG 'ipaH'

volatile SIZE_T g_Len = 64;
PVOID volatile g_Sink;

NOINLINE VOID OtherAllocators(SIZE_T Len)
{
	g_Sink = ExAllocatePool(NonPagedPool, Len); // want 0x2000 value=0x0
	g_Sink = ExAllocatePool(PagedPool, Len);
	g_Sink = ExAllocatePoolWithQuotaTag(NonPagedPool, Len, TAG); // want 0x2000 value=0x0
	g_Sink = ExAllocatePoolWithQuotaTag(NonPagedPoolNx, Len, TAG);
	g_Sink = ExAllocatePoolWithTagPriority(NonPagedPoolCacheAligned, Len, TAG, NormalPoolPriority); // want 0x2000 value=0x4
	g_Sink = ExAllocatePoolWithTagPriority(NonPagedPoolNx, Len, TAG, HighPoolPriority);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	OtherAllocators(g_Len);
	return STATUS_SUCCESS;
}
