package callsite

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hvcicheck/hvcicheck/dataflow"
	"github.com/hvcicheck/hvcicheck/ir"
	"github.com/hvcicheck/hvcicheck/peimage"
)

// Options bound and tune one image's analysis. Zero fields take defaults.
type Options struct {
	// MaxFunctions bounds the functions decoded per image.
	MaxFunctions int
	// MaxWrapperDepth bounds how many wrapper levels a value is followed up.
	MaxWrapperDepth int
	// Engine bounds each function's data flow.
	Engine dataflow.Limits
	// Imports are the image's imports when the caller has read them already
	// (nil: Analyze reads them), and ImportsErr what stopped that reading.
	Imports    []peimage.ImportedDLL
	ImportsErr error
	// FullDataFlow runs the full data flow over every function, without
	// the quick pass that judges calls from their blocks alone (quick.go):
	// slower, with the same results.
	FullDataFlow bool
	// Workspace, when set, lends the analysis the storage earlier ones
	// grew, and keeps this one's for the next (see Workspace): a caller
	// analysing many images on one goroutine passes the same one each
	// time. Nil: the analysis allocates its own.
	Workspace *Workspace
}

func (o Options) withDefaults() Options {
	if o.MaxFunctions <= 0 {
		o.MaxFunctions = 20000
	}
	if o.MaxWrapperDepth <= 0 {
		o.MaxWrapperDepth = 6
	}
	return o
}

// Finding is one call that asks for executable memory.
type Finding struct {
	Code string
	API  string
	// Site is the RVA of the call (or tail jump) where the executable value
	// enters: the API call itself, or the call of the outermost wrapper.
	Site uint32
	// Function is the RVA of the function holding Site.
	Function uint32
	// Value is the executable argument value (nil for APIs that are always
	// executable).
	Value     *uint64
	Tag       string
	Certainty string
	// Path is the call chain from Site to the API (empty for a direct call).
	Path    []string
	Message string
	Fix     string
}

// Unresolved is a checked call whose argument could not be computed: it is
// neither reported nor counted clean.
type Unresolved struct {
	Site uint32
	API  string
}

// Stats describes the cost and completeness of an image's analysis.
type Stats struct {
	Functions    int // functions analysed
	Instructions int // machine instructions decoded
	// QuickFunctions counts the functions judged from their call blocks
	// alone (the quick pass), without the full data flow.
	QuickFunctions int
	// Truncated is set when a limit stopped part of the analysis.
	Truncated  bool
	Unresolved []Unresolved
	Notes      []string
}

// Report is the outcome of analysing one image.
type Report struct {
	Findings []Finding
	Stats    Stats
}

// Analyze finds the checked API calls of f, decoded by dec, and judges
// their arguments.
func Analyze(f *peimage.File, dec ir.Decoder, opts Options) (*Report, error) {
	opts = opts.withDefaults()
	imports, ierr := opts.Imports, opts.ImportsErr
	if imports == nil && ierr == nil {
		imports, ierr = f.Imports()
	}
	var stats Stats
	var limitErr error // a limit cut the imports: the caller must not call the image clean
	if ierr != nil {
		stats.Notes = append(stats.Notes, "imports partly unreadable: "+ierr.Error())
		var le *peimage.LimitError
		if errors.As(ierr, &le) {
			stats.Truncated = true
			limitErr = fmt.Errorf("call-site analysis: imports: %w", ierr)
		}
	}
	ws := opts.Workspace
	if ws == nil {
		ws = &Workspace{}
	}
	prev := ws.begin()
	if !importsChecked(ws.table, imports) {
		ws.end(prev)
		return &Report{Stats: stats}, limitErr // nothing to look for: no code is read
	}
	im, err := newImage(f, dec, opts, ws, prev)
	if err != nil {
		ws.end(prev)
		return nil, fmt.Errorf("call-site analysis: %w", err)
	}
	im.stats.Notes = append(stats.Notes, im.stats.Notes...)
	im.stats.Truncated = im.stats.Truncated || stats.Truncated
	rep := im.findCalls(imports)
	// Not deferred: after a panic the workspace stays busy, and the next
	// analysis starts it over (Workspace.begin).
	ws.end(im)
	return rep, limitErr
}

