/*
 * km.h - a minimal stand-in for the WDK's wdm.h/ntddk.h, enough to build the
 * hvcicheck test drivers with clang (x86_64/i686/aarch64-pc-windows-msvc) and
 * mingw-w64 gcc (x86_64/i686) without a WDK.
 *
 * Prototypes, calling conventions and constant values follow the WDK
 * 10.0.22621 headers (see docs in /work/shared/reference/hvci-facts.md §1-§2
 * for where each comes from). Only what the fixtures use is declared.
 *
 * ntoskrnl/HAL routines are declared __declspec(dllimport) like NTKERNELAPI,
 * NTSYSAPI and NTHALAPI in the WDK, so calls go straight through the IAT
 * (call [__imp_X]). FltMgr, NDIS and WDFLDR routines are declared without it,
 * as in fltKernel.h and ndis.h, so calls go through a linker-made import thunk
 * (call X; X: jmp [__imp_X]).
 *
 * On x86 every NTAPI routine is __stdcall; its import library names it
 * _Name@N and the imported name is the undecorated Name (llvm-dlltool -k,
 * dlltool -k), as in the WDK's import libraries.
 */
#ifndef HVCICHECK_KM_H
#define HVCICHECK_KM_H

/* ---- compiler glue ---------------------------------------------------- */

#if defined(_M_IX86) || defined(__i386__)
#define KM_X86 1
#define NTAPI __stdcall
#else
#define NTAPI
#endif
#define FLTAPI NTAPI
#define WDFAPI NTAPI
#define NTKERNELAPI __declspec(dllimport)
#define NTSYSAPI __declspec(dllimport)
#define NTHALAPI __declspec(dllimport)

#if defined(_MSC_VER)
#define NOINLINE __declspec(noinline)
#define FORCEINLINE static __forceinline
#define DECLSPEC_SELECTANY __declspec(selectany)
#else
#define NOINLINE __attribute__((noinline))
#define FORCEINLINE static __inline__ __attribute__((always_inline))
#define DECLSPEC_SELECTANY __attribute__((selectany))
#endif

#define VOID void
#define NULL ((void *)0)
#define FALSE 0
#define TRUE 1

/* ---- basic types ------------------------------------------------------ */

typedef unsigned char UCHAR, *PUCHAR, BOOLEAN;
typedef char CHAR, CCHAR;
typedef unsigned short USHORT, WCHAR, *PWCH, *PWSTR;
typedef const unsigned short *PCWSTR;
typedef short CSHORT;
typedef unsigned int UINT;
typedef unsigned long ULONG, *PULONG;
typedef long LONG, NTSTATUS;
typedef long long LONGLONG;
typedef unsigned long long ULONGLONG, ULONG64;
typedef void *PVOID, *HANDLE, **PHANDLE;
typedef const char *PCSTR;
#if defined(KM_X86)
typedef unsigned long ULONG_PTR, SIZE_T, *PSIZE_T;
#else
typedef unsigned long long ULONG_PTR, SIZE_T, *PSIZE_T;
#endif
typedef ULONG ACCESS_MASK;
typedef CCHAR KPROCESSOR_MODE;
typedef ULONG NODE_REQUIREMENT;

typedef union _LARGE_INTEGER {
	struct {
		ULONG LowPart;
		LONG HighPart;
	} u;
	LONGLONG QuadPart;
} LARGE_INTEGER, *PLARGE_INTEGER, PHYSICAL_ADDRESS;

typedef struct _UNICODE_STRING {
	USHORT Length;
	USHORT MaximumLength;
	PWCH Buffer;
} UNICODE_STRING, *PUNICODE_STRING;

typedef struct _DRIVER_OBJECT *PDRIVER_OBJECT;
typedef struct _IRP *PIRP;
typedef struct _OBJECT_ATTRIBUTES *POBJECT_ATTRIBUTES;

#define STATUS_SUCCESS ((NTSTATUS)0)
#define STATUS_UNSUCCESSFUL ((NTSTATUS)0xC0000001L)
#define NT_SUCCESS(s) ((NTSTATUS)(s) >= 0)
#define NtCurrentProcess() ((HANDLE)(LONG_PTR_MINUS_ONE))
#define LONG_PTR_MINUS_ONE ((ULONG_PTR)-1)

/* ---- pool (hvci-facts.md §2) ------------------------------------------ */

