/*
 * callsite_zw_section: section objects. ZwCreateSection's
 * SectionPageProtection (fifth argument) and ZwMapViewOfSection's
 * Win32Protect (tenth argument) with an executable protection → 0x2001;
 * with PAGE_READWRITE → nothing.
 */
#include "km.h"

volatile LONGLONG g_Len = 4096;
PVOID volatile g_Sink;

NOINLINE VOID Sections(LONGLONG Len)
{
	HANDLE Section;
	LARGE_INTEGER MaxSize;
	PVOID Base;
	SIZE_T ViewSize;

	MaxSize.QuadPart = Len;
	if (NT_SUCCESS(ZwCreateSection(&Section, SECTION_ALL_ACCESS, NULL, &MaxSize, PAGE_EXECUTE_READWRITE, SEC_COMMIT, NULL))) { // want 0x2001 value=0x40
		Base = NULL;
		ViewSize = 0;
		if (NT_SUCCESS(ZwMapViewOfSection(Section, NtCurrentProcess(), &Base, 0, 0, NULL, &ViewSize, ViewUnmap, 0, PAGE_EXECUTE_READ))) // want 0x2001 value=0x20
			g_Sink = Base;
		ZwClose(Section);
	}
	if (NT_SUCCESS(ZwCreateSection(&Section, SECTION_ALL_ACCESS, NULL, &MaxSize, PAGE_READWRITE, SEC_COMMIT, NULL))) {
		Base = NULL;
		ViewSize = 0;
		if (NT_SUCCESS(ZwMapViewOfSection(Section, NtCurrentProcess(), &Base, 0, 0, NULL, &ViewSize, ViewUnmap, 0, PAGE_READWRITE)))
			g_Sink = Base;
		ZwClose(Section);
	}
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	Sections(g_Len);
	return STATUS_SUCCESS;
}
