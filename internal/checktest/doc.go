// Package checktest runs hvcicheck's analyzers on the test driver images and
// compares their findings with expectations written as comments in the
// images' C sources, in the spirit of golang.org/x/tools/go/analysis/analysistest.
//
// # Layout
//
// The fixtures live in a testdata directory (the repository's testdata/):
//
//	src/<case>.c                 the source of a one-file case
//	src/<case>/*.c               the sources of a multi-file case
//	include/                     headers (km.h, kmdf.h)
//	drivers/<case>/<variant>.sys the images built from them
//
// A variant is <toolchain>-<arch>-<opt>, e.g. clang-x64-O2 or mingw-x86-O0;
// scripts/build-fixtures.sh builds them (see testdata/README.md).
//
// # Expectations
//
// An expectation is a line comment starting with a want directive. Rules are
// named by their Driver Verifier code ("0x2003") or their rule name
// ("page-crossing-relocation"); either matches a finding's Code or Rule.
//
//	// want CODE [key=value ...] [CODE [key=value ...] ...]
//
// on the line of a call: one finding per CODE whose RVA (the call
// instruction) maps to this source line through the image's DWARF line
// table. A call inlined from a header (MmGetSystemAddressForMdlSafe, a KMDF
// wrapper) also maps to the line where it was inlined, through the
// DW_TAG_inlined_subroutine call sites, so the expectation goes on the line
// of the source that calls the inline function. The key=value pairs after a
// CODE apply to that finding.
//
//	// want-section CODE SECTION [key=value ...]
//
// anywhere in the file: one finding of CODE about the section named SECTION
// (its header name, or the long name from the COFF string table). A SECTION
// with glob metacharacters (path.Match: * ? [) matches one or more findings:
// every finding of CODE in a section it matches that no exact expectation
// took. Exact expectations are matched first.
//
//	// want-image CODE [key=value ...] [CODE ...]
//
// a finding about the whole image: no section and no RVA (for example 0x2004
// when SectionAlignment is below 0x1000 but every section is page aligned).
//
//	// want-none
//
// the image must produce no finding at all from the analyzers being run.
// A source must carry at least one directive: a file without any is an
// error, so a forgotten expectation cannot pass as "clean".
//
// Keys (each checked only when given):
//
//	value=N        Finding.Value (the argument value), N in Go syntax: 0x200, 512
//	api=NAME       Finding.API, case-insensitive
//	certainty=S    Finding.Certainty ("definite", "possible"), case-insensitive
//	tag=S          Finding.Tag
//	blocking=B     Finding.Blocking (true or false)
//
// # Conditions
//
// Any directive can be limited to some variants with a bracketed condition
// right after the directive name, for what a toolchain or architecture cannot
// express or compiles differently:
//
//	// want[mingw] 0x2000
//	// want[clang,!arm64] 0x2002 value=0x10
//	// want-section[x64|arm64] page-crossing-relocation .data
//
// The condition is a comma-separated list of terms that must all hold; a
// term is one or more atoms separated by | (any may hold), optionally
// negated with a leading !. An atom is a toolchain (clang, mingw), an
// architecture (x64, x86, arm64), an optimisation level (O0, O1, O2, O3, Os)
// or a whole variant (clang-x64-O2).
//
// # Matching
//
// Only expectations for rules among the analyzers being run are active;
// the others are skipped (Run logs how many), so the call-site fixtures can
// be checked with the image rules alone before the call-site analyzers
// exist. A rule named in an expectation must be a known analyzer's code or
// name, or look like a Driver Verifier code (0x followed by hex digits).
//
// For each image, every active expectation must be met by a distinct
// finding and every finding must meet an expectation: nothing missing,
// nothing extra. An analyzer error is a failure too, except one wrapping
// errors.ErrUnsupported (say, call-site analysis of an ARM64 image before
// there is an ARM64 front end): the expectations of that analyzer's rule are
// then skipped for that image, and Run logs how many images each analyzer
// declined. Failures name the image, the expectation (file:line and text)
// and the finding (rule, section, RVA, source position, message), and list
// all the image's findings.
//
// # API
//
// Run is the entry point for tests. Images lists the fixtures, Expectations
// and ParseFile read the directives, Active and Match do the pairing for
// one image, and LineTable (ReadLineTable, Lookup, Ranges, Function) maps
// RVAs to source lines and back through the image's DWARF.
package checktest
