/*
 * callsite_static_wrapper: wrappers with internal linkage (static). An
 * optimiser may give them a calling convention of its own: on 32-bit x86,
 * LLVM passes their arguments in ecx and edx (fastcc) and GCC may use
 * registers too (regparm), instead of the stack. Each call of a wrapper is
 * judged with its actual argument: NonPagedPool → 0x2000 at the call;
 * NonPagedPoolNx → nothing. The second wrapper takes the protection of
 * MmMapIoSpaceEx as its third argument.
 */
#include "km.h"

#define TAG 'tswH'

volatile SIZE_T g_Len = 64;
volatile LONGLONG g_Physical = 0xFED00000;
PVOID volatile g_Sink;

static NOINLINE PVOID StaticAlloc(POOL_TYPE PoolType, SIZE_T Len)
{
	return ExAllocatePoolWithTag(PoolType, Len, TAG);
}

static NOINLINE PVOID StaticMap(SIZE_T Len, LONGLONG Address, ULONG Protect)
{
	PHYSICAL_ADDRESS Physical;
	Physical.QuadPart = Address;
	return MmMapIoSpaceEx(Physical, Len, Protect);
}

NOINLINE VOID UseStaticWrappers(SIZE_T Len)
{
	g_Sink = StaticAlloc(NonPagedPool, Len); // want 0x2000 value=0x0
	g_Sink = StaticAlloc(NonPagedPoolNx, Len);
	g_Sink = StaticMap(Len, g_Physical, PAGE_EXECUTE_READWRITE); // want 0x2001 value=0x40
	g_Sink = StaticMap(Len, g_Physical, PAGE_READWRITE);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	UseStaticWrappers(g_Len);
	return STATUS_SUCCESS;
}
