package peimage

import "strings"

// Kind is what an image is for, as hvcicheck classifies it.
type Kind string

// The kinds of image. See docs/output.md for how each is decided.
const (
	KindKernelDriver   Kind = "kernel-driver"   // a kernel-mode image: driver, kernel DLL, ntoskrnl/hal
	KindEFIApplication Kind = "efi-application" // subsystem 10
	KindEFIDriver      Kind = "efi-driver"      // subsystems 11 (boot service) and 12 (runtime)
	KindEFIROM         Kind = "efi-rom"         // subsystem 13
	KindNativeUser     Kind = "native-user-mode"
	KindUserMode       Kind = "user-mode"
)

// Classify decides the image's Kind from its subsystem, its imports and its
// file name. dlls are the imported DLL names (nil where imports are
// unreadable); name is the file's base name (may be empty).
//
// A kernel-mode image is one that imports a kernel module (ntoskrnl.exe,
// hal.dll, a kernel port or class driver), or has the NATIVE subsystem and
// imports nothing from ntdll.dll, or has IMAGE_DLLCHARACTERISTICS_WDM_DRIVER,
// or is itself the kernel (ntoskrnl*.exe, hal*.dll), or is a *.sys file with
// the NATIVE subsystem (Wine's drivers import ntdll.dll).
func (f *File) Classify(dlls []string, name string) Kind {
	switch f.Optional.Subsystem {
	case SubsystemEFIApplication:
		return KindEFIApplication
	case SubsystemEFIBootService, SubsystemEFIRuntimeDriver:
		return KindEFIDriver
	case SubsystemEFIROM:
		return KindEFIROM
	}
	lower := strings.ToLower(name)
	if strings.HasPrefix(lower, "ntoskrnl") || strings.HasPrefix(lower, "ntkrnl") || (strings.HasPrefix(lower, "hal") && strings.HasSuffix(lower, ".dll")) {
		return KindKernelDriver
	}
	importsNtdll := false
	for _, d := range dlls {
		if IsKernelModule(d) {
			return KindKernelDriver
		}
		if strings.EqualFold(d, "ntdll.dll") {
			importsNtdll = true
		}
	}
	if f.Optional.DllCharacteristics&0x2000 != 0 {
		return KindKernelDriver
	}
	if f.Optional.Subsystem == SubsystemNative {
		if importsNtdll && !strings.HasSuffix(lower, ".sys") {
			return KindNativeUser
		}
		return KindKernelDriver
	}
	return KindUserMode
}
