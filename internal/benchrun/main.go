//go:build unix

// Command benchrun times one run of a command for scripts/bench.sh: wall
// time from its start to its exit, its CPU time and its peak resident size,
// written as one line
//
//	WALL_US USER_S SYS_S MAXRSS_KB EXIT
//
// to the file -o names. The command inherits benchrun's standard input,
// output and error, and benchrun exits with its status. MAXRSS_KB is
// getrusage's ru_maxrss, in KiB on Linux (bytes on macOS).
//
// It replaces `date +%s%N; /usr/bin/time …; date +%s%N` in the script: on
// the 2-CPU VM of docs/performance.md, forking a shell for date and
// starting time(1) added 15-20 ms to every measurement, as much as a whole
// image-rules scan of 41 drivers, so the fastest commands' ratios were
// mostly the harness's. Starting the command is still counted (it is part
// of what a user waits for); nothing else is.
//
//	go run ./internal/benchrun -o run.time -- hvcicheck scan --format json DIR
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	out := flag.String("o", "", "file to write the timing line to (required)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: benchrun -o FILE -- COMMAND [ARG...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	code, err := run(*out, flag.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchrun:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

// run runs argv, writes its timing line to out and returns its exit code.
func run(out string, argv []string) (int, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		return 0, fmt.Errorf("%s: %w", argv[0], err)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, errors.New("no resource usage on this system")
	}
	line := fmt.Sprintf("%d %.3f %.3f %d %d\n", wall.Microseconds(),
		seconds(ru.Utime), seconds(ru.Stime), ru.Maxrss, cmd.ProcessState.ExitCode())
	if err := os.WriteFile(out, []byte(line), 0o644); err != nil {
		return 0, fmt.Errorf("writing the timing line: %w", err)
	}
	return cmd.ProcessState.ExitCode(), nil
}

// seconds converts a rusage time to seconds.
func seconds(tv syscall.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}
