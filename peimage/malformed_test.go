package peimage_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hvcicheck/hvcicheck/internal/pebuild"
)

// updateMalformed rewrites testdata/malformed from the builder.
var updateMalformed = flag.Bool("update-malformed", false, "rewrite ../testdata/malformed from the hand-built descriptions")

// malformedDir is the repository's folder of malformed sample images, for
// the command-line tests and for anyone trying hvcicheck on broken input.
const malformedDir = "../testdata/malformed"

// malformedSample is one file of testdata/malformed and what Parse makes of
// it: an error (err, wrapping ErrNotPE where notPE is set) or anomalies.
// The README there lists the same cases.
type malformedSample struct {
	file      string
	input     func(testing.TB) []byte
	err       string
	notPE     bool
	anomalies []string
}

func malformedSamples() []malformedSample {
	elf := append([]byte("\x7fELF\x02\x01\x01"), make([]byte, 57)...)
	return []malformedSample{
		{file: "empty.bin", input: raw([]byte{}), err: "no MZ header", notPE: true},
		{file: "mz-only.bin", input: raw([]byte("MZ")), err: "the file ends inside the DOS header (2 bytes)", notPE: true},
		{file: "elf.bin", input: raw(elf), err: "no MZ header", notPE: true},
		{file: "ne.exe", input: raw(dosWith(0x40, "NE\x05\x0a")), err: "an NE (16-bit) executable at offset 0x40", notPE: true},
		{file: "truncated-file-header.sys", input: truncated(0x90), err: "file header: 20 bytes at offset 0x84 lie outside the 144-byte file"},
		{file: "truncated-optional-header.sys", input: truncated(0x100), err: "optional header (240 bytes at 0x98) runs past the end of the file"},
		{
			file: "truncated-section-table.sys", input: truncated(0x188 + 2*40 + 20),
			anomalies: []string{"the file header claims 4 sections but the file holds only 2 section headers"},
		},
		{
			file: "sections-claimed-512.sys", input: image(withImage(pebuild.MachineAMD64, func(im *pebuild.Image) { im.NumberOfSections = 512 })),
			anomalies: []string{"the file header claims 512 sections but the file holds only 67 section headers"},
		},
		{
			file: "dirs-12-of-16.sys", input: image(withImage(pebuild.MachineAMD64, func(im *pebuild.Image) { im.NumberOfRvaAndSizes, im.DirectorySlots = 12, 16 })),
			anomalies: []string{"data-directory array has 12 entries (16 expected)"},
		},
		{
			file: "pe32-magic-on-x64.sys", input: image(withImage(pebuild.MachineAMD64, func(im *pebuild.Image) { im.Magic = pebuild.MagicPE32 })),
			anomalies: []string{"optional header magic 0x10b does not match machine x64"},
		},
		{file: "no-sections.sys", input: image(&pebuild.Image{}), anomalies: []string{"the image has no sections"}},
		{
			file: "empty-name-rwx.sys", input: image(withImage(pebuild.MachineAMD64, func(im *pebuild.Image) {
				im.Sections[0].Name, im.Sections[0].Characteristics = "", pebuild.RWX
			})),
		},
		{
			file: "iat-past-virtualsize.sys", input: image(withImage(pebuild.MachineAMD64, func(im *pebuild.Image) {
				im.Directories[pebuild.DirIAT] = pebuild.DataDirectory{RVA: 0x1fff, Size: 8}
			})),
		},
		{file: "reloc-block-size-0.sys", input: image(relocImage(0, pebuild.RelocBlock(0x1000, 0, entry(10, 8))))},
		{file: "ilt-unterminated.sys", input: patched(withThunkSection(), pointILTAtThunks)},
	}
}

// TestMalformedSamples checks that testdata/malformed holds what the
// builder makes of each description (go test ./peimage -update-malformed
// rewrites it) and that Parse gives each the recorded outcome.
func TestMalformedSamples(t *testing.T) {
	samples := malformedSamples()
	if *updateMalformed {
		if err := os.MkdirAll(malformedDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range samples {
		t.Run(s.file, func(t *testing.T) {
			want := s.input(t)
			path := filepath.Join(malformedDir, s.file)
			if *updateMalformed {
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s is missing or stale (%v): run go test ./peimage -run TestMalformedSamples -update-malformed", path, err)
			}
			f, err := parse(got)
			if s.err != "" {
				wantErr(t, err, s.notPE, s.err)
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !slices.Equal(f.Anomalies, s.anomalies) {
				t.Errorf("anomalies %q, want %q", f.Anomalies, s.anomalies)
			}
		})
	}
	entries, err := os.ReadDir(malformedDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "README.md" && !slices.ContainsFunc(samples, func(s malformedSample) bool { return s.file == e.Name() }) {
			t.Errorf("%s/%s is described nowhere", malformedDir, e.Name())
		}
	}
}
