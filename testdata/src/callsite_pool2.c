/*
 * callsite_pool2: ExAllocatePool2 takes 64-bit POOL_FLAGS (two stack slots
 * on x86). POOL_FLAG_NON_PAGED_EXECUTE (0x80) is executable: 0x2000;
 * POOL_FLAG_NON_PAGED (0x40) and POOL_FLAG_PAGED (0x100): nothing.
 */
#include "km.h"

#define TAG '2lpH'

volatile SIZE_T g_Len = 64;
PVOID volatile g_Sink;

NOINLINE VOID Pool2(SIZE_T Len)
{
	g_Sink = ExAllocatePool2(POOL_FLAG_NON_PAGED_EXECUTE, Len, TAG); // want 0x2000 value=0x80
	g_Sink = ExAllocatePool2(POOL_FLAG_NON_PAGED_EXECUTE | POOL_FLAG_UNINITIALIZED, Len, TAG); // want 0x2000 value=0x82
	g_Sink = ExAllocatePool2(POOL_FLAG_NON_PAGED, Len, TAG);
	g_Sink = ExAllocatePool2(POOL_FLAG_PAGED, Len, TAG);
	g_Sink = ExAllocatePool2(POOL_FLAG_NON_PAGED | POOL_FLAG_UNINITIALIZED | POOL_FLAG_RAISE_ON_FAILURE, Len, TAG);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	Pool2(g_Len);
	return STATUS_SUCCESS;
}
