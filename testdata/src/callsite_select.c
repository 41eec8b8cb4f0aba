/*
 * callsite_select: the pool type is a conditional expression; at -O2 it
 * compiles without a branch (setcc/cmov/shift). One outcome is NonPagedPool:
 * a possible 0x2000. The negative picks between PagedPool (1) and
 * NonPagedPoolNx (0x200): never executable, but a known-bits abstraction of
 * {1, 0x200} also admits 0, so it needs exact value sets to stay silent.
 */
#include "km.h"

#define TAG 'lesH'

volatile SIZE_T g_Len = 64;
PVOID volatile g_Sink;

NOINLINE PVOID AllocBySelect(SIZE_T Len)
{
	return ExAllocatePoolWithTag(Len > 8 ? NonPagedPool : NonPagedPoolNx, Len, TAG); // want 0x2000 certainty=possible
}

NOINLINE PVOID AllocBySelectNx(SIZE_T Len)
{
	return ExAllocatePoolWithTag(Len > 8 ? PagedPool : NonPagedPoolNx, Len, TAG);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	g_Sink = AllocBySelect(g_Len);
	g_Sink = AllocBySelectNx(g_Len);
	return STATUS_SUCCESS;
}
