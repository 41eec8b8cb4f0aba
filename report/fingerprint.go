package report

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/scan"
)

// FingerprintKey is the key of hvcicheck's fingerprint in a SARIF result's
// partialFingerprints. The version changes when the fingerprint's recipe
// does, so that old baselines are not matched by accident.
const FingerprintKey = "hvcicheck/v1"

// Fingerprints returns the stable fingerprint of each of r's findings, in
// the order of r.Findings. A fingerprint identifies a finding within its file
// by what it is, not where it is, so that it survives changes elsewhere in
// the driver (code added before it, sections growing, a relink):
//
//   - call-site findings: the rule, the API, the function's name (from debug
//     info, where known) and the call chain with the RVAs left out, and the
//     offending value;
//   - section findings (0x2003-0x2005, and page-crossing relocations, which
//     name their section): the rule and the section's name;
//   - other findings: the rule alone.
//
// Findings of one file with the same recipe are told apart by their rank in
// report order (rule, then location), ":1", ":2"...: so two identical calls in
// one unnamed function stay two findings. The fingerprint is
// "HASH:RANK" where HASH is the first 32 hex digits of the recipe's SHA-256.
func Fingerprints(r scan.FileResult) []string {
	out := make([]string, len(r.Findings))
	seen := map[string]int{}
	for i, f := range r.Findings {
		h := recipeHash(f)
		seen[h]++
		out[i] = fmt.Sprintf("%s:%d", h, seen[h])
	}
	return out
}

// hopRVA matches what makes a hop of a call chain depend on addresses:
// "sub_1000@1006" is an unnamed function at 0x1000 calling from 0x1006,
// "Init@1006" a named one.
var (
	hopSite    = regexp.MustCompile(`@[0-9a-fA-F]+$`)
	hopUnnamed = regexp.MustCompile(`^sub_[0-9a-fA-F]+$`)
)

// normalizeHop drops the RVAs from one hop of a call chain.
func normalizeHop(hop string) string {
	hop = hopSite.ReplaceAllString(hop, "")
	if hopUnnamed.MatchString(hop) {
		return "sub"
	}
	return hop
}

func recipeHash(f checks.Finding) string {
	parts := []string{f.Rule}
	switch {
	case f.API != "" || f.Function != nil:
		chain := make([]string, len(f.Path))
		for i, hop := range f.Path {
			chain[i] = normalizeHop(hop)
		}
		value := "-"
		if f.Value != nil {
			value = fmt.Sprintf("0x%x", *f.Value)
		}
		parts = append(parts, "call", f.API, f.FunctionName, strings.Join(chain, ">"), value)
	case f.Section != "":
		parts = append(parts, "section", f.Section)
	}
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:16])
}
