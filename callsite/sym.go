package callsite

import "github.com/hvcicheck/hvcicheck/dataflow"

type symKind uint8

const (
	symAPI      symKind = iota + 1 // the address of an API: an import or a routine looked up by name
	symWDFTable                    // the value of WdfFunctions_010XX: the KMDF function table
	symWDFFunc                     // an entry of the KMDF function table
	symGlobal                      // the value of a writable global (rva, index = width), resolved when it matters
)

// symInfo is what a client symbol stands for.
type symInfo struct {
	kind  symKind
	name  string
	index int
	rva   uint32
}

// sym returns the symbol of info, allocating it on first use.
func (im *image) sym(info symInfo) dataflow.Sym {
	if s, ok := im.symIndex[info]; ok {
		return s
	}
	s := dataflow.SymClient + dataflow.Sym(len(im.syms))
	im.syms = append(im.syms, info)
	im.symIndex[info] = s
	return s
}

// symInfo returns what a client symbol stands for.
func (im *image) symInfo(s dataflow.Sym) (symInfo, bool) {
	if s < dataflow.SymClient || int(s-dataflow.SymClient) >= len(im.syms) {
		return symInfo{}, false
	}
	return im.syms[s-dataflow.SymClient], true
}
