/*
 * layout_reloc_cross: a pointer that straddles a page boundary. The packed
 * structure is the only initialised writable data, so it starts .data, which
 * is page aligned; the pointer field sits at offset 0xFFE, i.e. at page
 * offset 0xFFE of .data. Its base relocation (DIR64 on x64/ARM64, HIGHLOW on
 * x86) patches bytes in two pages: 0xFFE > 0xFF8 and 0xFFE > 0xFFC.
 * The script checks the relocation with llvm-readobj --coff-basereloc.
 */
#include "km.h"

// want-section page-crossing-relocation .data

static const char g_Message[] = "reloc_cross %s\n";

#pragma pack(push, 1)
typedef struct _STRADDLE {
	UCHAR Pad[0xFFE];
	const char *Pointer; /* page offset 0xFFE */
	ULONG Tail;
} STRADDLE;
#pragma pack(pop)

STRADDLE g_Straddle = {{1}, g_Message, 7};

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	DbgPrint(g_Straddle.Pointer, "ok");
	return STATUS_SUCCESS;
}
