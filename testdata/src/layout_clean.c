/*
 * layout_clean: a well-formed driver. Sections are page aligned, none is
 * both writable and executable, the IAT is in read-only data, the one
 * relocated pointer is naturally aligned and the only allocation is
 * NonPagedPoolNx. No rule may report anything, on any toolchain.
 */
#include "km.h"

// want-none

#define TAG 'nlcH'

volatile SIZE_T g_Len = 64;
static const char g_Message[] = "hvcicheck clean fixture: %p\n";
const char *g_Messages[2] = {g_Message, 0}; /* a DIR64/HIGHLOW relocation, aligned */

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, g_Len, TAG);
	DbgPrint(g_Messages[0], p);
	KeStallExecutionProcessor(1);
	if (p != NULL)
		ExFreePoolWithTag(p, TAG);
	return STATUS_SUCCESS;
}
