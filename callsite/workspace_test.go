package callsite_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hvcicheck/hvcicheck/callsite"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// TestWorkspaceReuse analyses every fixture (and the shared corpus's
// drivers, when present) through one workspace, forwards and then
// backwards, and each image again with none: a reused workspace must give
// exactly the reports of a fresh analysis, whatever image came before.
func TestWorkspaceReuse(t *testing.T) {
	paths := fixtureFiles(t)
	more, _ := filepath.Glob(filepath.Join("..", "..", "shared", "corpus", "byovd", "*"))
	paths = append(paths, more...)
	type image struct {
		path string
		f    *peimage.File
	}
	var images []image
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := peimage.Parse(bytes.NewReader(data), int64(len(data)), peimage.Limits{})
		if err == nil && decoderFor(f) != nil {
			images = append(images, image{p, f})
		}
	}
	if len(images) < 2 {
		t.Skip("fewer than two images to analyse")
	}
	fresh := make([]string, len(images))
	for i, im := range images {
		fresh[i] = reportText(callsite.Analyze(im.f, decoderFor(im.f), callsite.Options{}))
	}
	ws := &callsite.Workspace{}
	order := make([]int, len(images))
	for i := range order {
		order[i] = i
	}
	backward := slices.Clone(order)
	slices.Reverse(backward)
	for pass, o := range [][]int{order, backward} {
		for _, i := range o {
			im := images[i]
			got := reportText(callsite.Analyze(im.f, decoderFor(im.f), callsite.Options{Workspace: ws}))
			if got != fresh[i] {
				t.Errorf("pass %d, %s: with a reused workspace:\n%s\nfresh:\n%s", pass, im.path, got, fresh[i])
			}
		}
	}
}

// reportText renders a report and its error for comparison.
func reportText(rep *callsite.Report, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return fmt.Sprintf("%s\n%+v", describe(rep.Findings), rep.Stats)
}
