package report

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// A JSON Schema validator for the keywords the SARIF 2.1.0 schema uses
// (testdata/sarif/sarif-2.1.0.json): $ref to #/definitions, type, enum,
// properties, additionalProperties, required, items, minItems, uniqueItems,
// minimum, maximum, pattern, anyOf, oneOf and format (uri, uri-reference,
// date-time, uuid). Annotations (description, default, title) are ignored.
// An unknown keyword fails the validation, so that a schema using more than
// this validator knows is noticed.

type schemaValidator struct {
	root map[string]any
	errs []string
}

var knownKeywords = map[string]bool{
	"$schema": true, "$id": true, "id": true, "title": true, "description": true, "default": true, "definitions": true,
	"$ref": true, "type": true, "enum": true, "properties": true, "additionalProperties": true, "required": true,
	"items": true, "minItems": true, "uniqueItems": true, "minimum": true, "maximum": true, "pattern": true,
	"anyOf": true, "oneOf": true, "format": true,
}

func loadSchema(t testing.TB, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// validateJSON validates the JSON document doc against schema and returns
// the violations, each with its JSON path.
func validateJSON(schema map[string]any, doc []byte) []string {
	var v any
	dec := json.NewDecoder(strings.NewReader(string(doc)))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return []string{err.Error()}
	}
	sv := &schemaValidator{root: schema}
	sv.validate(schema, v, "$")
	return sv.errs
}

func (sv *schemaValidator) fail(path, format string, args ...any) {
	sv.errs = append(sv.errs, path+": "+fmt.Sprintf(format, args...))
}

// check validates v against s without recording errors; it reports
// whether v is valid.
func (sv *schemaValidator) check(s map[string]any, v any, path string) bool {
	sub := &schemaValidator{root: sv.root}
	sub.validate(s, v, path)
	return len(sub.errs) == 0
}

func (sv *schemaValidator) resolve(ref string) map[string]any {
	name, ok := strings.CutPrefix(ref, "#/definitions/")
	if !ok {
		return nil
	}
	defs, _ := sv.root["definitions"].(map[string]any)
	s, _ := defs[name].(map[string]any)
	return s
}

func (sv *schemaValidator) validate(s map[string]any, v any, path string) {
	for k := range s {
		if !knownKeywords[k] {
			sv.fail(path, "schema keyword %q not supported by this validator", k)
		}
	}
	if ref, ok := s["$ref"].(string); ok {
		target := sv.resolve(ref)
		if target == nil {
			sv.fail(path, "unresolved $ref %q", ref)
			return
		}
		sv.validate(target, v, path)
	}
	if t, ok := s["type"]; ok && !typeMatches(t, v) {
		sv.fail(path, "type %s, want %v", jsonType(v), t)
		return
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if jsonEqual(e, v) {
				found = true
			}
		}
		if !found {
			sv.fail(path, "%v is not one of %v", v, enum)
		}
	}
	switch x := v.(type) {
	case map[string]any:
		sv.object(s, x, path)
	case []any:
		sv.array(s, x, path)
	case string:
		sv.str(s, x, path)
	case json.Number:
		f, _ := x.Float64()
		if m, ok := s["minimum"].(float64); ok && f < m {
			sv.fail(path, "%v below minimum %v", f, m)
		}
		if m, ok := s["maximum"].(float64); ok && f > m {
			sv.fail(path, "%v above maximum %v", f, m)
		}
	}
	for _, key := range []string{"anyOf", "oneOf"} {
		alts, ok := s[key].([]any)
		if !ok {
			continue
		}
		n := 0
		for _, a := range alts {
			if as, ok := a.(map[string]any); ok && sv.check(as, v, path) {
				n++
			}
		}
		if n == 0 || key == "oneOf" && n != 1 {
			sv.fail(path, "%d of the %s alternatives match", n, key)
		}
	}
}