// findCalls finds and judges the image's checked calls.
func (im *image) findCalls(imports []peimage.ImportedDLL) *Report {
	w := &walker{im: im, summaries: map[uint32][]pending{}, seen: map[string]bool{}, processed: map[uint32]bool{},
		quickDone: map[uint32]bool{}, apiGlobals: map[uint32]bool{}}
	seeds := w.seedFromImports(imports)
	if len(seeds) == 0 {
		return &Report{Stats: im.stats}
	}
	w.run(seeds)
	sort.Slice(w.findings, func(i, j int) bool {
		a, b := w.findings[i], w.findings[j]
		if a.Site != b.Site {
			return a.Site < b.Site
		}
		return a.API < b.API
	})
	return &Report{Findings: w.findings, Stats: im.stats}
}

// importsChecked reports whether the image imports a checked API or one of
// the APIs that lead to them (MmGetSystemRoutineAddress, WdfVersionBind).
func importsChecked(t *Table, dlls []peimage.ImportedDLL) bool {
	for _, d := range dlls {
		for _, fn := range d.Functions {
			switch strings.ToLower(fn.Name) {
			case "mmgetsystemroutineaddress", "wdfversionbind":
				return true
			}
			if t.Lookup(fn.Name) != nil {
				return true
			}
		}
	}
	return false
}

// pending is a checked call's relevant arguments, expressed in the inputs
// of the function being looked at (a wrapper summary) or resolved.
type pending struct {
	api            *API
	arg, mode, tag dataflow.Value
	// exact says which of arg, mode and tag (exactArg, exactMode, exactTag)
	// are the full analysis's values (from a quick pass's tracked run).
	exact uint8
	chain []string // wrapper calls between this function and the API
	inner uint32   // site of the API call (for de-duplication)
	depth int
}

// The bits of pending.exact.
const (
	exactArg uint8 = 1 << iota
	exactMode
	exactTag
)

type walker struct {
	im        *image
	summaries map[uint32][]pending // wrapper function → the checks it forwards
	seen      map[string]bool
	processed map[uint32]bool
	queue     []uint32
	findings  []Finding
	// quickDone holds the functions the quick pass judged; apiGlobals the
	// globals found to hold a checked API's address; sites the code
	// addresses that may reference such an address (nil: not computed).
	quickDone  map[uint32]bool
	apiGlobals map[uint32]bool
	sites      []uint32
	// quickCalls is the buffer of the call events runCallBlocks records.
	quickCalls []callEvent
	// checks is the stack of the checks being judged (checksOf).
	checks []quickCheck
}

// seedFromImports records every import's IAT slot and returns the functions
// that reference a slot of a checked API (or of the APIs that lead to one).
func (w *walker) seedFromImports(dlls []peimage.ImportedDLL) []uint32 {
	im := w.im
	var checked, bindSlots []uint32
	for _, d := range dlls {
		for _, fn := range d.Functions {
			if fn.Name == "" {
				continue
			}
			im.slotName[fn.SlotRVA] = fn.Name
			lower := strings.ToLower(fn.Name)
			switch {
			case lower == "wdfversionbind":
				bindSlots = append(bindSlots, fn.SlotRVA)
			case im.table.Lookup(fn.Name) != nil || lower == "mmgetsystemroutineaddress":
				checked = append(checked, fn.SlotRVA)
			}
		}
	}
	if len(checked) == 0 && len(bindSlots) == 0 {
		return nil
	}
	var sites, bind []uint32
	for _, s := range checked {
		sites = append(sites, im.referrers(s)...)
	}
	for _, s := range bindSlots {
		bind = append(bind, im.referrers(s)...)
	}
	if w.findWDFTable(w.withThunkCallers(bind)) {
		clear(im.funcMemo) // analysed before the table was known
		for rva := range im.wdfTable {
			sites = append(sites, im.referrersDeep(rva)...)
		}
	}
	return w.withThunkCallers(sites)
}

// withThunkCallers adds, for every site that is an import thunk (a
// `jmp [slot]` that is called directly), the functions that call the thunk.
func (w *walker) withThunkCallers(sites []uint32) []uint32 {
	im := w.im
	out := im.functionsAt(sites)
	for _, s := range sites {
		for _, start := range im.thunkStarts(s) {
			callers := im.callersOf(start)
			if len(callers) == 0 || !im.starts[start] {
				continue
			}
			if c := im.resolveCode(start, nil, 0); c.name != "" && c.function == 0 {
				out = append(out, start)
				out = append(out, im.functionsAt(callers)...)
			}
		}
	}
	return out
}

