// Package debuginfo maps code addresses of a PE image back to source lines
// and function names through the DWARF debug information the image keeps.
package debuginfo

import (
	"debug/dwarf"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/hvcicheck/hvcicheck/peimage"
)

// Pos is a place in a source file, as the DWARF line table names it.
type Pos struct {
	File string // slash-separated, cleaned: "src/callsite_mdl.c", "include/km.h"
	Line int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Is reports whether p is line of file, where file is a slash-separated path
// that p.File must equal or end with at a path-element boundary
// ("src/x.c" matches "src/x.c", "./src/x.c" and "/build/testdata/src/x.c").
func (p Pos) Is(file string, line int) bool {
	return p.Line == line && pathHasSuffix(p.File, cleanPath(file))
}

func pathHasSuffix(p, suffix string) bool {
	if p == suffix {
		return true
	}
	return strings.HasSuffix(p, "/"+suffix)
}

func cleanPath(p string) string {
	return path.Clean(strings.ReplaceAll(p, `\`, "/"))
}

// LineTable maps the RVAs of one image to source positions through the
// image's DWARF: the line table for the innermost position, and the
// DW_TAG_inlined_subroutine entries for the call sites of inlined functions.
type LineTable struct {
	base    uint64
	rows    []lineRow
	inlines []inlineRange
	funcs   []funcRange
}

type lineRow struct {
	addr uint64
	pos  Pos
	end  bool // end_sequence: no position from addr on
}

type inlineRange struct {
	lo, hi uint64
	call   Pos
	depth  int // nesting depth in the DIE tree; deeper is more inner
}

type funcRange struct {
	lo, hi uint64
	name   string
}

// ErrNoDWARF is returned for an image without DWARF.
var ErrNoDWARF = errors.New("image has no DWARF debug information")

// maxDebugBytes bounds the DWARF sections read from one image.
const maxDebugBytes = 64 << 20

// ReadLineTable reads the DWARF of the PE image at filename.
func ReadLineTable(filename string) (*LineTable, error) {
	fh, err := os.Open(filename)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	f, err := peimage.Parse(fh, st.Size(), peimage.Limits{})
	if err != nil {
		return nil, err
	}
	return NewLineTable(f)
}

// NewLineTable builds the line table of a PE image from its .debug_*
// sections (mingw keeps them, and lld-link with /debug:dwarf), read through
// the image model: nothing but those sections is read.
func NewLineTable(f *peimage.File) (*LineTable, error) {
	secs := map[string][]byte{}
	total := 0
	for i := range f.Sections {
		s := &f.Sections[i]
		long := f.LongName(s)
		name, ok := strings.CutPrefix(long, ".debug_")
		if !ok {
			continue
		}
		size := min(s.VirtualSize, s.SizeOfRawData)
		if s.VirtualSize == 0 {
			size = s.SizeOfRawData
		}
		if total += int(size); total > maxDebugBytes {
			return nil, fmt.Errorf("DWARF sections larger than %d bytes", maxDebugBytes)
		}
		b, err := f.ReadRVA(s.VirtualAddress, int(size))
		if err != nil {
			return nil, fmt.Errorf("DWARF section %s: %w", long, err)
		}
		secs[name] = b
	}
	if secs["info"] == nil {
		return nil, ErrNoDWARF
	}
	d, err := dwarf.New(secs["abbrev"], nil, nil, secs["info"], secs["line"], nil, secs["ranges"], secs["str"])
	if err != nil {
		return nil, fmt.Errorf("DWARF: %w", err)
	}
	for _, name := range []string{"addr", "line_str", "str_offsets", "rnglists", "loclists"} {
		if b := secs[name]; b != nil {
			if err := d.AddSection(".debug_"+name, b); err != nil {
				return nil, fmt.Errorf("DWARF: %w", err)
			}
		}
	}
	t := &LineTable{base: f.Optional.ImageBase}
	r := d.Reader()
	for {
		cu, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("DWARF: %w", err)
		}
		if cu == nil {
			break
		}
		if cu.Tag != dwarf.TagCompileUnit {
			r.SkipChildren()
			continue
		}
		files, err := t.readLines(d, cu)
		if err != nil {
			return nil, err
		}
		if cu.Children {
			if err := t.readDIEs(d, r, files); err != nil {
				return nil, err
			}
		}
	}
	sort.SliceStable(t.rows, func(i, j int) bool {
		a, b := t.rows[i], t.rows[j]
		if a.addr != b.addr {
			return a.addr < b.addr
		}
		return a.end && !b.end // a sequence's end before the next one's start
	})
	return t, nil
}

// readLines appends the CU's line table rows and returns its file table.
func (t *LineTable) readLines(d *dwarf.Data, cu *dwarf.Entry) ([]*dwarf.LineFile, error) {
	lr, err := d.LineReader(cu)
	if err != nil {
		return nil, fmt.Errorf("DWARF line table: %w", err)
	}
	if lr == nil {
		return nil, nil
	}
	var le dwarf.LineEntry
	for {
		if err := lr.Next(&le); err != nil {
			break // io.EOF, or a damaged table: keep what was read
		}
		row := lineRow{addr: le.Address, end: le.EndSequence}
		if le.File != nil {
			row.pos = Pos{cleanPath(le.File.Name), le.Line}
		}
		t.rows = append(t.rows, row)
	}
	return lr.Files(), nil
}

// readDIEs walks the children of a CU, collecting functions and inlined
// subroutines with their address ranges.
func (t *LineTable) readDIEs(d *dwarf.Data, r *dwarf.Reader, files []*dwarf.LineFile) error {
	depth := 1
	for depth > 0 {
		e, err := r.Next()
		if err != nil {
			return fmt.Errorf("DWARF: %w", err)
		}
		if e == nil {
			return nil
		}
		if e.Tag == 0 {
			depth--
			continue
		}
		switch e.Tag {
		case dwarf.TagSubprogram:
			ranges, _ := d.Ranges(e)
			name := entryName(d, e)
			for _, rg := range ranges {
				if rg[1] > rg[0] {
					t.funcs = append(t.funcs, funcRange{rg[0], rg[1], name})
				}
			}
		case dwarf.TagInlinedSubroutine:
			ranges, _ := d.Ranges(e)
			idx, _ := e.Val(dwarf.AttrCallFile).(int64)
			line, _ := e.Val(dwarf.AttrCallLine).(int64)
			var call Pos
			if idx >= 0 && int(idx) < len(files) && files[idx] != nil {
				call = Pos{cleanPath(files[idx].Name), int(line)}
			}
			for _, rg := range ranges {
				if rg[1] > rg[0] && call.File != "" {
					t.inlines = append(t.inlines, inlineRange{rg[0], rg[1], call, depth})
				}
			}
		}
		if e.Children {
			depth++
		}
	}
	return nil
}

// entryName is a subprogram's name, following DW_AT_abstract_origin and
// DW_AT_specification where the entry has none of its own.
func entryName(d *dwarf.Data, e *dwarf.Entry) string {
	for i := 0; i < 4 && e != nil; i++ {
		if n, ok := e.Val(dwarf.AttrName).(string); ok {
			return n
		}
		off, ok := e.Val(dwarf.AttrAbstractOrigin).(dwarf.Offset)
		if !ok {
			off, ok = e.Val(dwarf.AttrSpecification).(dwarf.Offset)
		}
		if !ok {
			return ""
		}
		r := d.Reader()
		r.Seek(off)
		e, _ = r.Next()
	}
	return ""
}

// rowAt returns the index of the row that holds the position of va, or -1.
func (t *LineTable) rowAt(va uint64) int {
	i := sort.Search(len(t.rows), func(i int) bool { return t.rows[i].addr > va }) - 1
	if i < 0 || t.rows[i].end || t.rows[i].pos.File == "" {
		return -1
	}
	return i
}

// Lookup returns the source positions of the instruction at rva: first the
// line table's position (innermost, possibly in a header), then the call
// site of each inlined function around it, innermost first. It returns nil
// where the line table has no row for rva (linker-made thunks, data).
func (t *LineTable) Lookup(rva uint32) []Pos {
	va := t.base + uint64(rva)
	i := t.rowAt(va)
	if i < 0 {
		return nil
	}
	out := []Pos{t.rows[i].pos}
	var inl []inlineRange
	for _, r := range t.inlines {
		if va >= r.lo && va < r.hi {
			inl = append(inl, r)
		}
	}
	sort.SliceStable(inl, func(a, b int) bool { return inl[a].depth > inl[b].depth })
	for _, r := range inl {
		if r.call != out[len(out)-1] {
			out = append(out, r.call)
		}
	}
	return out
}

// Function returns the name of the innermost function whose code holds rva
// (an inlined function's concrete out-of-line copy included), or "".
func (t *LineTable) Function(rva uint32) string {
	va := t.base + uint64(rva)
	best, size := "", uint64(0)
	for _, f := range t.funcs {
		if va >= f.lo && va < f.hi && (size == 0 || f.hi-f.lo < size) {
			best, size = f.name, f.hi-f.lo
		}
	}
	return best
}

// Range is a half-open RVA range [Start, End).
type Range struct{ Start, End uint32 }

// Ranges returns the RVA ranges the line table attributes to line of file
// (file matched as in Pos.Is), in address order, adjacent ranges merged.
// This is the reverse of Lookup's first position.
func (t *LineTable) Ranges(file string, line int) []Range {
	var out []Range
	for i := 0; i+1 < len(t.rows); i++ {
		r := t.rows[i]
		if r.end || !r.pos.Is(file, line) || t.rows[i+1].addr <= r.addr {
			continue
		}
		lo, hi := uint32(r.addr-t.base), uint32(t.rows[i+1].addr-t.base)
		if n := len(out); n > 0 && out[n-1].End == lo {
			out[n-1].End = hi
			continue
		}
		out = append(out, Range{lo, hi})
	}
	return out
}

// Files returns the distinct file names in the line table.
func (t *LineTable) Files() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range t.rows {
		if r.pos.File != "" && !seen[r.pos.File] {
			seen[r.pos.File] = true
			out = append(out, r.pos.File)
		}
	}
	sort.Strings(out)
	return out
}

// Function is a function the DWARF describes, with its RVA range.
type Function struct {
	Name       string
	Start, End uint32
}

// Functions returns every function with an address range, in DWARF order.
func (t *LineTable) Functions() []Function {
	out := make([]Function, 0, len(t.funcs))
	for _, fn := range t.funcs {
		out = append(out, Function{Name: fn.name, Start: uint32(fn.lo - t.base), End: uint32(fn.hi - t.base)})
	}
	return out
}

// Row is one line-table row given by hand: from RVA on, the code is at Pos
// (or, with End, at no position).
type Row struct {
	RVA uint32
	Pos Pos
	End bool
}

// Inline is an inlined call given by hand: [Start, End) was inlined at Call.
type Inline struct {
	Start, End uint32
	Call       Pos
	Depth      int
}

// NewTable builds a line table from rows (sorted by RVA) and inlined calls,
// for an image based at base. Tests use it; images use NewLineTable.
func NewTable(base uint64, rows []Row, inlines []Inline) *LineTable {
	t := &LineTable{base: base}
	for _, r := range rows {
		t.rows = append(t.rows, lineRow{addr: base + uint64(r.RVA), pos: r.Pos, end: r.End})
	}
	for _, in := range inlines {
		t.inlines = append(t.inlines, inlineRange{lo: base + uint64(in.Start), hi: base + uint64(in.End), call: in.Call, depth: in.Depth})
	}
	return t
}
