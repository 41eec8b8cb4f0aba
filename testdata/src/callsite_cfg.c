/*
 * callsite_cfg: calls through function pointers in a driver built with
 * Control Flow Guard (clang -cfguard, the /guard:cf of MSVC). On x64 every
 * indirect call goes through the dispatch routine: mov rax, target; call
 * [__guard_dispatch_icall_fptr], whose default target is `jmp rax`. On x86
 * and ARM64 the target is checked first (call [__guard_check_icall_fptr])
 * and then called. The build defines the guard pointers and their no-op
 * targets itself, as the CRT's load configuration would. The function
 * pointers hold imports: ExAllocatePoolWithTag's address copied into a
 * global in DriverEntry, and MmMapIoSpaceEx's in a local. The mingw builds
 * have no CFG: there the same calls are plain indirect calls.
 */
#include "km.h"

#define TAG 'gfcH'

typedef PVOID(NTAPI *PFN_ALLOC)(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);
typedef PVOID(NTAPI *PFN_MAP_IO_SPACE_EX)(PHYSICAL_ADDRESS Address, SIZE_T Length, ULONG Protect);

#ifdef HVCI_CFG
#if defined(__x86_64__)
__attribute__((naked)) static void GuardDispatchNop(void) { __asm__ volatile("jmp *%rax"); }
void *const __guard_dispatch_icall_fptr = (void *)GuardDispatchNop;
#elif defined(__i386__)
__attribute__((naked)) static void __fastcall GuardCheckNop(void) { __asm__ volatile("ret"); }
void *const __guard_check_icall_fptr = (void *)GuardCheckNop;
#elif defined(__aarch64__)
__attribute__((naked)) static void GuardCheckNop(void) { __asm__ volatile("ret"); }
void *const __guard_check_icall_fptr = (void *)GuardCheckNop;
#endif
#endif

volatile SIZE_T g_Len = 64;
volatile LONGLONG g_Physical = 0xFED00000;
PVOID volatile g_Sink;
PFN_ALLOC volatile g_Alloc;
PFN_MAP_IO_SPACE_EX volatile g_MapIoSpaceEx;

NOINLINE VOID UsePointers(SIZE_T Len)
{
	PFN_ALLOC Alloc = g_Alloc;
	PFN_MAP_IO_SPACE_EX Map = g_MapIoSpaceEx;
	PHYSICAL_ADDRESS Address;
	Address.QuadPart = g_Physical;
	g_Sink = Alloc(NonPagedPool, Len, TAG); // want 0x2000 value=0x0
	g_Sink = Alloc(NonPagedPoolNx, Len, TAG);
	g_Sink = Map(Address, Len, PAGE_EXECUTE_READ); // want 0x2001 value=0x20
	g_Sink = Map(Address, Len, PAGE_READONLY);
}

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	g_Alloc = ExAllocatePoolWithTag;
	g_MapIoSpaceEx = MmMapIoSpaceEx;
	UsePointers(g_Len);
	return STATUS_SUCCESS;
}
