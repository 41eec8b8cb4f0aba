// Package report writes scan results for people (Text, HTML) and for
// programs (JSON, JSONL, SARIF), filters them against a baseline
// (BaselineFilter) and draws a progress line (ProgressLine). Each writer is
// a Handler: the scanner's results are passed to File one by one as files
// finish, then the totals to Finish. The design follows golang.org/x/vuln's
// scan handlers.
package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/hvcicheck/hvcicheck/scan"
)

// Handler receives the results of one scan.
type Handler interface {
	// File handles the result of one file. It is called once per file, in
	// the order the files finish, never concurrently.
	File(scan.FileResult) error
	// Finish handles the totals after the last file and flushes the output.
	Finish(scan.Summary) error
}

// Tool names the program that wrote a report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// UseColor reports whether text written to w may be coloured: w is a
// terminal, NO_COLOR is unset or empty (https://no-color.org) and TERM is
// not "dumb". getenv looks up environment variables (os.Getenv).
func UseColor(w io.Writer, getenv func(string) string) bool {
	if getenv("NO_COLOR") != "" || getenv("TERM") == "dumb" {
		return false
	}
	return isTerminal(w)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// flusher is a writer with buffered output, such as *bufio.Writer.
type flusher interface{ Flush() error }

func flush(w io.Writer) error {
	if f, ok := w.(flusher); ok {
		if err := f.Flush(); err != nil {
			return fmt.Errorf("flush output: %w", err)
		}
	}
	return nil
}

// clean makes s safe to print on a terminal: control characters, invalid
// UTF-8 and bidirectional-text controls are written as Go escapes, so that
// a hostile file name or image string cannot move the cursor, change
// colours or reorder the line.
func clean(s string) string {
	if isPlain(s) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029':
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isPlain reports whether s is printable ASCII only.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// Tee returns a Handler passing every result and the totals to each of hs
// in turn; the first error is returned.
func Tee(hs ...Handler) Handler { return tee(hs) }

type tee []Handler

func (t tee) File(r scan.FileResult) error {
	for _, h := range t {
		if err := h.File(r); err != nil {
			return err
		}
	}
	return nil
}

func (t tee) Finish(s scan.Summary) error {
	var first error
	for _, h := range t {
		if err := h.Finish(s); err != nil && first == nil {
			first = err
		}
	}
	return first
}
