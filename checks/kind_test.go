package checks_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// TestCallSitesKernelModeOnly checks that the call-site analysis looks at
// kernel-mode images only: the same driver image, said to be user-mode or
// an EFI image, has no call-site findings; said to be a kernel driver (or
// not classified at all), it has its findings.
func TestCallSitesKernelModeOnly(t *testing.T) {
	data, err := os.ReadFile("../testdata/drivers/callsite_pool_apis/clang-x64-O2.sys")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		kind peimage.Kind
		want bool
	}{
		{"", true},
		{peimage.KindKernelDriver, true},
		{peimage.KindUserMode, false},
		{peimage.KindNativeUser, false},
		{peimage.KindEFIDriver, false},
	} {
		f, err := peimage.Parse(bytes.NewReader(data), int64(len(data)), peimage.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		facts := checks.NewFacts(f)
		if tc.kind != "" {
			facts.SetKind(tc.kind)
		}
		rep, err := facts.CallSites()
		if err != nil {
			t.Fatalf("%q: %v", tc.kind, err)
		}
		if got := len(rep.Findings) > 0; got != tc.want {
			t.Errorf("kind %q: %d call-site findings, want some: %v", tc.kind, len(rep.Findings), tc.want)
		}
	}
}