// findWDFTable analyses fns, the callers of WdfVersionBind, and records the
// WdfFunctions pointer named by the WDF_BIND_INFO they pass.
func (w *walker) findWDFTable(fns []uint32) bool {
	im := w.im
	p := uint32(im.arch.PtrSize)
	found := false
	for _, fn := range fns {
		fi := im.analyze(fn)
		for i := range fi.calls {
			ev := &fi.calls[i]
			if !strings.EqualFold(im.resolve(ev).name, "WdfVersionBind") {
				continue
			}
			info, ok := ev.args[2].Const()
			if !ok || info < im.base || info-im.base >= uint64(im.size) {
				continue
			}
			// WDF_BIND_INFO: ULONG Size, PWSTR Component, WDF_VERSION (3 ULONGs),
			// ULONG FuncCount, WDFFUNC *FuncTable: at 24 on x86, 32 on x64.
			off := 24 + 2*(p-4)
			tbl, ok := im.fileValue(uint32(info-im.base)+off, uint8(p)).Const()
			if ok && tbl >= im.base && tbl-im.base < uint64(im.size) {
				im.wdfTable[uint32(tbl-im.base)] = true
				found = true
			}
		}
	}
	return found
}

// run analyses the queue and every function the findings lead to, until
// nothing new turns up.
func (w *walker) run(seeds []uint32) {
	w.queue = append(w.queue, seeds...)
	for len(w.queue) > 0 {
		fn := w.queue[0]
		w.queue = w.queue[1:]
		w.process(fn)
	}
}

// process judges every call of one function (analysing it first, once).
func (w *walker) process(fn uint32) {
	im := w.im
	w.processed[fn] = true
	if _, analysed := im.funcMemo[fn]; !analysed && w.quick(fn) {
		return
	}
	fi := im.analyze(fn)
	for i := range fi.calls {
		ev := &fi.calls[i]
		c := im.resolve(ev)
		switch {
		case c.api != nil:
			w.check(fi, ev, w.direct(ev, c.api))
		case c.function != 0:
			for _, s := range w.summaries[c.function] {
				w.check(fi, ev, w.through(ev, s, c.function))
			}
		}
	}
	w.noteStores(fi.stores)
}

// noteStores queues the functions that read a global one of stores puts a
// checked API's address in.
func (w *walker) noteStores(stores []storeEvent) {
	im := w.im
	for _, s := range stores {
		if w.holdsCheckedAPI(s.value) {
			w.requeueReaders(s.rva)
			w.enqueue(im.functionsAt(im.referrersDeep(s.rva)))
		}
	}
}

func (w *walker) enqueue(fns []uint32) {
	for _, f := range fns {
		if !w.processed[f] {
			w.processed[f] = true
			w.queue = append(w.queue, f)
		}
	}
}

// holdsCheckedAPI reports whether v is the address of a checked API.
func (w *walker) holdsCheckedAPI(v dataflow.Value) bool {
	s, off, ok := w.im.concrete(v).Pointer()
	if !ok || off != 0 {
		return false
	}
	info, ok := w.im.symInfo(s)
	return ok && info.kind == symAPI && w.im.table.Lookup(info.name) != nil
}

// direct returns the checked arguments of a call of the API itself.
func (w *walker) direct(ev *callEvent, a *API) pending {
	x86 := w.im.arch.PtrSize == 4
	p := pending{api: a, inner: ev.site}
	arg := func(i int, bit uint8) dataflow.Value {
		if i < 0 {
			return dataflow.Unknown
		}
		if s := a.Slot(i, x86); s < maxArgs {
			if ev.exact&(1<<s) != 0 {
				p.exact |= bit
			}
			return ev.args[s]
		}
		return dataflow.Unknown
	}
	p.arg, p.mode, p.tag = arg(a.Arg, exactArg), arg(a.ModeArg, exactMode), arg(a.TagArg, exactTag)
	return p
}

