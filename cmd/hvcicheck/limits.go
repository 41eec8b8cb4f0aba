package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/hvcicheck/hvcicheck/callsite"
	"github.com/hvcicheck/hvcicheck/peimage"
	"github.com/hvcicheck/hvcicheck/scan"
)

// limitFlags are the flags of `hvcicheck scan` that bound the work spent on
// one file, beyond --max-file-size and --timeout (docs/limits.md).
type limitFlags struct {
	hash, noHash bool
	limits       limitList
}

func addLimitFlags(fs *flag.FlagSet, lf *limitFlags) {
	fs.BoolVar(&lf.hash, "hash", false, "hash every file (sha256, and the Authenticode hashes of kernel-mode images) even when only image rules run; by default files are hashed when a call-site rule runs, not when every rule selected is an image rule")
	fs.BoolVar(&lf.noHash, "no-hash", false, "hash no file (sha256 is then \"\"), even when call-site rules run: a file is read only where the rules look")
	fs.Var(&lf.limits, "limit", "bound the work per image: comma-separated `NAME=N` with NAME "+strings.Join(limitNames(), ", ")+" (see docs/limits.md); may be repeated")
}

// apply sets the hash mode and the limits on s, after --max-file-size.
func (lf *limitFlags) apply(s *scan.Scanner) error {
	switch {
	case lf.hash && lf.noHash:
		return errors.New("--hash and --no-hash exclude each other")
	case lf.hash:
		s.Hash = scan.HashAlways
	case lf.noHash:
		s.Hash = scan.HashNever
	default:
		s.Hash = scan.HashAuto
	}
	lf.limits.apply(&s.Limits)
	lf.limits.applyCallSite(&s.CallSite)
	return nil
}

// limitList is the value of --limit: the peimage.Limits set so far.
type limitList struct {
	set map[string]int64
}

// limitNames are the names --limit takes, each for a field of
// peimage.Limits (see apply).
func limitNames() []string {
	return []string{"sections", "imports", "relocs", "pdata", "read", "string",
		"functions", "insns", "blocks", "steps", "wrapper-depth"}
}

func (l *limitList) String() string {
	if l == nil || len(l.set) == 0 {
		return ""
	}
	var parts []string
	for _, n := range limitNames() {
		if v, ok := l.set[n]; ok {
			parts = append(parts, fmt.Sprintf("%s=%d", n, v))
		}
	}
	return strings.Join(parts, ",")
}

// Set parses "NAME=N[,NAME=N...]"; N may have a K, M or G suffix.
func (l *limitList) Set(s string) error {
	for _, item := range splitList(s) {
		name, value, ok := strings.Cut(item, "=")
		name = strings.TrimSpace(name)
		if !ok || !slices.Contains(limitNames(), name) {
			return fmt.Errorf("%q: want NAME=N with NAME one of %s", item, strings.Join(limitNames(), ", "))
		}
		n, err := parseSize(value)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if name != "read" && n > math.MaxInt32 {
			return fmt.Errorf("%s: %d is too large (at most %d)", name, n, math.MaxInt32)
		}
		if l.set == nil {
			l.set = map[string]int64{}
		}
		l.set[name] = n
	}
	return nil
}

// apply copies the limits set into lim.
func (l *limitList) apply(lim *peimage.Limits) {
	for name, n := range l.set {
		switch name {
		case "sections":
			lim.MaxSections = int(n)
		case "imports":
			lim.MaxImports = int(n)
		case "relocs":
			lim.MaxRelocs = int(n)
		case "pdata":
			lim.MaxFunctions = int(n)
		case "read":
			lim.MaxReadBytes = n
		case "string":
			lim.MaxStringSize = int(n)
		}
	}
}

// applyCallSite copies the call-site analysis limits set into o.
func (l *limitList) applyCallSite(o *callsite.Options) {
	for name, n := range l.set {
		switch name {
		case "functions":
			o.MaxFunctions = int(n)
		case "insns":
			o.Engine.MaxInsns = int(n)
		case "blocks":
			o.Engine.MaxBlocks = int(n)
		case "steps":
			o.Engine.MaxSteps = int(n)
		case "wrapper-depth":
			o.MaxWrapperDepth = int(n)
		}
	}
}
