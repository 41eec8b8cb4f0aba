/*
 * callsite_fltmgr: FltMgr allocators, imported from FLTMGR.SYS and called
 * through the linker's import thunks (fltKernel.h declares them without
 * dllimport). FltAllocatePoolAlignedWithTag's pool type is the second
 * argument, FltAllocateContext's the fourth. Executable types: 0x2000 at
 * the call of the thunk; NonPagedPoolNx/PagedPool: nothing.
 */
#include "km.h"

#define TAG 'tlfH'

volatile SIZE_T g_Len = 64;
PFLT_FILTER volatile g_Filter;
PFLT_INSTANCE volatile g_Instance;
PVOID volatile g_Sink;

NOINLINE VOID FilterAllocations(PFLT_FILTER Filter, PFLT_INSTANCE Instance, SIZE_T Len)
{
	PFLT_CONTEXT Context;
	g_Sink = FltAllocatePoolAlignedWithTag(Instance, NonPagedPool, Len, TAG); // want 0x2000 value=0x0
	g_Sink = FltAllocatePoolAlignedWithTag(Instance, NonPagedPoolNx, Len, TAG);
	if (NT_SUCCESS(FltAllocateContext(Filter, FLT_STREAM_CONTEXT, Len, NonPagedPool, &Context))) // want 0x2000 value=0x0
		FltReleaseContext(Context);
	if (NT_SUCCESS(FltAllocateContext(Filter, FLT_STREAM_CONTEXT, Len, PagedPool, &Context)))
		FltReleaseContext(Context);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	FilterAllocations(g_Filter, g_Instance, g_Len);
	return STATUS_SUCCESS;
}
