package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/peimage"
	"github.com/hvcicheck/hvcicheck/report"
	"github.com/hvcicheck/hvcicheck/scan"
)

// scanFlags are the flags of `hvcicheck scan`.
type scanFlags struct {
	format      string
	output      string
	rules       string
	workers     int
	maxFileSize string
	timeout     time.Duration
	follow      bool
	verbose     bool
	lim         limitFlags
	baseline    string
	writeBase   string
}

func (c *cli) scanFlagSet(f *scanFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.StringVar(&f.format, "format", "text", "output `format`: text, json, jsonl, sarif or html")
	fs.StringVar(&f.output, "o", "", "write the report to `FILE` instead of standard output")
	fs.StringVar(&f.rules, "rules", "", "comma-separated `list` of rule codes or names to apply (default all; see hvcicheck rules)")
	fs.IntVar(&f.workers, "workers", 0, "files analysed at once (default the number of CPUs)")
	fs.StringVar(&f.maxFileSize, "max-file-size", "", "largest `SIZE` analysed, in bytes or with K, M, G (default 512M)")
	fs.DurationVar(&f.timeout, "timeout", scan.DefaultPerFileTimeout, "time limit per file; 0 for none")
	fs.BoolVar(&f.follow, "follow-symlinks", false, "follow symbolic links met in folders (each folder is walked once)")
	fs.BoolVar(&f.verbose, "v", false, "text format: list every file, not only those with findings or errors")
	addLimitFlags(fs, &f.lim)
	fs.StringVar(&f.baseline, "baseline", "", "report only findings not in `FILE`, an earlier JSON or SARIF report")
	fs.StringVar(&f.writeBase, "write-baseline", "", "also write the scan's findings to `FILE` (JSON), for a later --baseline")
	fs.Usage = func() {
		fmt.Fprint(c.stderr, "Usage: hvcicheck scan [flags] [PATH...]\n\nChecks the PE images among PATHs (files, and folders recursively).\n")
		if c.goos == "windows" {
			fmt.Fprint(c.stderr, "Without PATH, checks the installed drivers and the driver store.\n")
		}
		fmt.Fprint(c.stderr, "\nFlags:\n")
		fs.PrintDefaults()
	}
	return fs
}

// scan runs `hvcicheck scan`.
func (c *cli) scan(ctx context.Context, args []string) int {
	var f scanFlags
	fs := c.scanFlagSet(&f)
	paths, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitError // the flag package printed the error and the usage
	}
	s, err := c.scanner(f)
	if err != nil {
		return c.usageError("scan: %v", err)
	}
	if len(paths) == 0 {
		if paths, err = scan.DefaultRoots(c.goos, c.getenv); err != nil {
			return c.usageError("scan: %v", err)
		}
	}
	switch f.format {
	case "text", "json", "jsonl", "sarif", "html":
	default:
		return c.usageError("scan: unknown --format %q (want text, json, jsonl, sarif or html)", f.format)
	}
	return c.runScan(ctx, s, f, paths)
}

// scanner builds the Scanner the flags describe.
func (c *cli) scanner(f scanFlags) (*scan.Scanner, error) {
	analyzers, err := checks.Select(splitList(f.rules))
	if err != nil {
		return nil, err
	}
	if f.workers < 0 {
		return nil, fmt.Errorf("--workers %d: want 0 (one per CPU) or more", f.workers)
	}
	if f.timeout < 0 {
		return nil, fmt.Errorf("--timeout %v: want 0 (none) or more", f.timeout)
	}
	s := &scan.Scanner{Analyzers: analyzers, Workers: f.workers, PerFileTimeout: f.timeout, FollowSymlinks: f.follow}
	if f.timeout == 0 {
		s.PerFileTimeout = -1
	}
	if f.maxFileSize != "" {
		n, err := parseSize(f.maxFileSize)
		if err != nil {
			return nil, fmt.Errorf("--max-file-size: %w", err)
		}
		s.Limits = peimage.Limits{MaxFileSize: n}
	}
	if err := f.lim.apply(s); err != nil {
		return nil, err
	}
	return s, nil
}