typedef enum _POOL_TYPE {
	NonPagedPool = 0,
	NonPagedPoolExecute = 0,
	PagedPool = 1,
	NonPagedPoolMustSucceed = 2,
	DontUseThisType = 3,
	NonPagedPoolCacheAligned = 4,
	PagedPoolCacheAligned = 5,
	NonPagedPoolCacheAlignedMustS = 6,
	MaxPoolType = 7,
	NonPagedPoolSession = 32,
	PagedPoolSession = 33,
	NonPagedPoolMustSucceedSession = 34,
	NonPagedPoolCacheAlignedSession = 36,
	NonPagedPoolNx = 512,
	NonPagedPoolNxCacheAligned = 516,
	NonPagedPoolSessionNx = 544
} POOL_TYPE;

#define POOL_QUOTA_FAIL_INSTEAD_OF_RAISE 8
#define POOL_RAISE_IF_ALLOCATION_FAILURE 16
#define POOL_COLD_ALLOCATION 256
#define POOL_NX_ALLOCATION 512
#define POOL_ZERO_ALLOCATION 1024

typedef ULONG64 POOL_FLAGS;
#define POOL_FLAG_USE_QUOTA 0x0000000000000001ULL
#define POOL_FLAG_UNINITIALIZED 0x0000000000000002ULL
#define POOL_FLAG_SESSION 0x0000000000000004ULL
#define POOL_FLAG_CACHE_ALIGNED 0x0000000000000008ULL
#define POOL_FLAG_RAISE_ON_FAILURE 0x0000000000000020ULL
#define POOL_FLAG_NON_PAGED 0x0000000000000040ULL
#define POOL_FLAG_NON_PAGED_EXECUTE 0x0000000000000080ULL
#define POOL_FLAG_PAGED 0x0000000000000100ULL

typedef enum _EX_POOL_PRIORITY {
	LowPoolPriority = 0,
	NormalPoolPriority = 16,
	HighPoolPriority = 32
} EX_POOL_PRIORITY;

NTKERNELAPI PVOID NTAPI ExAllocatePool(POOL_TYPE PoolType, SIZE_T NumberOfBytes);
NTKERNELAPI PVOID NTAPI ExAllocatePoolWithTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);
NTKERNELAPI PVOID NTAPI ExAllocatePoolWithQuotaTag(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);
NTKERNELAPI PVOID NTAPI ExAllocatePoolWithTagPriority(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag,
						      EX_POOL_PRIORITY Priority);
NTKERNELAPI PVOID NTAPI ExAllocatePool2(POOL_FLAGS Flags, SIZE_T NumberOfBytes, ULONG Tag);
NTKERNELAPI VOID NTAPI ExFreePoolWithTag(PVOID P, ULONG Tag);
NTKERNELAPI VOID NTAPI ExFreePool(PVOID P);

/* Lookaside lists: opaque, sized and aligned for x64 (larger than needed on x86). */
typedef struct _NPAGED_LOOKASIDE_LIST {
	__attribute__((aligned(64))) UCHAR Opaque[0xC0];
} NPAGED_LOOKASIDE_LIST, *PNPAGED_LOOKASIDE_LIST;
typedef struct _LOOKASIDE_LIST_EX {
	__attribute__((aligned(16))) UCHAR Opaque[0x80];
} LOOKASIDE_LIST_EX, *PLOOKASIDE_LIST_EX;
typedef PVOID(NTAPI *PALLOCATE_FUNCTION)(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag);
typedef VOID(NTAPI *PFREE_FUNCTION)(PVOID Buffer);
typedef PVOID(NTAPI *PALLOCATE_FUNCTION_EX)(POOL_TYPE PoolType, SIZE_T NumberOfBytes, ULONG Tag,
					     PLOOKASIDE_LIST_EX Lookaside);
typedef VOID(NTAPI *PFREE_FUNCTION_EX)(PVOID Buffer, PLOOKASIDE_LIST_EX Lookaside);

NTKERNELAPI VOID NTAPI ExInitializeNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside, PALLOCATE_FUNCTION Allocate,
							PFREE_FUNCTION Free, ULONG Flags, SIZE_T Size, ULONG Tag,
							USHORT Depth);
NTKERNELAPI VOID NTAPI ExDeleteNPagedLookasideList(PNPAGED_LOOKASIDE_LIST Lookaside);
NTKERNELAPI NTSTATUS NTAPI ExInitializeLookasideListEx(PLOOKASIDE_LIST_EX Lookaside, PALLOCATE_FUNCTION_EX Allocate,
							PFREE_FUNCTION_EX Free, POOL_TYPE PoolType, ULONG Flags,
							SIZE_T Size, ULONG Tag, USHORT Depth);