// through returns the checked arguments of a call of wrapper fn, whose
// summary is s: the wrapper's inputs replaced by the actual arguments.
func (w *walker) through(ev *callEvent, s pending, fn uint32) pending {
	out := s
	out.exact = 0
	// subst replaces an input of the wrapper by the call's value (exact
	// where the call's argument is; a register input's never is: the
	// registers' exactness is not recorded).
	subst := func(v dataflow.Value, bit uint8) dataflow.Value {
		sym, _, _, ok := v.Symbol()
		if !ok {
			out.exact |= s.exact & bit
			return v
		}
		if r, ok := sym.InputRegister(); ok {
			if r >= len(ev.regs) {
				return dataflow.Unknown
			}
			return v.Apply(ev.regs[r])
		}
		k, ok := sym.InputIndex()
		if !ok {
			out.exact |= s.exact & bit
			return v
		}
		if k >= maxArgs {
			return dataflow.Unknown
		}
		if ev.exact&(1<<k) != 0 {
			out.exact |= bit
		}
		return v.Apply(ev.args[k])
	}
	out.arg, out.mode, out.tag = subst(s.arg, exactArg), subst(s.mode, exactMode), subst(s.tag, exactTag)
	out.depth = s.depth + 1
	return out
}

// isInput reports whether v depends on one of the function's inputs: an
// argument slot or a register's entry value.
func isInput(v dataflow.Value) bool {
	s, _, _, ok := v.Symbol()
	if !ok {
		return false
	}
	_, slot := s.InputIndex()
	_, reg := s.InputRegister()
	return slot || reg
}

// check judges one checked call, or records the function as a wrapper when
// the decisive value comes from its caller.
func (w *walker) check(fi *funcInfo, ev *callEvent, p pending) {
	if isInput(p.arg) || (p.api.ModeArg >= 0 && isInput(p.mode)) {
		w.addSummary(fi, ev, p)
		return
	}
	p.arg, p.mode, p.tag = w.im.concrete(p.arg), w.im.concrete(p.mode), w.im.concrete(p.tag)
	if p.api.Rule == RuleAlways && p.api.ModeArg < 0 {
		w.report(fi, ev, p, verdict{exec: true, definite: true}, false)
		return
	}
	var v verdict
	if p.api.ModeArg >= 0 {
		may, definite := mayBeKernelMode(p.mode)
		if !may {
			return
		}
		if p.api.Rule == RuleAlways {
			w.report(fi, ev, p, verdict{exec: true, definite: definite}, false)
			return
		}
		v = judge(p.api.Rule, p.arg)
		v.definite = v.definite && definite
	} else {
		v = judge(p.api.Rule, p.arg)
	}
	if v.unresolved {
		w.im.stats.Unresolved = append(w.im.stats.Unresolved, Unresolved{Site: ev.site, API: p.api.Name})
		return
	}
	if v.exec {
		w.report(fi, ev, p, v, true)
	}
}

// addSummary records fi's function as a wrapper of p and queues its
// callers (and re-judges those already processed).
func (w *walker) addSummary(fi *funcInfo, ev *callEvent, p pending) {
	fn := fi.fn.Start
	if p.depth >= w.im.opts.MaxWrapperDepth {
		w.im.stats.Truncated = true // the value comes from further up than the analysis follows
		return
	}
	key := fmt.Sprintf("%x/%x/%s/%d", fn, p.inner, p.api.Name, len(p.chain))
	if w.seen["sum:"+key] {
		return
	}
	w.seen["sum:"+key] = true
	if !(ev.tail && ev.site == fn) { // a pure thunk adds nothing to the chain
		p.chain = append([]string{fmt.Sprintf("sub_%x@%x", fn, ev.site)}, p.chain...)
		p.chain = p.chain[:len(p.chain):len(p.chain)]
	}
	w.summaries[fn] = append(w.summaries[fn], p)
	callers := w.im.functionsAt(w.im.callersOf(fn))
	for _, c := range callers {
		if w.processed[c] {
			w.reprocess(c, fn)
		}
	}
	w.enqueue(callers)
}

// reprocess judges again the calls of caller that reach wrapper: by the
// quick pass again where it judged caller before.
func (w *walker) reprocess(caller, wrapper uint32) {
	if w.quickDone[caller] {
		if w.requick(caller, wrapper) {
			return
		}
		delete(w.quickDone, caller)
	}
	fi := w.im.analyze(caller)
	for i := range fi.calls {
		ev := &fi.calls[i]
		if w.im.resolve(ev).function != wrapper {
			continue
		}
		for _, s := range w.summaries[wrapper] {
			w.check(fi, ev, w.through(ev, s, wrapper))
		}
	}
}
