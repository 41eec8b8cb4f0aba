/*
 * callsite_wrapper2: two levels of wrappers. OuterAlloc forwards its pool
 * type to InnerAlloc, which forwards it to ExAllocatePoolWithTag. Only the
 * call of OuterAlloc with a constant can be judged: NonPagedPool → 0x2000
 * there; NonPagedPoolNx → nothing; nothing inside the wrappers.
 */
#include "km.h"

#define TAG '2rwH'

volatile SIZE_T g_Len = 64;
volatile ULONG g_Calls;
PVOID volatile g_Sink;

NOINLINE PVOID InnerAlloc(POOL_TYPE PoolType, SIZE_T Len)
{
	return ExAllocatePoolWithTag(PoolType, Len, TAG);
}

NOINLINE PVOID OuterAlloc(POOL_TYPE PoolType, SIZE_T Len)
{
	g_Calls++;
	return InnerAlloc(PoolType, Len);
}

NOINLINE VOID UseOuter(SIZE_T Len)
{
	g_Sink = OuterAlloc(NonPagedPool, Len); // want 0x2000 value=0x0
	g_Sink = OuterAlloc(NonPagedPoolNx, Len);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	UseOuter(g_Len);
	return STATUS_SUCCESS;
}
