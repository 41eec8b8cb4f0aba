/*
 * callsite_zw_allocate: ZwAllocateVirtualMemory's protection is the sixth
 * argument (on the stack at [rsp+0x28] on x64, a stack slot on x86, w5 on
 * ARM64). PAGE_EXECUTE_READWRITE → 0x2001; PAGE_READWRITE → nothing.
 */
#include "km.h"

volatile SIZE_T g_Len = 4096;
PVOID volatile g_Sink;

NOINLINE VOID AllocateVirtual(SIZE_T Len)
{
	PVOID Base = NULL;
	SIZE_T Size = Len;
	if (NT_SUCCESS(ZwAllocateVirtualMemory(NtCurrentProcess(), &Base, 0, &Size, MEM_COMMIT | MEM_RESERVE, PAGE_EXECUTE_READWRITE))) // want 0x2001 value=0x40
		g_Sink = Base;
	Base = NULL;
	Size = Len;
	if (NT_SUCCESS(ZwAllocateVirtualMemory(NtCurrentProcess(), &Base, 0, &Size, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE)))
		g_Sink = Base;
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	AllocateVirtual(g_Len);
	return STATUS_SUCCESS;
}
