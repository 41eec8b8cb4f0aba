package checks_test

import (
	"flag"
	"testing"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/internal/checktest"
)

// The fixtures are real driver images built from C by
// scripts/build-fixtures.sh and committed under testdata/drivers; the
// expected findings are the // want comments in testdata/src (see
// internal/checktest and testdata/README.md).

var allArchFixtures = flag.Bool("all-arch", false, "check the call-site fixtures of every architecture, not only x64")

// TestLayoutFixtures checks the section-level rules (0x2003, 0x2004, 0x2005,
// page-crossing relocations) on the layout fixtures of every toolchain, and
// that no other rule reports anything there.
func TestLayoutFixtures(t *testing.T) {
	checktest.Run(t, checks.All(), "../testdata", "layout_*")
}

// TestCallSiteFixtures runs every rule on the call-site fixtures: all their
// // want expectations for the rules in checks.All() must hold, and the image
// rules must stay silent. The x64, x86 (clang and mingw, -O0 and -O2) and
// ARM64 (clang, -O0 and -O2) builds are checked always; -all-arch checks
// every image under testdata/drivers/callsite_*, whatever its variant:
//
//	go test ./checks -run CallSiteFixtures -all-arch
func TestCallSiteFixtures(t *testing.T) {
	if *allArchFixtures {
		checktest.Run(t, checks.All(), "../testdata", "callsite_*")
		return
	}
	checktest.Run(t, checks.All(), "../testdata", "callsite_*/*-x64-*", "callsite_*/*-x86-*", "callsite_*/*-arm64-*")
}