// runScan scans paths and writes the report; it returns the exit code.
func (c *cli) runScan(ctx context.Context, s *scan.Scanner, f scanFlags, paths []string) int {
	var base *report.Baseline
	if f.baseline != "" {
		var err error
		if base, err = readBaseline(f.baseline); err != nil {
			fmt.Fprintf(c.stderr, "hvcicheck: %v\n", err)
			return exitError
		}
	}
	out, closeOut, err := c.openOutput(f.output)
	if err != nil {
		fmt.Fprintf(c.stderr, "hvcicheck: %v\n", err)
		return exitError
	}
	h := c.handler(f, out)
	var filter *report.BaselineFilter
	if base != nil {
		filter = report.NewBaselineFilter(h, base)
		h = filter
	}
	closeBase := func() error { return nil }
	if f.writeBase != "" {
		bw, closeFn, err := c.openOutput(f.writeBase)
		if err != nil {
			closeOut()
			fmt.Fprintf(c.stderr, "hvcicheck: write baseline: %v\n", err)
			return exitError
		}
		closeBase = closeFn
		h = report.Tee(h, report.NewJSON(bw, report.Tool{Name: "hvcicheck", Version: toolVersion()}))
	}
	var progress *report.ProgressLine
	if report.ShowProgress(c.stderr, c.getenv) && !(f.format == "jsonl" && report.ShowProgress(out, c.getenv)) {
		s.Progress = &scan.Progress{}
		progress = report.StartProgress(c.stderr, s.Progress, report.ProgressDelay, paths...)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var werr error
	sum, err := s.Scan(ctx, paths, func(r scan.FileResult) {
		if e := h.File(r); e != nil && werr == nil {
			werr = e
			cancel() // nowhere to write: stop scanning
		}
	})
	if progress != nil {
		progress.Stop() // before the report, which may go to the same terminal
	}
	if werr == nil && err == nil {
		werr = h.Finish(sum)
	}
	for _, closeFn := range []func() error{closeOut, closeBase} {
		if e := closeFn(); e != nil && werr == nil {
			werr = e
		}
	}
	if filter != nil && werr == nil && err == nil {
		st := filter.Stats()
		fmt.Fprintf(c.stderr, "hvcicheck: baseline %s: %d new, %d suppressed, %d gone\n", st.File, st.New, st.Suppressed, st.Gone)
		sum = filter.Summary()
	}
	return c.exitCode(sum, err, werr, f)
}

// readBaseline reads --baseline FILE.
func readBaseline(name string) (*report.Baseline, error) {
	fh, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	defer fh.Close()
	return report.ReadBaseline(fh, name)
}

// exitCode reports the scan's end on stderr where needed and returns the
// exit code.
func (c *cli) exitCode(sum scan.Summary, scanErr, writeErr error, f scanFlags) int {
	switch {
	case writeErr != nil:
		fmt.Fprintf(c.stderr, "hvcicheck: %v\n", writeErr)
		return exitError
	case scanErr != nil:
		fmt.Fprintf(c.stderr, "hvcicheck: scan stopped: %v\n", scanErr)
		return exitError
	case sum.Errors > 0:
		if f.format != "text" || f.output != "" {
			fmt.Fprintf(c.stderr, "hvcicheck: %s could not be read or analysed (see \"error\" in the report)\n", countFiles(sum.Errors))
		}
		return exitError
	case sum.Findings > 0:
		return exitFindings
	}
	return exitOK
}

func countFiles(n int) string {
	if n == 1 {
		return "1 file"
	}
	return strconv.Itoa(n) + " files"
}

// openOutput returns standard output, or the file named by -o with the
// function that closes it.
func (c *cli) openOutput(name string) (io.Writer, func() error, error) {
	if name == "" || name == "-" {
		return c.stdout, func() error { return nil }, nil
	}
	f, err := os.Create(name)
	if err != nil {
		return nil, nil, fmt.Errorf("create output: %w", err)
	}
	return f, func() error {
		if err := f.Close(); err != nil {
			return fmt.Errorf("close output: %w", err)
		}
		return nil
	}, nil
}

func (c *cli) handler(f scanFlags, out io.Writer) report.Handler {
	switch f.format {
	case "json":
		return report.NewJSON(out, report.Tool{Name: "hvcicheck", Version: toolVersion()})
	case "jsonl":
		return report.NewJSONL(out)
	case "sarif":
		wd, _ := os.Getwd()
		return report.NewSARIF(out, report.Tool{Name: "hvcicheck", Version: toolVersion()}, report.SARIFOptions{BaseDir: wd, ReadFiles: true})
	case "html":
		return report.NewHTML(out, report.Tool{Name: "hvcicheck", Version: toolVersion()}, report.HTMLOptions{ReadFiles: true})
	}
	return report.NewText(out, report.TextOptions{Color: report.UseColor(out, c.getenv), Verbose: f.verbose})
}

// parseInterleaved parses flags that may come before, between or after
// the positional arguments (`scan dir --format json`), which the flag
// package alone does not allow. "--" ends the flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// parseSize parses a byte count with an optional K, M or G suffix (powers
// of 1024, an optional trailing "B" or "iB" allowed).
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		}
		if mult > 1 {
			t = t[:n-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size (want bytes, or a number with K, M or G)", s)
	}
	return n * mult, nil
}
