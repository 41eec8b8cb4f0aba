package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hvcicheck/hvcicheck/checks"
)

// TestExplainMatchesChecksMarkdown checks that `hvcicheck explain` prints,
// for every rule, the text docs/checks.md has for it (both come from the
// rule in package checks; this catches a formatter that drops or changes
// any of it).
func TestExplainMatchesChecksMarkdown(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "checks.md"))
	if err != nil {
		t.Fatal(err)
	}
	md := string(data)
	unescape := strings.NewReplacer(`\\`, `\`, `\*`, `*`, `&lt;`, `<`, `&gt;`, `>`)
	for _, a := range checks.All() {
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{"explain", a.Name}, &out, &errb); code != 0 {
			t.Fatalf("explain %s: exit %d: %s", a.Name, code, &errb)
		}
		head := "## " + heading(a) + "\n"
		i := strings.Index(md, head)
		if i < 0 {
			t.Fatalf("docs/checks.md has no %q", head)
		}
		sec := md[i+len(head):]
		if j := strings.Index(sec, "\nExample,"); j >= 0 {
			sec = sec[:j]
		}
		if j := strings.Index(sec, "\n## "); j >= 0 {
			sec = sec[:j]
		}
		sec = unescape.Replace(strings.NewReplacer("**Fix:**", "Fix:", "**", "").Replace(sec))
		label := a.Code + " " + a.Name
		if a.Code == "" {
			label = a.Name + " (no Driver Verifier code)"
		}
		// explain: "LABEL: TITLE", then the documentation and the fix.
		title, rest, _ := strings.Cut(strings.TrimSpace(sec), "\n")
		want := strings.Join(strings.Fields(label+": "+title+" "+rest), " ")
		got := strings.Join(strings.Fields(out.String()), " ")
		if got != want {
			t.Errorf("explain %s differs from docs/checks.md:\n got: %s\nwant: %s", a.Name, got, want)
		}
	}
}
