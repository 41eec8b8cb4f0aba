package checks

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/hvcicheck/hvcicheck/arch/arm64"
	"github.com/hvcicheck/hvcicheck/arch/x86"
	"github.com/hvcicheck/hvcicheck/callsite"
	"github.com/hvcicheck/hvcicheck/debuginfo"
	"github.com/hvcicheck/hvcicheck/ir"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// CallSites returns the call-site analysis of the image (computed once): the
// calls of checked kernel APIs and the verdict on their arguments (none for
// an image SetKind says is not kernel-mode). It returns nil and an error for
// an architecture without a front end.
func (fc *Facts) CallSites() (*callsite.Report, error) {
	fc.callsOnce.Do(func() { fc.calls, fc.callsErr = fc.analyzeCalls() })
	return fc.calls, fc.callsErr
}

func (fc *Facts) analyzeCalls() (*callsite.Report, error) {
	if fc.kind != "" && fc.kind != peimage.KindKernelDriver {
		return &callsite.Report{}, nil // see SetKind
	}
	dec, err := decoderFor(fc.file)
	if err != nil {
		return nil, err
	}
	opts := fc.callOpts
	if opts.Imports == nil {
		opts.Imports, opts.ImportsErr = fc.Imports()
	}
	return callsite.Analyze(fc.file, dec, opts)
}

// decoderFor returns the front end for the image's machine.
func decoderFor(f *peimage.File) (ir.Decoder, error) {
	base, size := f.Optional.ImageBase, f.Optional.SizeOfImage
	switch f.Machine {
	case peimage.MachineAMD64:
		return x86.New(64, base, size), nil
	case peimage.MachineI386:
		return x86.New(32, base, size), nil
	case peimage.MachineARM64:
		return arm64.New(base, size), nil
	}
	return nil, fmt.Errorf("call-site analysis does not support machine %s yet: %w", peimage.MachineName(f.Machine), errors.ErrUnsupported)
}

// reportCallSites reports the call-site findings under code.
func reportCallSites(p *Pass, code string) error {
	rep, err := p.Facts.CallSites()
	if rep == nil {
		return err
	}
	for _, cf := range rep.Findings {
		if cf.Code != code {
			continue
		}
		f := callSiteFinding(p.File, cf)
		addSource(&f, p.Facts.Lines(), cf)
		p.Report(f)
	}
	return err
}

func callSiteFinding(f *peimage.File, cf callsite.Finding) Finding {
	out := Finding{
		Message:   cf.Message,
		Fix:       cf.Fix,
		RVA:       ptr(cf.Site),
		API:       cf.API,
		Value:     cf.Value,
		Function:  ptr(cf.Function),
		Tag:       cf.Tag,
		Certainty: cf.Certainty,
		Path:      cf.Path,
	}
	if off, ok := f.FileOffset(cf.Site); ok {
		out.FileOffset = ptr(off)
	}
	return out
}

// hopName matches a function in a call chain, "sub_1000@", as package
// callsite writes it.
var hopName = regexp.MustCompile(`sub_[0-9a-f]+@`)

// addSource names the function and the source line of a call-site finding
// where the image has DWARF.
func addSource(f *Finding, lt *debuginfo.LineTable, cf callsite.Finding) {
	if lt == nil {
		return
	}
	f.FunctionName = lt.Function(cf.Function)
	name := func(hop string) string {
		fn, err := strconv.ParseUint(hop[len("sub_"):len(hop)-1], 16, 32)
		if n := lt.Function(uint32(fn)); err == nil && n != "" {
			return n + "@"
		}
		return hop
	}
	for i := range f.Path {
		f.Path[i] = hopName.ReplaceAllStringFunc(f.Path[i], name)
	}
	f.Message = hopName.ReplaceAllStringFunc(f.Message, name)
	if ps := lt.Lookup(cf.Site); len(ps) > 0 {
		outer := ps[len(ps)-1] // the line in the function itself, outside inlined helpers
		f.Source = &Source{File: outer.File, Line: outer.Line}
	}
}
