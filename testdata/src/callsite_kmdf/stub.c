/*
 * callsite_kmdf/stub.c: what the WDK's WdfDriverEntry.lib links into every
 * KMDF 1.15 driver: the function table pointer WdfFunctions_01015, the
 * WdfDriverGlobals pointer, the bind information, and the real entry point
 * FxDriverEntry, which binds to the framework through
 * WDFLDR.SYS!WdfVersionBind and then calls the driver's DriverEntry.
 * Nothing to report here; the calls are in driver.c.
 */
#include "kmdf.h"

const WDFFUNC *WdfFunctions_01015;
PWDF_DRIVER_GLOBALS WdfDriverGlobals;

WDF_BIND_INFO WdfBindInfo = {
	sizeof(WDF_BIND_INFO), L"KmdfLibrary", {1, 15, 0}, WdfFunctionTableNumEntries,
	(WDFFUNC *)&WdfFunctions_01015, NULL,
};

NTSTATUS NTAPI DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath);

NTSTATUS NTAPI FxDriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
	NTSTATUS Status = WdfVersionBind(DriverObject, RegistryPath, &WdfBindInfo, (PWDF_COMPONENT_GLOBALS *)&WdfDriverGlobals);
	if (!NT_SUCCESS(Status))
		return Status;
	Status = DriverEntry(DriverObject, RegistryPath);
	if (!NT_SUCCESS(Status))
		WdfVersionUnbind(RegistryPath, &WdfBindInfo, (PWDF_COMPONENT_GLOBALS)WdfDriverGlobals);
	return Status;
}
