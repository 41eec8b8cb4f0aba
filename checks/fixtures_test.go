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

var callSiteFixtures = flag.Bool("callsite-fixtures", false, "also check the call-site fixtures (testdata/src/callsite_*) with checks.All()")

// TestLayoutFixtures checks the section-level rules (0x2003, 0x2004, 0x2005,
// page-crossing relocations) on the layout fixtures of every toolchain, and
// that no other rule reports anything there.
func TestLayoutFixtures(t *testing.T) {
	checktest.Run(t, checks.All(), "../testdata", "layout_*")
}

// TestCallSiteFixtures runs every rule on the call-site fixtures: all their
// // want expectations for the rules in checks.All() must hold, and the image
// rules must stay silent. It runs only with -callsite-fixtures until the
// call-site analysis meets them:
//
//	go test ./checks -run CallSiteFixtures -callsite-fixtures
//	go test ./checks -run 'CallSiteFixtures/.*/.*-x64-' -callsite-fixtures
func TestCallSiteFixtures(t *testing.T) {
	if !*callSiteFixtures {
		t.Skip("call-site fixtures are checked only with -callsite-fixtures")
	}
	checktest.Run(t, checks.All(), "../testdata", "callsite_*")
}
