/*
 * callsite_iospace: MmMapIoSpace always maps executable memory (no
 * protection argument): 0x2001. MmMapIoSpaceEx takes a protection (third
 * argument; on x86 the 64-bit physical address takes two stack slots):
 * PAGE_EXECUTE_READWRITE → 0x2001, PAGE_READWRITE | PAGE_NOCACHE → nothing.
 */
#include "km.h"

volatile SIZE_T g_Len = 4096;
volatile LONGLONG g_Physical = 0xFED00000;
PVOID volatile g_Sink;

NOINLINE VOID MapRegisters(PHYSICAL_ADDRESS Address, SIZE_T Len)
{
	g_Sink = MmMapIoSpace(Address, Len, MmNonCached); // want 0x2001
	g_Sink = MmMapIoSpaceEx(Address, Len, PAGE_EXECUTE_READWRITE); // want 0x2001 value=0x40
	g_Sink = MmMapIoSpaceEx(Address, Len, PAGE_READWRITE | PAGE_NOCACHE);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	PHYSICAL_ADDRESS Address;
	Address.QuadPart = g_Physical;
	MapRegisters(Address, g_Len);
	return STATUS_SUCCESS;
}
