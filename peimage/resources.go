package peimage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Resource types (RT_*).
const (
	ResourceTypeVersion = 16 // RT_VERSION
)

// Bounds of the resource-tree walk. A resource directory is a tree of fixed
// depth (type, name, language); the walk never goes deeper, reads at most
// maxResourceEntries entries of one directory and at most
// maxVersionInfoSize bytes of a version resource (its wLength is 16 bits).
const (
	maxResourceDepth    = 3
	maxResourceEntries  = 1024
	maxVersionInfoSize  = 0xFFFF
	maxVersionInfoNodes = 512
	maxVersionInfoLevel = 4
)

// ErrNoVersionInfo is returned by VersionInfo for an image without a
// version resource.
var ErrNoVersionInfo = errors.New("no version resource")

// VersionInfo is what an image's version resource (VERSIONINFO) says about
// who made it. Strings are as in the image, which anyone can write: they are
// claims, not proof (the Authenticode signature is what binds a publisher).
type VersionInfo struct {
	CompanyName      string `json:"company_name,omitempty"`
	ProductName      string `json:"product_name,omitempty"`
	FileDescription  string `json:"file_description,omitempty"`
	FileVersion      string `json:"file_version,omitempty"`
	OriginalFilename string `json:"original_filename,omitempty"`
	// Error says why the resource could not be read completely; the fields
	// read before the damage are kept.
	Error string `json:"error,omitempty"`
}

// versionKeys are the StringFileInfo keys VersionInfo keeps.
var versionKeys = [...]string{"CompanyName", "ProductName", "FileDescription", "FileVersion", "OriginalFilename"}

// versionKeyIndex returns the index of key in versionKeys, or -1.
func versionKeyIndex(key string) int {
	for i, k := range versionKeys {
		if k == key {
			return i
		}
	}
	return -1
}

func (v *VersionInfo) set(key, value string) {
	switch key {
	case "CompanyName":
		v.CompanyName = value
	case "ProductName":
		v.ProductName = value
	case "FileDescription":
		v.FileDescription = value
	case "FileVersion":
		v.FileVersion = value
	case "OriginalFilename":
		v.OriginalFilename = value
	}
}

func (v *VersionInfo) get(key string) string {
	switch key {
	case "CompanyName":
		return v.CompanyName
	case "ProductName":
		return v.ProductName
	case "FileDescription":
		return v.FileDescription
	case "FileVersion":
		return v.FileVersion
	case "OriginalFilename":
		return v.OriginalFilename
	}
	return ""
}

// ResourceEntry is one entry of a resource directory.
type ResourceEntry struct {
	// Name is the entry's name where it is named; else ID is its number.
	Name string
	ID   uint32
	// Dir is set when the entry points at a subdirectory; Offset is then
	// the subdirectory's offset from the start of the resource section,
	// else that of an IMAGE_RESOURCE_DATA_ENTRY.
	Dir    bool
	Offset uint32
}

// ResourceData is a leaf of the resource tree: where the data is.
type ResourceData struct {
	RVA      uint32
	Size     uint32
	CodePage uint32
}

// resourceRoot returns the resource directory's RVA and size, or an error
// if the image has none.
func (f *File) resourceRoot() (DataDirectory, error) {
	if f.Optional.DirectoryCount <= DirResource {
		return DataDirectory{}, ErrNoVersionInfo
	}
	d := f.Optional.DataDirectories[DirResource]
	if d.RVA == 0 || d.Size == 0 {
		return DataDirectory{}, ErrNoVersionInfo
	}
	return d, nil
}

// ResourceDirectory reads the resource directory at offset off from the
// start of the resource section: its named entries, then its ID entries, at
// most maxResourceEntries of them.
func (f *File) ResourceDirectory(off uint32) ([]ResourceEntry, error) {
	root, err := f.resourceRoot()
	if err != nil {
		return nil, err
	}
	hdr, err := f.resourceBytes(root, off, 16)
	if err != nil {
		return nil, fmt.Errorf("resource directory at +0x%x: %w", off, err)
	}
	named := int(binary.LittleEndian.Uint16(hdr[12:]))
	ids := int(binary.LittleEndian.Uint16(hdr[14:]))
	n := named + ids
	if n > maxResourceEntries {
		return nil, &LimitError{What: "resource directory entries", Limit: maxResourceEntries, Got: int64(n)}
	}
	raw, err := f.resourceBytes(root, off+16, 8*n)
	if err != nil {
		return nil, fmt.Errorf("resource directory at +0x%x: %d entries: %w", off, n, err)
	}
	out := make([]ResourceEntry, n)
	for i := range out {
		e := &out[i]
		name := binary.LittleEndian.Uint32(raw[8*i:])
		data := binary.LittleEndian.Uint32(raw[8*i+4:])
		e.Dir = data&0x80000000 != 0
		e.Offset = data &^ 0x80000000
		if name&0x80000000 != 0 {
			s, err := f.resourceName(root, name&^0x80000000)
			if err != nil {
				return nil, fmt.Errorf("resource directory at +0x%x, entry %d: %w", off, i, err)
			}
			e.Name = s
		} else {
			e.ID = name
		}
	}
	return out, nil
}

