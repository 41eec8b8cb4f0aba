package checks

import (
	"fmt"
	"strings"
	"sync"

	"github.com/hvcicheck/hvcicheck/callsite"
	"github.com/hvcicheck/hvcicheck/debuginfo"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// Facts holds what several analyzers need from one image, computed once on
// first use.
type Facts struct {
	file *peimage.File

	importsOnce sync.Once
	imports     []peimage.ImportedDLL
	importsErr  error
	importsDone bool
	// namesErr is what stopped reading the DLL names alone (for
	// classification), where they were read without the functions.
	namesErr error

	// kind is what the image is for, where the caller classified it
	// (SetKind); "" where it did not.
	kind peimage.Kind

	callOpts  callsite.Options
	callsOnce sync.Once
	calls     *callsite.Report
	callsErr  error

	linesOnce sync.Once
	lines     *debuginfo.LineTable
}

// Lines returns the image's DWARF line table, or nil where it has none (or
// an unreadable one: source positions are a convenience, never an error).
func (fc *Facts) Lines() *debuginfo.LineTable {
	fc.linesOnce.Do(func() { fc.lines, _ = debuginfo.NewLineTable(fc.file) })
	return fc.lines
}

// NewFacts returns the lazily computed facts of f.
func NewFacts(f *peimage.File) *Facts { return &Facts{file: f} }

// NewFactsWith returns the lazily computed facts of f, with the call-site
// analysis bounded by opts.
func NewFactsWith(f *peimage.File, opts callsite.Options) *Facts {
	return &Facts{file: f, callOpts: opts}
}

// Imports returns the image's import descriptors (what could be read) and
// the error that stopped reading them, if any.
func (fc *Facts) Imports() ([]peimage.ImportedDLL, error) {
	fc.importsOnce.Do(func() {
		fc.imports, fc.importsErr = fc.file.Imports()
		fc.importsDone = true
	})
	return fc.imports, fc.importsErr
}

// ImportedDLLNames returns the imported DLL names: from the imports where
// they were read already, else from the import descriptors alone.
func (fc *Facts) ImportedDLLNames() []string {
	if fc.importsRead() {
		dlls, _ := fc.Imports()
		names := make([]string, len(dlls))
		for i, d := range dlls {
			names[i] = d.Name
		}
		return names
	}
	names, err := fc.file.ImportedDLLNames()
	fc.namesErr = err
	return names
}

// ImportsErr returns the error that stopped reading the imports, as far as
// they have been read: all of them where Imports was called (by a rule),
// else the DLL names read for ImportedDLLNames; nil where neither was read.
// A rule that needs no imports does not make the scan read them only to
// learn whether a limit would have cut them.
func (fc *Facts) ImportsErr() error {
	if fc.importsRead() {
		return fc.importsErr
	}
	return fc.namesErr
}

// importsRead reports whether Imports has been computed. Facts belong to
// one image analysed by one goroutine, so the flag needs no lock.
func (fc *Facts) importsRead() bool { return fc.importsDone }

// SetKind records what the image is for (peimage.File.Classify). The
// call-site rules then look at kernel-mode images only: Driver Verifier
// checks drivers, and executable memory a user-mode or EFI image asks for
// (ntdll's NtAllocateVirtualMemory in a JIT) is no concern of memory
// integrity. Without it every image is analysed.
func (fc *Facts) SetKind(k peimage.Kind) { fc.kind = k }

// File returns the image the facts are about.
func (fc *Facts) File() *peimage.File { return fc.file }

// AnalysisNotes says what the call-site analysis, if it ran, could not do:
// calls whose arguments it could not compute (neither reported nor counted
// clean) and whether a limit cut it short.
func (fc *Facts) AnalysisNotes() (notes []string, limitReached bool) {
	if fc.calls == nil {
		return nil, false
	}
	st := fc.calls.Stats
	if n := len(st.Unresolved); n > 0 {
		var apis []string
		for i, u := range st.Unresolved {
			if i == 8 {
				apis = append(apis, "…")
				break
			}
			apis = append(apis, fmt.Sprintf("%s at 0x%x", u.API, u.Site))
		}
		notes = append(notes, fmt.Sprintf("%d checked call(s) with an argument the analysis could not compute (not reported, not counted clean): %s", n, strings.Join(apis, ", ")))
	}
	notes = append(notes, st.Notes...)
	if st.Truncated {
		notes = append(notes, "call-site analysis limit reached: some code was not analysed")
	}
	return notes, st.Truncated
}
