/*
 * callsite_contiguous: MmAllocateContiguousMemory always returns executable
 * memory: 0x2001. MmAllocateContiguousNodeMemory takes a protection (fifth
 * argument; x86 stack slot 7 after three 64-bit physical addresses):
 * PAGE_EXECUTE_READ → 0x2001, PAGE_READWRITE → nothing.
 */
#include "km.h"

volatile SIZE_T g_Len = 8192;
volatile LONGLONG g_Highest = 0xFFFFFFFF;
PVOID volatile g_Sink;

NOINLINE VOID Contiguous(SIZE_T Len, PHYSICAL_ADDRESS Highest)
{
	PHYSICAL_ADDRESS Lowest, Boundary;
	Lowest.QuadPart = 0;
	Boundary.QuadPart = 0;
	g_Sink = MmAllocateContiguousMemory(Len, Highest); // want 0x2001
	g_Sink = MmAllocateContiguousNodeMemory(Len, Lowest, Highest, Boundary, PAGE_EXECUTE_READ, MM_ANY_NODE_OK); // want 0x2001 value=0x20
	g_Sink = MmAllocateContiguousNodeMemory(Len, Lowest, Highest, Boundary, PAGE_READWRITE, MM_ANY_NODE_OK);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	PHYSICAL_ADDRESS Highest;
	Highest.QuadPart = g_Highest;
	Contiguous(g_Len, Highest);
	return STATUS_SUCCESS;
}