// resourceName reads an IMAGE_RESOURCE_DIR_STRING_U: a 16-bit length and
// that many UTF-16 code units.
func (f *File) resourceName(root DataDirectory, off uint32) (string, error) {
	b, err := f.resourceBytes(root, off, 2)
	if err != nil {
		return "", fmt.Errorf("name at +0x%x: %w", off, err)
	}
	n := int(binary.LittleEndian.Uint16(b))
	if n > f.lim.MaxStringSize {
		return "", &LimitError{What: "resource name length", Limit: int64(f.lim.MaxStringSize), Got: int64(n)}
	}
	b, err = f.resourceBytes(root, off+2, 2*n)
	if err != nil {
		return "", fmt.Errorf("name at +0x%x: %w", off, err)
	}
	return decodeUTF16(b), nil
}

// ResourceDataEntry reads the IMAGE_RESOURCE_DATA_ENTRY at off from the
// start of the resource section.
func (f *File) ResourceDataEntry(off uint32) (ResourceData, error) {
	root, err := f.resourceRoot()
	if err != nil {
		return ResourceData{}, err
	}
	b, err := f.resourceBytes(root, off, 16)
	if err != nil {
		return ResourceData{}, fmt.Errorf("resource data entry at +0x%x: %w", off, err)
	}
	return ResourceData{
		RVA:      binary.LittleEndian.Uint32(b),
		Size:     binary.LittleEndian.Uint32(b[4:]),
		CodePage: binary.LittleEndian.Uint32(b[8:]),
	}, nil
}

// resourceBytes reads n bytes at off from the start of the resource
// section. The resource directory's size is not trusted to bound them
// (linkers disagree on what it covers); the section holding them does.
func (f *File) resourceBytes(root DataDirectory, off uint32, n int) ([]byte, error) {
	rva := uint64(root.RVA) + uint64(off)
	if rva > 0xFFFFFFFF {
		return nil, fmt.Errorf("offset 0x%x lies outside the image", off)
	}
	return f.ReadRVA(uint32(rva), n)
}

// FindResource walks the resource tree along path, one ID per level (type,
// name, language); a zero ID at a level takes the first entry there. It
// returns the leaf's data entry. The walk is bounded by maxResourceDepth
// levels and maxResourceEntries entries a level.
func (f *File) FindResource(path ...uint32) (ResourceData, error) {
	if len(path) == 0 || len(path) > maxResourceDepth {
		return ResourceData{}, fmt.Errorf("resource path of %d levels (want 1 to %d)", len(path), maxResourceDepth)
	}
	off := uint32(0)
	for depth := 0; ; depth++ {
		entries, err := f.ResourceDirectory(off)
		if err != nil {
			return ResourceData{}, err
		}
		var e *ResourceEntry
		if depth < len(path) {
			for i := range entries {
				if entries[i].Name == "" && (path[depth] == 0 || entries[i].ID == path[depth]) {
					e = &entries[i]
					break
				}
			}
		} else if len(entries) > 0 {
			e = &entries[0]
		}
		if e == nil {
			if depth == 0 {
				return ResourceData{}, ErrNoVersionInfo
			}
			return ResourceData{}, fmt.Errorf("resource directory at +0x%x has no entry %d", off, pathAt(path, depth))
		}
		if !e.Dir {
			return f.ResourceDataEntry(e.Offset)
		}
		if depth+1 >= maxResourceDepth {
			return ResourceData{}, fmt.Errorf("resource tree deeper than %d levels", maxResourceDepth)
		}
		off = e.Offset
	}
}

func pathAt(path []uint32, i int) uint32 {
	if i < len(path) {
		return path[i]
	}
	return 0
}