func (sv *schemaValidator) object(s map[string]any, o map[string]any, path string) {
	props, _ := s["properties"].(map[string]any)
	if req, ok := s["required"].([]any); ok {
		for _, r := range req {
			if _, ok := o[r.(string)]; !ok {
				sv.fail(path, "required property %q missing", r)
			}
		}
	}
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		child := path + "." + k
		if ps, ok := props[k].(map[string]any); ok {
			sv.validate(ps, o[k], child)
			continue
		}
		switch ap := s["additionalProperties"].(type) {
		case bool:
			if !ap {
				sv.fail(child, "property not allowed")
			}
		case map[string]any:
			sv.validate(ap, o[k], child)
		}
	}
}

func (sv *schemaValidator) array(s map[string]any, a []any, path string) {
	if m, ok := s["minItems"].(float64); ok && float64(len(a)) < m {
		sv.fail(path, "%d items, want at least %v", len(a), m)
	}
	if u, ok := s["uniqueItems"].(bool); ok && u {
		for i := range a {
			for j := i + 1; j < len(a); j++ {
				if jsonEqual(a[i], a[j]) {
					sv.fail(path, "items %d and %d are equal", i, j)
				}
			}
		}
	}
	if items, ok := s["items"].(map[string]any); ok {
		for i, it := range a {
			sv.validate(items, it, fmt.Sprintf("%s[%d]", path, i))
		}
	}
}

var uuidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (sv *schemaValidator) str(s map[string]any, x string, path string) {
	if p, ok := s["pattern"].(string); ok {
		re, err := regexp.Compile(p)
		if err != nil {
			sv.fail(path, "schema pattern %q: %v", p, err)
		} else if !re.MatchString(x) {
			sv.fail(path, "%q does not match %q", x, p)
		}
	}
	switch s["format"] {
	case "uri":
		if u, err := url.Parse(x); err != nil || u.Scheme == "" {
			sv.fail(path, "%q is not an absolute URI", x)
		}
	case "uri-reference":
		if _, err := url.Parse(x); err != nil {
			sv.fail(path, "%q is not a URI reference: %v", x, err)
		}
	case "date-time":
		if _, err := time.Parse(time.RFC3339, x); err != nil {
			sv.fail(path, "%q is not a date-time", x)
		}
	case "uuid":
		if !uuidRe.MatchString(x) {
			sv.fail(path, "%q is not a UUID", x)
		}
	}
}

func typeMatches(t any, v any) bool {
	switch t := t.(type) {
	case string:
		return typeIs(t, v)
	case []any:
		for _, x := range t {
			if s, ok := x.(string); ok && typeIs(s, v) {
				return true
			}
		}
	}
	return false
}

func typeIs(t string, v any) bool {
	switch t {
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		f, err := n.Float64()
		return err == nil && f == math.Trunc(f)
	case "number":
		_, ok := v.(json.Number)
		return ok
	}
	return jsonType(v) == t
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// jsonEqual compares a schema value (numbers as float64) with a document
// value (numbers as json.Number).
func jsonEqual(a, b any) bool {
	norm := func(x any) any {
		switch n := x.(type) {
		case json.Number:
			f, _ := n.Float64()
			return f
		}
		return x
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func TestSchemaValidatorCatchesViolations(t *testing.T) {
	schema := loadSchema(t, sarifSchemaPath)
	for name, doc := range map[string]string{
		"no version":         `{"runs": []}`,
		"bad version":        `{"version": "2.0.0", "runs": []}`,
		"extra property":     `{"version": "2.1.0", "runs": [], "bogus": 1}`,
		"run without tool":   `{"version": "2.1.0", "runs": [{}]}`,
		"bad level":          `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"message": {"text": "m"}, "level": "fatal"}]}]}`,
		"negative offset":    `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"message": {"text": "m"}, "locations": [{"physicalLocation": {"region": {"byteOffset": -5}}}]}]}]}`,
		"result w/o message": `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"ruleId": "r"}]}]}`,
		"bad uri":            `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "originalUriBaseIds": {"R": {"uri": "%zz"}}}]}`,
		"duplicate rules":    `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x", "rules": [{"id": "a"}, {"id": "a"}]}}}]}`,
	} {
		if errs := validateJSON(schema, []byte(doc)); len(errs) == 0 {
			t.Errorf("%s: no violation found", name)
		}
	}
	ok := `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": []}]}`
	if errs := validateJSON(schema, []byte(ok)); len(errs) != 0 {
		t.Errorf("minimal log: %v", errs)
	}
}
