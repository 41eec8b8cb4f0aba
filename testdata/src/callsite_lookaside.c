/*
 * callsite_lookaside: lookaside lists. ExInitializeNPagedLookasideList's
 * fourth argument is Flags, not a pool type: without POOL_NX_ALLOCATION
 * (0x200) the list allocates executable pool: 0x2000; with it: nothing.
 * ExInitializeLookasideListEx takes a POOL_TYPE (fourth argument):
 * NonPagedPool → 0x2000, NonPagedPoolNx → nothing.
 */
#include "km.h"

#define TAG 'kolH'

volatile SIZE_T g_Len = 128;
NPAGED_LOOKASIDE_LIST g_Lookaside[2];
LOOKASIDE_LIST_EX g_LookasideEx[2];
volatile NTSTATUS g_Status;

NOINLINE VOID InitLookasides(SIZE_T Size)
{
	ExInitializeNPagedLookasideList(&g_Lookaside[0], NULL, NULL, 0, Size, TAG, 0); // want 0x2000 value=0x0
	ExInitializeNPagedLookasideList(&g_Lookaside[1], NULL, NULL, POOL_NX_ALLOCATION, Size, TAG, 0);
	g_Status = ExInitializeLookasideListEx(&g_LookasideEx[0], NULL, NULL, NonPagedPool, 0, Size, TAG, 0); // want 0x2000 value=0x0
	g_Status = ExInitializeLookasideListEx(&g_LookasideEx[1], NULL, NULL, NonPagedPoolNx, 0, Size, TAG, 0);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	InitLookasides(g_Len);
	return STATUS_SUCCESS;
}
