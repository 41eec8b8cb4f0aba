/*
 * layout_align_200: SectionAlignment (and FileAlignment) 0x200, below the page
 * size. clang/lld-link: /ALIGN:0x200 /FILEALIGN:0x200. mingw/ld:
 * --section-alignment=0x200 --file-alignment=0x200.
 * .text is never page aligned (it follows the headers); which other sections
 * happen to start on a page boundary depends on the toolchain and on the
 * DWARF sections, so the rest is a glob: one or more further findings.
 */
#include "km.h"

// want-section 0x2004 .text blocking=true
// want-section 0x2004 *

volatile SIZE_T g_Len = 64;

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	PVOID p = ExAllocatePoolWithTag(NonPagedPoolNx, g_Len, 'nlaH');
	DbgPrint("align_200 %p\n", p);
	return STATUS_SUCCESS;
}
