package checktest

import "github.com/hvcicheck/hvcicheck/debuginfo"

// The line table the harness maps findings with is the product's own.
type (
	// LineTable maps RVAs to source positions.
	LineTable = debuginfo.LineTable
	// Pos is a place in a source file.
	Pos = debuginfo.Pos
	// Range is an RVA range.
	Range = debuginfo.Range
)

// ReadLineTable reads the DWARF line table of the image at filename.
func ReadLineTable(filename string) (*LineTable, error) { return debuginfo.ReadLineTable(filename) }

// ErrNoDWARF is returned for an image without DWARF.
var ErrNoDWARF = debuginfo.ErrNoDWARF
