// Command hvcicheck checks Windows kernel-driver images for memory
// integrity (HVCI) compatibility, without running them.
//
// Usage:
//
//	hvcicheck scan [flags] [PATH...]
//	hvcicheck rules [--markdown]
//	hvcicheck explain CODE|NAME
//	hvcicheck version
//
// Exit codes: 0 no findings, 1 findings, 2 usage error or a file that could
// not be read or analysed. See docs/output.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/hvcicheck/hvcicheck/internal/thp"
)

// Exit codes.
const (
	exitOK       = 0 // nothing found
	exitFindings = 1 // at least one finding
	exitError    = 2 // usage error, or a file could not be read or analysed
)

const usage = `hvcicheck checks Windows kernel-driver images (.sys) for compatibility with
memory integrity (HVCI), statically: nothing is loaded or run.

Usage:
  hvcicheck scan [flags] [PATH...]   check driver files and folders (recursively)
  hvcicheck rules [--markdown]       list the rules
  hvcicheck explain CODE|NAME        describe a rule and how to fix its findings
  hvcicheck version                  print the version

Exit codes: 0 no findings, 1 findings, 2 usage error or a file that could not
be read or analysed. Run "hvcicheck scan -h" for the scan flags.
`

func main() {
	tuneGC(os.Getenv)
	if len(os.Args) > 1 && os.Args[1] == "scan" {
		tuneHeapPages(os.Getenv)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// The garbage collector's setting for a scan (unless GOGC or GOMEMLIMIT say
// otherwise): a scan's live heap is small (a few images' analyses, 8-20
// MB) but it allocates fast, so it collects only when the heap nears a
// soft limit that keeps the process's memory bounded (GOGC=off with
// GOMEMLIMIT, the pairing the limit was made for). A scan of a few dozen
// drivers then never collects, and a long one collects every 40-50 MB of
// allocation. Measured on ../shared/corpus/byovd, with the heap on huge
// pages: 52-54 ms with GOGC=400, 45-47 ms with it off; on 410 drivers the
// same time and peak RSS (65-68 MB: the limit bounds both); on wine+EFI
// peak RSS 32 → 39 MB (docs/performance.md, "Driver set: huge pages").
const (
	gcPercent = -1 // off: the soft limit decides
	gcLimit   = 64 << 20
)

// tuneGC applies gcPercent and gcLimit where the environment sets neither.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(gcLimit)
	}
}

// heapPages is the part of the heap the command asks to have backed by
// transparent huge pages: three quarters of gcLimit (the heap grows to
// the limit before it is collected; the runtime's own memory takes the
// rest). On byovd it cut the page faults from 6,100 to 1,200 and the CPU
// time by a third to a half (docs/performance.md, "Driver set: huge pages
// for the heap").
const heapPages = gcLimit / 4 * 3

// tuneHeapPages asks for huge pages for the heap (thp.BackHeap) unless
// GODEBUG has disablethp=1, the Go runtime's own switch against them. It
// reports whether the advice was taken; a refusal changes nothing but
// speed, so it is not an error.
func tuneHeapPages(getenv func(string) string) bool {
	for _, kv := range strings.Split(getenv("GODEBUG"), ",") {
		if strings.TrimSpace(kv) == "disablethp=1" {
			return false
		}
	}
	r, err := thp.BackHeap(heapPages)
	return err == nil && r.Size() > 0
}

// cli is one invocation's environment.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	goos           string
}

// run runs hvcicheck with args (without the program name) and returns the
// exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr, getenv: os.Getenv, goos: runtime.GOOS}
	return c.run(ctx, args)
}

func (c *cli) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usage)
		return exitError
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "scan":
		return c.scan(ctx, rest)
	case "rules":
		return c.rules(rest)
	case "explain":
		return c.explain(rest)
	case "version":
		return c.version(rest)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(c.stdout, usage)
		return exitOK
	default:
		return c.usageError("unknown command %q", cmd)
	}
}

// usageError prints "hvcicheck: message" and a pointer to the usage.
func (c *cli) usageError(format string, args ...any) int {
	fmt.Fprintf(c.stderr, "hvcicheck: "+format+"\n", args...)
	fmt.Fprintln(c.stderr, `Run "hvcicheck help" for usage.`)
	return exitError
}
