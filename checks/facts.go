package checks

import (
	"sync"

	"github.com/hvcicheck/hvcicheck/peimage"
)

// Facts holds what several analyzers need from one image, computed once on
// first use.
type Facts struct {
	file *peimage.File

	importsOnce sync.Once
	imports     []peimage.ImportedDLL
	importsErr  error
}

// NewFacts returns the lazily computed facts of f.
func NewFacts(f *peimage.File) *Facts { return &Facts{file: f} }

// Imports returns the image's import descriptors (what could be read) and
// the error that stopped reading them, if any.
func (fc *Facts) Imports() ([]peimage.ImportedDLL, error) {
	fc.importsOnce.Do(func() { fc.imports, fc.importsErr = fc.file.Imports() })
	return fc.imports, fc.importsErr
}

// ImportedDLLNames returns the imported DLL names.
func (fc *Facts) ImportedDLLNames() []string {
	dlls, _ := fc.Imports()
	names := make([]string, len(dlls))
	for i, d := range dlls {
		names[i] = d.Name
	}
	return names
}
