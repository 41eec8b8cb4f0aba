package report

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/arch/arm64/arm64asm"
	"golang.org/x/arch/x86/x86asm"

	"github.com/hvcicheck/hvcicheck/peimage"
	"github.com/hvcicheck/hvcicheck/scan"
)

// maxRereadSize bounds the files the SARIF and HTML reports open again to
// show their bytes (instruction lengths, disassembly, the section layout).
const maxRereadSize = 512 << 20

// image is a scanned file opened again, after checking that it is still the
// file that was scanned (same size and SHA-256).
type image struct {
	f    *os.File
	pe   *peimage.File
	size int64
}

// openImage opens r's file again. It fails when the file changed since the
// scan, is not a PE image, or is larger than maxRereadSize.
func openImage(r scan.FileResult) (*image, error) {
	if r.Kind == "" {
		return nil, errors.New("not an analysed PE image")
	}
	if r.Size > maxRereadSize {
		return nil, fmt.Errorf("larger than %d bytes", maxRereadSize)
	}
	f, err := os.Open(r.Path)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
		}
	}()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() != r.Size {
		return nil, errors.New("the file changed since it was scanned")
	}
	if r.SHA256 != "" { // else the scan did not hash it (image rules only, --no-hash): the size must do
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(f, 0, r.Size)); err != nil {
			return nil, err
		}
		if hex.EncodeToString(h.Sum(nil)) != r.SHA256 {
			return nil, errors.New("the file changed since it was scanned")
		}
	}
	pe, err := peimage.Parse(f, r.Size, peimage.Limits{MaxFileSize: maxRereadSize})
	if err != nil {
		return nil, err
	}
	ok = true
	return &image{f: f, pe: pe, size: r.Size}, nil
}

func (im *image) Close() error { return im.f.Close() }

// bytesAt reads up to n bytes at off, fewer at the end of the file.
func (im *image) bytesAt(off int64, n int) []byte {
	if off < 0 || off >= im.size || n <= 0 {
		return nil
	}
	n = int(min(int64(n), im.size-off))
	b := make([]byte, n)
	m, _ := im.f.ReadAt(b, off)
	return b[:m]
}

// instructionLength decodes the instruction at file offset off and returns
// its length, or 0 where it cannot be decoded.
func (im *image) instructionLength(off int64) int {
	switch im.pe.Machine {
	case peimage.MachineAMD64, peimage.MachineI386:
		mode := 32
		if im.pe.Machine == peimage.MachineAMD64 {
			mode = 64
		}
		inst, err := x86asm.Decode(im.bytesAt(off, 15), mode)
		if err != nil {
			return 0
		}
		return inst.Len
	case peimage.MachineARM64:
		if _, err := arm64asm.Decode(im.bytesAt(off, 4)); err != nil {
			return 0
		}
		return 4
	}
	return 0
}
