/*
 * callsite_contiguous_cache: MmAllocateContiguousMemorySpecifyCache.
 * UNCERTAIN: the DDI reference says memory from it "is always executable"
 * (so 0x2001 for every cache type, the expectation below), while Code
 * Analysis warning C30030 says only MmCached is, and MmNonCached and
 * MmWriteCombined avoid it. If the C30030 reading is adopted, the
 * MmNonCached expectation must go.
 */
#include "km.h"

volatile SIZE_T g_Len = 8192;
volatile LONGLONG g_Highest = 0xFFFFFFFF;
PVOID volatile g_Sink;

NOINLINE VOID ContiguousCache(SIZE_T Len, PHYSICAL_ADDRESS Highest)
{
	PHYSICAL_ADDRESS Lowest, Boundary;
	Lowest.QuadPart = 0;
	Boundary.QuadPart = 0;
	g_Sink = MmAllocateContiguousMemorySpecifyCache(Len, Lowest, Highest, Boundary, MmCached); // want 0x2001
	g_Sink = MmAllocateContiguousMemorySpecifyCache(Len, Lowest, Highest, Boundary, MmNonCached); // want 0x2001
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	PHYSICAL_ADDRESS Highest;
	Highest.QuadPart = g_Highest;
	ContiguousCache(g_Len, Highest);
	return STATUS_SUCCESS;
}