NTKERNELAPI VOID NTAPI ExDeleteLookasideListEx(PLOOKASIDE_LIST_EX Lookaside);

/* ---- page protection (hvci-facts.md §2) -------------------------------- */

#define PAGE_NOACCESS 0x01
#define PAGE_READONLY 0x02
#define PAGE_READWRITE 0x04
#define PAGE_WRITECOPY 0x08
#define PAGE_EXECUTE 0x10
#define PAGE_EXECUTE_READ 0x20
#define PAGE_EXECUTE_READWRITE 0x40
#define PAGE_EXECUTE_WRITECOPY 0x80
#define PAGE_GUARD 0x100
#define PAGE_NOCACHE 0x200
#define PAGE_WRITECOMBINE 0x400

#define MEM_COMMIT 0x00001000
#define MEM_RESERVE 0x00002000
#define MEM_RELEASE 0x00008000
#define SEC_COMMIT 0x08000000
#define SECTION_ALL_ACCESS 0x000F001F
#define MM_ANY_NODE_OK 0x80000000

typedef enum _MEMORY_CACHING_TYPE {
	MmNonCached = 0,
	MmCached = 1,
	MmWriteCombined = 2
} MEMORY_CACHING_TYPE;

typedef enum _SECTION_INHERIT {
	ViewShare = 1,
	ViewUnmap = 2
} SECTION_INHERIT;

NTKERNELAPI PVOID NTAPI MmMapIoSpace(PHYSICAL_ADDRESS PhysicalAddress, SIZE_T NumberOfBytes,
				     MEMORY_CACHING_TYPE CacheType);
NTKERNELAPI PVOID NTAPI MmMapIoSpaceEx(PHYSICAL_ADDRESS PhysicalAddress, SIZE_T NumberOfBytes, ULONG Protect);
NTKERNELAPI VOID NTAPI MmUnmapIoSpace(PVOID BaseAddress, SIZE_T NumberOfBytes);
NTKERNELAPI PVOID NTAPI MmAllocateContiguousMemory(SIZE_T NumberOfBytes, PHYSICAL_ADDRESS HighestAcceptableAddress);
NTKERNELAPI PVOID NTAPI MmAllocateContiguousMemorySpecifyCache(SIZE_T NumberOfBytes,
							       PHYSICAL_ADDRESS LowestAcceptableAddress,
							       PHYSICAL_ADDRESS HighestAcceptableAddress,
							       PHYSICAL_ADDRESS BoundaryAddressMultiple,
							       MEMORY_CACHING_TYPE CacheType);
NTKERNELAPI PVOID NTAPI MmAllocateContiguousNodeMemory(SIZE_T NumberOfBytes, PHYSICAL_ADDRESS LowestAcceptableAddress,
						       PHYSICAL_ADDRESS HighestAcceptableAddress,
						       PHYSICAL_ADDRESS BoundaryAddressMultiple, ULONG Protect,
						       NODE_REQUIREMENT PreferredNode);
NTKERNELAPI VOID NTAPI MmFreeContiguousMemory(PVOID BaseAddress);

NTSYSAPI NTSTATUS NTAPI ZwAllocateVirtualMemory(HANDLE ProcessHandle, PVOID *BaseAddress, ULONG_PTR ZeroBits,
						PSIZE_T RegionSize, ULONG AllocationType, ULONG Protect);
NTSYSAPI NTSTATUS NTAPI ZwFreeVirtualMemory(HANDLE ProcessHandle, PVOID *BaseAddress, PSIZE_T RegionSize,
					    ULONG FreeType);
NTSYSAPI NTSTATUS NTAPI ZwCreateSection(PHANDLE SectionHandle, ACCESS_MASK DesiredAccess,
					POBJECT_ATTRIBUTES ObjectAttributes, PLARGE_INTEGER MaximumSize,
					ULONG SectionPageProtection, ULONG AllocationAttributes, HANDLE FileHandle);
NTSYSAPI NTSTATUS NTAPI ZwMapViewOfSection(HANDLE SectionHandle, HANDLE ProcessHandle, PVOID *BaseAddress,
					   ULONG_PTR ZeroBits, SIZE_T CommitSize, PLARGE_INTEGER SectionOffset,
					   PSIZE_T ViewSize, SECTION_INHERIT InheritDisposition, ULONG AllocationType,
					   ULONG Win32Protect);
