/*
 * layout_rwx_data: a custom data section .rwx that is readable, writable and
 * executable (self-modifying-code style trampoline buffer).
 * clang: #pragma section(".rwx", read, write, execute) + __declspec(allocate);
 * clang drops "execute" for a data section, so the script also links with
 * /SECTION:.rwx,RWE. mingw: the section is declared in assembly with the
 * "dwx" flags (data, writable, executable).
 */
#include "km.h"

// want-section 0x2003 .rwx blocking=true

#if defined(_MSC_VER)
#pragma section(".rwx", read, write, execute)
__declspec(allocate(".rwx")) UCHAR g_Trampoline[32] = {0xC3};
#else
__asm__(".section .rwx,\"dwx\"\n"
	"\t.globl g_Trampoline\n"
	"\t.globl _g_Trampoline\n"
	"g_Trampoline:\n"
	"_g_Trampoline:\n"
	"\t.byte 0xc3\n"
	"\t.space 31\n"
	"\t.text\n");
extern UCHAR g_Trampoline[32];
#endif

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	g_Trampoline[1] = 0x90;
	DbgPrint("rwx_data %p\n", g_Trampoline);
	return STATUS_SUCCESS;
}
