/*
 * kmdf.h - the few KMDF 1.15 declarations the KMDF fixture needs, shaped like
 * wdf.h/wdfmemory.h and the WdfDriverEntry.lib stub's fxldr.h: a global
 * function table WdfFunctions_01015 filled by WDFLDR.SYS!WdfVersionBind and
 * FORCEINLINE wrappers that call through it with WdfDriverGlobals first.
 * Table indexes from wdffuncenum.h (hvci-facts.md §1e).
 */
#ifndef HVCICHECK_KMDF_H
#define HVCICHECK_KMDF_H

#include "km.h"

typedef VOID (*WDFFUNC)(VOID);
typedef struct WDFMEMORY__ *WDFMEMORY;
typedef struct _WDF_OBJECT_ATTRIBUTES *PWDF_OBJECT_ATTRIBUTES;

typedef struct _WDF_DRIVER_GLOBALS {
	PVOID Driver;
	ULONG DriverFlags;
	ULONG DriverTag;
	CHAR DriverName[32];
	BOOLEAN DisplaceDriverUnload;
} WDF_DRIVER_GLOBALS, *PWDF_DRIVER_GLOBALS;

typedef struct _WDF_VERSION {
	ULONG Major;
	ULONG Minor;
	ULONG Build;
} WDF_VERSION;

typedef struct _WDF_BIND_INFO {
	ULONG Size;
	PWSTR Component;
	WDF_VERSION Version;
	ULONG FuncCount;
	WDFFUNC *FuncTable;
	PVOID Module;
} WDF_BIND_INFO, *PWDF_BIND_INFO;

typedef PVOID WDF_COMPONENT_GLOBALS, *PWDF_COMPONENT_GLOBALS;

/* WDFLDR.SYS (fxldr.h; x86 drivers are built with /Gz, hence NTAPI). */
NTSTATUS NTAPI WdfVersionBind(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath, PWDF_BIND_INFO BindInfo,
			      PWDF_COMPONENT_GLOBALS *ComponentGlobals);
NTSTATUS NTAPI WdfVersionUnbind(PUNICODE_STRING RegistryPath, PWDF_BIND_INFO BindInfo,
				PWDF_COMPONENT_GLOBALS ComponentGlobals);

/* Defined by the stub (stub.c in the KMDF fixture), as WdfDriverEntry.lib does. */
extern const WDFFUNC *WdfFunctions_01015;
extern PWDF_DRIVER_GLOBALS WdfDriverGlobals;
#define WdfFunctions WdfFunctions_01015
#define WdfFunctionTableNumEntries 444

typedef enum _WDFFUNCENUM {
	WdfMemoryCreateTableIndex = 192,
	WdfLookasideListCreateTableIndex = 198
} WDFFUNCENUM;

typedef NTSTATUS(WDFAPI *PFN_WDFMEMORYCREATE)(PWDF_DRIVER_GLOBALS DriverGlobals, PWDF_OBJECT_ATTRIBUTES Attributes,
					      POOL_TYPE PoolType, ULONG PoolTag, SIZE_T BufferSize,
					      WDFMEMORY *Memory, PVOID *Buffer);

FORCEINLINE NTSTATUS WdfMemoryCreate(PWDF_OBJECT_ATTRIBUTES Attributes, POOL_TYPE PoolType, ULONG PoolTag,
				     SIZE_T BufferSize, WDFMEMORY *Memory, PVOID *Buffer)
{
	return ((PFN_WDFMEMORYCREATE)WdfFunctions[WdfMemoryCreateTableIndex])(WdfDriverGlobals, Attributes, PoolType,
									     PoolTag, BufferSize, Memory, Buffer);
}

#endif /* HVCICHECK_KMDF_H */
