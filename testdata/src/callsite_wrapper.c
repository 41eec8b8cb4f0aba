/*
 * callsite_wrapper: a driver's own allocation wrapper (noinline) forwards
 * its pool type parameter to ExAllocatePoolWithTag. The call inside the
 * wrapper cannot be judged on its own (the value comes from outside); each
 * call of the wrapper can: NonPagedPool → 0x2000 at the wrapper's call site,
 * NonPagedPoolNx → nothing. AllocZeroWrapper ORs POOL_ZERO_ALLOCATION in,
 * like ExAllocatePoolZero, which keeps the type executable.
 * At -O2 the wrappers end in a tail call (jmp [IAT]).
 */
#include "km.h"

#define TAG 'prwH'

volatile SIZE_T g_Len = 64;
PVOID volatile g_Sink;

NOINLINE PVOID AllocWrapper(POOL_TYPE PoolType, SIZE_T Len)
{
	return ExAllocatePoolWithTag(PoolType, Len, TAG);
}

NOINLINE PVOID AllocZeroWrapper(POOL_TYPE PoolType, SIZE_T Len)
{
	return ExAllocatePoolWithTag(PoolType | POOL_ZERO_ALLOCATION, Len, TAG);
}

NOINLINE VOID UseWrappers(SIZE_T Len)
{
	g_Sink = AllocWrapper(NonPagedPool, Len); // want 0x2000 value=0x0
	g_Sink = AllocWrapper(NonPagedPoolNx, Len);
	g_Sink = AllocZeroWrapper(NonPagedPool, Len); // want 0x2000
	g_Sink = AllocZeroWrapper(NonPagedPoolNx, Len);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	UseWrappers(g_Len);
	return STATUS_SUCCESS;
}
