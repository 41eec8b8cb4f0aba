/*
 * callsite_branch: the pool type is chosen by an if/else on an input the
 * compiler cannot see. One path passes NonPagedPool: a possible 0x2000
 * (certainty=possible). When both paths are non-executable: nothing.
 * At -O2 the compilers may turn the branch into a select or arithmetic, and
 * the call into a tail call (jmp); the finding stays on the call's line.
 */
#include "km.h"

#define TAG 'rbaH'

volatile SIZE_T g_Len = 64;
volatile ULONG g_Mode = 1;
PVOID volatile g_Sink;

NOINLINE PVOID AllocByBranch(ULONG Executable, SIZE_T Len)
{
	POOL_TYPE Type;
	if (Executable)
		Type = NonPagedPool;
	else
		Type = NonPagedPoolNx;
	return ExAllocatePoolWithTag(Type, Len, TAG); // want 0x2000 certainty=possible
}

NOINLINE PVOID AllocByBranchNx(ULONG Paged, SIZE_T Len)
{
	POOL_TYPE Type;
	if (Paged)
		Type = PagedPool;
	else
		Type = NonPagedPoolNx;
	return ExAllocatePoolWithTag(Type, Len, TAG);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	g_Sink = AllocByBranch(g_Mode, g_Len);
	g_Sink = AllocByBranchNx(g_Mode, g_Len);
	return STATUS_SUCCESS;
}