// VersionInfo reads the image's version resource (RT_VERSION, the first
// name and language) and returns its main strings. It returns
// ErrNoVersionInfo where the image has none. A damaged resource gives an
// error, together with what could be read before the damage where any.
func (f *File) VersionInfo() (*VersionInfo, error) {
	if _, err := f.resourceRoot(); err != nil {
		return nil, err
	}
	leaf, err := f.FindResource(ResourceTypeVersion, 0, 0)
	if err != nil {
		return nil, err
	}
	if leaf.Size < 6 {
		return nil, fmt.Errorf("version resource of %d bytes", leaf.Size)
	}
	n := min(leaf.Size, maxVersionInfoSize)
	data, err := f.ReadRVA(leaf.RVA, int(n))
	if err != nil {
		return nil, fmt.Errorf("version resource: %w", err)
	}
	return parseVersionInfo(data)
}

// viNode is one node of a VS_VERSIONINFO tree: a key, a value and children.
type viNode struct {
	key      string
	value    []byte
	text     bool // wType 1: the value is UTF-16 text
	children []byte
	childOff int // offset of children within the whole resource
}

// parseVersionInfo reads the StringFileInfo of a VS_VERSIONINFO resource.
// It prefers the U.S. English string table (0409) and fills keys it lacks
// from the others.
func parseVersionInfo(data []byte) (*VersionInfo, error) {
	p := &viParser{data: data}
	root, err := p.node(0, len(data))
	if err != nil {
		return nil, fmt.Errorf("version resource: %w", err)
	}
	if root.key != "VS_VERSION_INFO" {
		return nil, fmt.Errorf("version resource: root key %q, want VS_VERSION_INFO", root.key)
	}
	var tables []viTable
	p.each(root, func(sfi viNode) bool {
		if sfi.key != "StringFileInfo" {
			return true
		}
		p.each(sfi, func(table viNode) bool {
			t := viTable{lang: table.key}
			p.each(table, func(s viNode) bool {
				// The first String of a key in a table counts, even empty.
				if i := versionKeyIndex(s.key); i >= 0 && !t.set[i] {
					t.values[i], t.set[i] = stringValue(s), true
				}
				return true
			})
			tables = append(tables, t)
			return true
		})
		return true
	})
	walkErr := p.err
	v := &VersionInfo{}
	order := make([]int, 0, len(tables))
	for i := range tables {
		if tables[i].english() {
			order = append(order, i)
		}
	}
	for i := range tables {
		if !tables[i].english() {
			order = append(order, i)
		}
	}
	for k, key := range versionKeys {
		for _, i := range order {
			if s := tables[i].values[k]; s != "" && v.get(key) == "" {
				v.set(key, s)
			}
		}
	}
	if walkErr != nil {
		v.Error = "version resource: " + walkErr.Error()
		return v, walkErr
	}
	return v, nil
}

// viTable is what one StringTable of a version resource says of
// versionKeys.
type viTable struct {
	lang   string // the table's key: language and code page, e.g. "040904b0"
	values [len(versionKeys)]string
	set    [len(versionKeys)]bool
}

// english reports whether the table is the U.S. English one (0409).
func (t *viTable) english() bool {
	return strings.HasPrefix(t.lang, "0409")
}

// viParser reads VS_VERSIONINFO nodes, counting them against
// maxVersionInfoNodes and keeping the first error.
type viParser struct {
	data  []byte
	nodes int
	level int
	err   error
}

// node reads the node at off, which must end by end. Offsets are relative
// to the start of the resource, against which the format's 32-bit
// alignment is reckoned.
func (p *viParser) node(off, end int) (viNode, error) {
	p.nodes++
	if p.nodes > maxVersionInfoNodes {
		return viNode{}, fmt.Errorf("more than %d nodes", maxVersionInfoNodes)
	}
	if off+6 > end {
		return viNode{}, fmt.Errorf("node at 0x%x: header runs past its parent (0x%x)", off, end)
	}
	length := int(binary.LittleEndian.Uint16(p.data[off:]))
	valueLen := int(binary.LittleEndian.Uint16(p.data[off+2:]))
	typ := binary.LittleEndian.Uint16(p.data[off+4:])
	if length < 6 || off+length > end {
		return viNode{}, fmt.Errorf("node at 0x%x: length %d does not fit in its parent (0x%x)", off, length, end)
	}
	nodeEnd := off + length
	// The key: NUL-terminated UTF-16 after the header.
	k := off + 6
	for {
		if k+2 > nodeEnd {
			return viNode{}, fmt.Errorf("node at 0x%x: key has no terminator", off)
		}
		u := binary.LittleEndian.Uint16(p.data[k:])
		k += 2
		if u == 0 {
			break
		}
	}
	n := viNode{key: nodeKey(p.data[off+6 : k-2]), text: typ == 1}
	v := align4(k)
	vbytes := valueLen
	if n.text {
		vbytes = 2 * valueLen // wValueLength counts UTF-16 units for text
	}
	if v > nodeEnd {
		v = nodeEnd
	}
	if vbytes > nodeEnd-v {
		if !n.text {
			return viNode{}, fmt.Errorf("node %q at 0x%x: value of %d bytes runs past the node", n.key, off, vbytes)
		}
		vbytes = nodeEnd - v // writers disagree on whether it counts bytes or units
	}
	n.value = p.data[v : v+vbytes]
	c := min(align4(v+vbytes), nodeEnd)
	n.children = p.data[c:nodeEnd]
	n.childOff = c
	return n, nil
}