NTSYSAPI NTSTATUS NTAPI ZwUnmapViewOfSection(HANDLE ProcessHandle, PVOID BaseAddress);
NTSYSAPI NTSTATUS NTAPI ZwClose(HANDLE Handle);

/* ---- MDLs (hvci-facts.md §1c, §2) -------------------------------------- */

typedef struct _MDL {
	struct _MDL *Next;
	CSHORT Size;
	CSHORT MdlFlags;
	struct _EPROCESS *Process;
	PVOID MappedSystemVa; /* +0x18 on x64, +0x0C on x86 */
	PVOID StartVa;
	ULONG ByteCount;
	ULONG ByteOffset;
} MDL, *PMDL;

#define MDL_MAPPED_TO_SYSTEM_VA 0x0001
#define MDL_SOURCE_IS_NONPAGED_POOL 0x0004

#define KernelMode 0
#define UserMode 1

typedef enum _MM_PAGE_PRIORITY {
	LowPagePriority = 0,
	NormalPagePriority = 16,
	HighPagePriority = 32
} MM_PAGE_PRIORITY;

#define MdlMappingNoWrite 0x80000000
#define MdlMappingNoExecute 0x40000000
#define MdlMappingWithGuardPtes 0x20000000

NTKERNELAPI PVOID NTAPI MmMapLockedPagesSpecifyCache(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode,
						     MEMORY_CACHING_TYPE CacheType, PVOID RequestedAddress,
						     ULONG BugCheckOnFailure, ULONG Priority);
NTKERNELAPI PVOID NTAPI MmMapLockedPages(PMDL MemoryDescriptorList, KPROCESSOR_MODE AccessMode);
NTKERNELAPI VOID NTAPI MmUnmapLockedPages(PVOID BaseAddress, PMDL MemoryDescriptorList);
NTKERNELAPI NTSTATUS NTAPI MmProtectMdlSystemAddress(PMDL MemoryDescriptorList, ULONG NewProtect);
NTKERNELAPI PMDL NTAPI IoAllocateMdl(PVOID VirtualAddress, ULONG Length, BOOLEAN SecondaryBuffer,
				     BOOLEAN ChargeQuota, PIRP Irp);
NTKERNELAPI VOID NTAPI IoFreeMdl(PMDL Mdl);
NTKERNELAPI VOID NTAPI MmBuildMdlForNonPagedPool(PMDL MemoryDescriptorList);

/* ---- misc -------------------------------------------------------------- */

typedef struct _RTL_OSVERSIONINFOW {
	ULONG dwOSVersionInfoSize;
	ULONG dwMajorVersion;
	ULONG dwMinorVersion;
	ULONG dwBuildNumber;
	ULONG dwPlatformId;
	WCHAR szCSDVersion[128];
} RTL_OSVERSIONINFOW, *PRTL_OSVERSIONINFOW;

NTSYSAPI NTSTATUS NTAPI RtlGetVersion(PRTL_OSVERSIONINFOW lpVersionInformation);
NTSYSAPI VOID NTAPI RtlInitUnicodeString(PUNICODE_STRING DestinationString, PCWSTR SourceString);
NTKERNELAPI PVOID NTAPI MmGetSystemRoutineAddress(PUNICODE_STRING SystemRoutineName);
NTSYSAPI ULONG __cdecl DbgPrint(PCSTR Format, ...);
NTHALAPI VOID NTAPI KeStallExecutionProcessor(ULONG MicroSeconds);

/* ---- FltMgr (fltKernel.h: FLTAPI, no dllimport) ------------------------ */

typedef struct _FLT_FILTER *PFLT_FILTER;
typedef struct _FLT_INSTANCE *PFLT_INSTANCE;
typedef PVOID PFLT_CONTEXT;
typedef USHORT FLT_CONTEXT_TYPE;
#define FLT_STREAM_CONTEXT 0x0004

PVOID FLTAPI FltAllocatePoolAlignedWithTag(PFLT_INSTANCE Instance, POOL_TYPE PoolType, SIZE_T NumberOfBytes,
					   ULONG Tag);
VOID FLTAPI FltFreePoolAlignedWithTag(PFLT_INSTANCE Instance, PVOID Buffer, ULONG Tag);
NTSTATUS FLTAPI FltAllocateContext(PFLT_FILTER Filter, FLT_CONTEXT_TYPE ContextType, SIZE_T ContextSize,
				   POOL_TYPE PoolType, PFLT_CONTEXT *ReturnedContext);
