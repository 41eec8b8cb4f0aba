/*
 * callsite_switch: an IOCTL-style dispatch whose dense switch compiles to a
 * jump table (jmp through a register or an indexed table): the case blocks
 * are reached by no direct branch. Only case 3 allocates executable pool
 * (0x2000); the others ask for NonPagedPoolNx or PagedPool. Case 3 uses an
 * API of its own, so that an optimiser cannot merge its call with the
 * others' (a merged call would have no source line of its own).
 */
#include "km.h"

#define TAG 'tiwH'

volatile ULONG g_Code = 3;
volatile SIZE_T g_Len = 64;
PVOID volatile g_Sink;

NOINLINE NTSTATUS Dispatch(ULONG Code, SIZE_T Len)
{
	switch (Code) {
	case 0:
		g_Sink = ExAllocatePoolWithTag(NonPagedPoolNx, Len, TAG);
		break;
	case 1:
		g_Sink = ExAllocatePoolWithTag(PagedPool, Len + 1, TAG);
		break;
	case 2:
		g_Sink = ExAllocatePoolWithTag(NonPagedPoolNx, Len * 2, TAG);
		break;
	case 3:
		g_Sink = ExAllocatePoolWithTagPriority(NonPagedPool, Len * 3, TAG, NormalPoolPriority); // want 0x2000 value=0x0
		break;
	case 4:
		g_Sink = ExAllocatePoolWithTag(NonPagedPoolNx, Len * 4, TAG);
		break;
	case 5:
		g_Sink = ExAllocatePoolWithTag(PagedPool, Len * 5, TAG);
		break;
	case 6:
		g_Sink = ExAllocatePoolWithTag(NonPagedPoolNx, Len * 6, TAG);
		break;
	default:
		return STATUS_UNSUCCESSFUL;
	}
	return STATUS_SUCCESS;
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	return Dispatch(g_Code, g_Len);
}
