package report

import (
	"strconv"
	"unicode/utf8"

	"github.com/hvcicheck/hvcicheck/checks"
	"github.com/hvcicheck/hvcicheck/peimage"
	"github.com/hvcicheck/hvcicheck/scan"
)

// The JSONL handler writes a line per file, often thousands a second: it
// encodes FILE objects by hand rather than through encoding/json's
// reflection, with exactly the bytes json.Encoder (SetEscapeHTML(false))
// writes for them, field for field (TestAppendFileResultMatchesEncodingJSON
// holds it to that, every field filled).

// jsonObject appends the members of one JSON object to b.
type jsonObject struct {
	b     []byte
	count int
}

func openObject(b []byte) jsonObject { return jsonObject{b: append(b, '{')} }

func (o *jsonObject) close() []byte { return append(o.b, '}') }

// key appends the member name k (plain ASCII, as every field name is).
func (o *jsonObject) key(k string) {
	if o.count > 0 {
		o.b = append(o.b, ',')
	}
	o.count++
	o.b = append(o.b, '"')
	o.b = append(o.b, k...)
	o.b = append(o.b, '"', ':')
}

func (o *jsonObject) str(k, v string) {
	o.key(k)
	o.b = appendJSONString(o.b, v)
}

// strOmit is str for a field tagged omitempty.
func (o *jsonObject) strOmit(k, v string) {
	if v != "" {
		o.str(k, v)
	}
}

func (o *jsonObject) int(k string, v int64) {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
}

func (o *jsonObject) uint(k string, v uint64) {
	o.key(k)
	o.b = strconv.AppendUint(o.b, v, 10)
}

func (o *jsonObject) bool(k string, v bool) {
	o.key(k)
	o.b = strconv.AppendBool(o.b, v)
}

// boolOmit is bool for a field tagged omitempty.
func (o *jsonObject) boolOmit(k string, v bool) {
	if v {
		o.bool(k, v)
	}
}

// strings appends a string array; a nil one is null.
func (o *jsonObject) strings(k string, v []string) {
	o.key(k)
	if v == nil {
		o.b = append(o.b, "null"...)
		return
	}
	o.b = append(o.b, '[')
	for i, s := range v {
		if i > 0 {
			o.b = append(o.b, ',')
		}
		o.b = appendJSONString(o.b, s)
	}
	o.b = append(o.b, ']')
}

// stringsOmit is strings for a field tagged omitempty.
func (o *jsonObject) stringsOmit(k string, v []string) {
	if len(v) > 0 {
		o.strings(k, v)
	}
}

// appendFileResult appends r as encoding/json encodes a scan.FileResult.
func appendFileResult(b []byte, r *scan.FileResult) []byte {
	o := openObject(b)
	o.str("path", r.Path)
	o.str("sha256", r.SHA256)
	o.int("size", r.Size)
	o.str("machine", r.Machine)
	o.str("kind", r.Kind)
	if v := r.Version; v != nil {
		o.key("version_info")
		o.b = appendVersionInfo(o.b, v)
	}
	if a := r.Authenticode; a != nil {
		o.key("authenticode")
		o.b = appendAuthenticode(o.b, a)
	}
	o.key("findings")
	o.b = appendFindings(o.b, r.Findings)
	o.strOmit("error", r.Error)
	o.stringsOmit("anomalies", r.Anomalies)
	o.boolOmit("limit_reached", r.LimitReached)
	o.stringsOmit("skipped_rules", r.SkippedRules)
	return o.close()
}

func appendVersionInfo(b []byte, v *peimage.VersionInfo) []byte {
	o := openObject(b)
	o.strOmit("company_name", v.CompanyName)
	o.strOmit("product_name", v.ProductName)
	o.strOmit("file_description", v.FileDescription)
	o.strOmit("file_version", v.FileVersion)
	o.strOmit("original_filename", v.OriginalFilename)
	o.strOmit("error", v.Error)
	return o.close()
}

func appendAuthenticode(b []byte, a *peimage.AuthenticodeHashes) []byte {
	o := openObject(b)
	o.strOmit("sha1", a.SHA1)
	o.strOmit("sha256", a.SHA256)
	o.boolOmit("signed", a.Signed)
	o.strOmit("error", a.Error)
	return o.close()
}

// appendFindings appends fs as an array; nil is null.
func appendFindings(b []byte, fs []checks.Finding) []byte {
	if fs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendFinding(b, &fs[i])
	}
	return append(b, ']')
}

func appendFinding(b []byte, f *checks.Finding) []byte {
	o := openObject(b)
	o.strOmit("code", f.Code)
	o.str("rule", f.Rule)
	o.str("message", f.Message)
	o.strOmit("fix", f.Fix)
	o.bool("blocks_memory_integrity", f.Blocking)
	o.strOmit("section", f.Section)
	if f.SectionIndex != nil {
		o.int("section_index", int64(*f.SectionIndex))
	}
	if f.HeaderOffset != nil {
		o.int("header_offset", *f.HeaderOffset)
	}
	if f.Attributes != nil {
		o.uint("characteristics", uint64(*f.Attributes))
	}
	o.boolOmit("discardable", f.Discardable)
	appendFindingPlace(&o, f)
	return o.close()
}

// appendFindingPlace appends the location and call-site fields of f.
func appendFindingPlace(o *jsonObject, f *checks.Finding) {
	if f.RVA != nil {
		o.uint("rva", uint64(*f.RVA))
	}
	if f.RVAEnd != nil {
		o.uint("rva_end", uint64(*f.RVAEnd))
	}
	if f.FileOffset != nil {
		o.int("file_offset", *f.FileOffset)
	}
	o.strOmit("api", f.API)
	if f.Value != nil {
		o.uint("value", *f.Value)
	}
	if f.Function != nil {
		o.uint("function", uint64(*f.Function))
	}
	o.strOmit("function_name", f.FunctionName)
	o.strOmit("tag", f.Tag)
	o.strOmit("certainty", f.Certainty)
	o.stringsOmit("path", f.Path)
	if s := f.Source; s != nil {
		o.key("source")
		so := openObject(o.b)
		so.str("file", s.File)
		so.int("line", int64(s.Line))
		o.b = so.close()
	}
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it without HTML escaping: quote, backslash and control
// characters, invalid UTF-8 as U+FFFD, and U+2028 and U+2029.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			b = appendASCIIEscape(b, c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendASCIIEscape appends the escape of c: a quote, a backslash or a
// control character.
func appendASCIIEscape(b []byte, c byte) []byte {
	switch c {
	case '\\', '"':
		return append(b, '\\', c)
	case '\b':
		return append(b, '\\', 'b')
	case '\f':
		return append(b, '\\', 'f')
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
}