VOID FLTAPI FltReleaseContext(PFLT_CONTEXT Context);

/* ---- NDIS (ndis.h: no dllimport) ---------------------------------------- */

typedef PVOID NDIS_HANDLE;
PVOID NTAPI NdisAllocateMemoryWithTagPriority(NDIS_HANDLE NdisHandle, UINT Length, ULONG Tag,
					      EX_POOL_PRIORITY Priority);
VOID NTAPI NdisFreeMemory(PVOID VirtualAddress, UINT Length, UINT MemoryFlags);

/* ---- inline helpers the WDK defines as FORCEINLINE ---------------------- */

/*
 * POOL_NX_OPTIN (wdm.h ~24121-24180, ~47300-47410): NonPagedPool becomes a
 * read of the global ExDefaultNonPagedPoolType, MDL mappings OR in
 * ExDefaultMdlProtection, and ExInitializeDriverRuntime sets both after
 * RtlGetVersion. Define POOL_NX_OPTIN before including this header.
 */
#if defined(POOL_NX_OPTIN)
DECLSPEC_SELECTANY POOL_TYPE ExDefaultNonPagedPoolType = NonPagedPoolExecute;
DECLSPEC_SELECTANY ULONG ExDefaultMdlProtection = 0;
#define NonPagedPool ExDefaultNonPagedPoolType
#define NonPagedPoolCacheAligned ((POOL_TYPE)(ExDefaultNonPagedPoolType + 4))

FORCEINLINE PVOID MmMapLockedPagesSpecifyCache_NxOptIn(PMDL Mdl, KPROCESSOR_MODE AccessMode,
							MEMORY_CACHING_TYPE CacheType, PVOID RequestedAddress,
							ULONG BugCheckOnFailure, ULONG Priority)
{
	return MmMapLockedPagesSpecifyCache(Mdl, AccessMode, CacheType, RequestedAddress, BugCheckOnFailure,
					    Priority | ExDefaultMdlProtection);
}

FORCEINLINE VOID ExInitializeNPagedLookasideList_NxOptIn(PNPAGED_LOOKASIDE_LIST Lookaside,
							  PALLOCATE_FUNCTION Allocate, PFREE_FUNCTION Free,
							  ULONG Flags, SIZE_T Size, ULONG Tag, USHORT Depth)
{
	ExInitializeNPagedLookasideList(Lookaside, Allocate, Free, Flags | (ULONG)ExDefaultNonPagedPoolType, Size,
					Tag, Depth);
}
#define MmMapLockedPagesSpecifyCache MmMapLockedPagesSpecifyCache_NxOptIn
#define ExInitializeNPagedLookasideList ExInitializeNPagedLookasideList_NxOptIn

typedef enum _DRIVER_RUNTIME_INIT_FLAGS {
	DrvRtPoolNxOptIn = 0x00000001
} DRIVER_RUNTIME_INIT_FLAGS;

FORCEINLINE VOID ExInitializeDriverRuntime(ULONG RuntimeFlags)
{
	RTL_OSVERSIONINFOW VersionInformation;
	VersionInformation.dwOSVersionInfoSize = sizeof(VersionInformation);
	if (NT_SUCCESS(RtlGetVersion(&VersionInformation)) && (RuntimeFlags & DrvRtPoolNxOptIn) &&
	    (VersionInformation.dwMajorVersion > 6 ||
	     (VersionInformation.dwMajorVersion == 6 && VersionInformation.dwMinorVersion >= 2))) {
		ExDefaultNonPagedPoolType = NonPagedPoolNx;
		ExDefaultMdlProtection = MdlMappingNoExecute;
	}
}
#endif /* POOL_NX_OPTIN */

/* wdm.h: maps the MDL unless it is already mapped or describes nonpaged pool.
   Under POOL_NX_OPTIN the call below is the _NxOptIn inline above. */
FORCEINLINE PVOID MmGetSystemAddressForMdlSafe(PMDL Mdl, ULONG Priority)
{
	if (Mdl->MdlFlags & (MDL_MAPPED_TO_SYSTEM_VA | MDL_SOURCE_IS_NONPAGED_POOL)) {
		return Mdl->MappedSystemVa;
	} else {
		return MmMapLockedPagesSpecifyCache(Mdl, KernelMode, MmCached, NULL, FALSE, Priority);
	}
}

#endif /* HVCICHECK_KM_H */
