package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/hvcicheck/hvcicheck/scan/scantest"
)

// TestScripts runs the scripts in testdata/script, in the manner of
// rsc.io/script's testscript: each is a list of commands run in order in a
// fresh temporary folder $WORK, followed by files written there first:
//
//	# comment
//	mkimage NAME KIND        write a synthetic image (see images)
//	skip-without-corpus      skip unless the shared corpus is present ($CORPUS)
//	hvcicheck ARGS...        run the command; its output is kept
//	exit N                   the last run's exit code was N
//	[!] stdout|stderr RE     the last run's output matches (or not) RE
//	[!] grep RE FILE         FILE matches (or not) RE
//	jsonl FILE N             FILE has N lines, each a FILE object
//	json FILE                FILE is one JSON document with tool, files and summary
//	-- NAME --               the lines up to the next marker are file NAME
//
// Arguments are split at spaces; single quotes group.
func TestScripts(t *testing.T) {
	scripts, err := filepath.Glob(filepath.Join("testdata", "script", "*.txt"))
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, path := range scripts {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			runScript(t, string(data))
		})
	}
}

// images are the synthetic images mkimage writes.
var images = map[string]func() scantest.Image{
	"clean": scantest.Driver,
	"rwx":   scantest.WritableExecutable,
	"init":  scantest.ToleratedINIT,
	"align": scantest.Unaligned,
	"iat":   scantest.IATInCode,
	"reloc": scantest.PageCrossingReloc,
}

// corpusDir is the shared corpus of real drivers, beside the repository.
func corpusDir() string {
	if d := os.Getenv("HVCICHECK_CORPUS"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "corpus")
}

// scriptState is one script's run.
type scriptState struct {
	t              *testing.T
	work           string
	stdout, stderr string
	exit           int
	ran            bool
}

func runScript(t *testing.T, text string) {
	st := &scriptState{t: t, work: t.TempDir()}
	cmds, files := splitScript(text)
	for name, content := range files {
		st.writeFile(name, []byte(content))
	}
	for _, c := range cmds {
		st.exec(c)
	}
}

// scriptLine is one command and its line number.
type scriptLine struct {
	n    int
	args []string
	neg  bool
}

func splitScript(text string) ([]scriptLine, map[string]string) {
	var cmds []scriptLine
	files := map[string]string{}
	var cur string
	inFile := false
	marker := regexp.MustCompile(`^-- (.+) --$`)
	for i, line := range strings.SplitAfter(text, "\n") {
		if m := marker.FindStringSubmatch(strings.TrimRight(line, "\n")); m != nil {
			cur, inFile = m[1], true
			files[cur] = ""
			continue
		}
		if inFile {
			files[cur] += line
			continue
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sl := scriptLine{n: i + 1, args: splitArgs(line)}
		if sl.args[0] == "!" {
			sl.neg, sl.args = true, sl.args[1:]
		}
		cmds = append(cmds, sl)
	}
	return cmds, files
}

// splitArgs splits at spaces; single quotes group and are removed.
func splitArgs(s string) []string {
	var out []string
	var cur strings.Builder
	quoted, have := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			quoted, have = !quoted, true
		case r == ' ' && !quoted:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

func (st *scriptState) expand(s string) string {
	return strings.NewReplacer("$WORK", st.work, "$CORPUS", corpusDir()).Replace(s)
}

func (st *scriptState) writeFile(name string, data []byte) {
	p := filepath.Join(st.work, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		st.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		st.t.Fatal(err)
	}
}

func (st *scriptState) exec(c scriptLine) {
	t := st.t
	t.Helper()
	args := make([]string, len(c.args))
	for i, a := range c.args {
		args[i] = st.expand(a)
	}
	fail := func(format string, a ...any) {
		t.Fatalf("line %d: %s: %s\nstdout:\n%s\nstderr:\n%s", c.n, strings.Join(c.args, " "), fmt.Sprintf(format, a...), st.stdout, st.stderr)
	}
	switch args[0] {
	case "skip-without-corpus":
		if _, err := os.Stat(corpusDir()); err != nil {
			t.Skipf("no corpus at %s", corpusDir())
		}
	case "mkimage":
		mk, ok := images[args[2]]
		if !ok {
			fail("unknown image kind")
		}
		st.writeFile(args[1], mk().Bytes())
	case "hvcicheck":
		var out, errb bytes.Buffer
		st.exit = run(context.Background(), args[1:], &out, &errb)
		st.stdout, st.stderr, st.ran = out.String(), errb.String(), true
	case "exit":
		if want, _ := strconv.Atoi(args[1]); !st.ran || st.exit != want {
			fail("exit code %d, want %d", st.exit, want)
		}
	case "stdout", "stderr":
		out := st.stdout
		if args[0] == "stderr" {
			out = st.stderr
		}
		if matched := regexp.MustCompile(args[1]).MatchString(out); matched == c.neg {
			fail("%s match: %v", args[0], matched)
		}
	case "grep":
		data, err := os.ReadFile(args[2])
		if err != nil {
			fail("%v", err)
		}
		if matched := regexp.MustCompile(args[1]).Match(data); matched == c.neg {
			fail("match: %v", matched)
		}
	case "jsonl", "json":
		if err := checkJSON(args); err != nil {
			fail("%v", err)
		}
	default:
		fail("unknown command")
	}
}

// checkJSON checks a JSONL file's line count and objects, or a JSON
// document's shape.
func checkJSON(args []string) error {
	data, err := os.ReadFile(args[1])
	if err != nil {
		return err
	}
	if args[0] == "json" {
		var doc struct {
			Tool    map[string]string `json:"tool"`
			Files   []map[string]any  `json:"files"`
			Summary map[string]any    `json:"summary"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return err
		}
		if doc.Tool["name"] != "hvcicheck" || doc.Files == nil || doc.Summary == nil {
			return fmt.Errorf("document lacks tool, files or summary: %s", data)
		}
		return nil
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(data) == 0 {
		lines = nil
	}
	if want, _ := strconv.Atoi(args[2]); len(lines) != want {
		return fmt.Errorf("%d lines, want %d", len(lines), want)
	}
	for _, l := range lines {
		var obj map[string]any
		if err := json.Unmarshal([]byte(l), &obj); err != nil {
			return fmt.Errorf("line %q: %w", l, err)
		}
		if _, ok := obj["path"]; !ok {
			return fmt.Errorf("line without path: %s", l)
		}
		if f, ok := obj["findings"].([]any); !ok || f == nil {
			return fmt.Errorf("line without findings array: %s", l)
		}
	}
	return nil
}