// each calls fn for every child of n, in order, until fn returns false.
// A damaged child stops the iteration and records the error.
func (p *viParser) each(n viNode, fn func(viNode) bool) {
	if p.err != nil {
		return
	}
	if p.level >= maxVersionInfoLevel {
		p.err = fmt.Errorf("nested deeper than %d levels", maxVersionInfoLevel)
		return
	}
	p.level++
	defer func() { p.level-- }()
	end := n.childOff + len(n.children)
	for off := n.childOff; off < end; {
		if end-off < 6 && allZero(p.data[off:end]) {
			return // trailing padding
		}
		c, err := p.node(off, end)
		if err != nil {
			p.err = err
			return
		}
		if !fn(c) || p.err != nil {
			return
		}
		length := int(binary.LittleEndian.Uint16(p.data[off:]))
		off = align4(off + length)
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func align4(n int) int { return (n + 3) &^ 3 }

// stringValue decodes a String node's value, up to its first NUL.
func stringValue(n viNode) string {
	return decodeUTF16(n.value)
}

// nodeKey decodes the key of a version resource node: little-endian UTF-16
// code units without NUL. The keys of the format and of the usual strings
// are returned without allocating.
func nodeKey(b []byte) string {
	var buf [24]byte
	n := len(b) / 2
	if n > len(buf) {
		return decodeUTF16Units(b)
	}
	for i := range n {
		u := binary.LittleEndian.Uint16(b[2*i:])
		if u >= utf8.RuneSelf {
			return decodeUTF16Units(b)
		}
		buf[i] = byte(u)
	}
	switch key := buf[:n]; string(key) {
	case "VS_VERSION_INFO":
		return "VS_VERSION_INFO"
	case "StringFileInfo":
		return "StringFileInfo"
	case "VarFileInfo":
		return "VarFileInfo"
	case "Translation":
		return "Translation"
	case "CompanyName":
		return "CompanyName"
	case "ProductName":
		return "ProductName"
	case "FileDescription":
		return "FileDescription"
	case "FileVersion":
		return "FileVersion"
	case "OriginalFilename":
		return "OriginalFilename"
	case "ProductVersion":
		return "ProductVersion"
	case "InternalName":
		return "InternalName"
	case "LegalCopyright":
		return "LegalCopyright"
	case "LegalTrademarks":
		return "LegalTrademarks"
	case "Comments":
		return "Comments"
	default:
		return string(key)
	}
}

// decodeUTF16Units decodes little-endian UTF-16 code units; lone
// surrogates become U+FFFD.
func decodeUTF16Units(b []byte) string {
	units := make([]uint16, len(b)/2)
	for i := range units {
		units[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(units))
}

// decodeUTF16 decodes little-endian UTF-16 up to the first NUL unit, and
// trims white space. Lone surrogates become U+FFFD.
func decodeUTF16(b []byte) string {
	n, ascii := 0, true
	for ; n+1 < len(b); n += 2 {
		u := binary.LittleEndian.Uint16(b[n:])
		if u == 0 {
			break
		}
		ascii = ascii && u < utf8.RuneSelf
	}
	if ascii {
		var sb strings.Builder
		sb.Grow(n / 2)
		for i := 0; i < n; i += 2 {
			sb.WriteByte(b[i])
		}
		return strings.TrimSpace(sb.String())
	}
	units := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u := binary.LittleEndian.Uint16(b[i:])
		if u == 0 {
			break
		}
		units = append(units, u)
	}
	return strings.TrimSpace(string(utf16.Decode(units)))
}
