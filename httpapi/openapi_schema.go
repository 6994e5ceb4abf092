package httpapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"
	"unicode"

	"github.com/aibud/aibud/tenants"
)

// JSON schemas and examples derived from Go types through their json tags:
// what the handlers encode is what the document says.

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
)

// enums lists the values of the domain's string enums.
var enums = map[reflect.Type][]string{
	reflect.TypeFor[tenants.PollStatus]():    {"draft", "dispatching", "scheduled", "sending", "done", "cancelled"},
	reflect.TypeFor[tenants.MessageStatus](): {"queued", "sent", "delivered", "read", "failed", "cancelled"},
	reflect.TypeFor[tenants.ConnState]():     {"close", "connecting", "open"},
	reflect.TypeFor[tenants.LeadStatus]():    {"new", "engaged", "hot", "cold", "opted_out"},
	reflect.TypeFor[tenants.PlanID]():        {"starter", "growth", "pro"},
	reflect.TypeFor[tenants.Intent]():        intentNames(),
}

func intentNames() []string {
	out := make([]string, len(tenants.Intents))
	for i, in := range tenants.Intents {
		out[i] = string(in)
	}
	return out
}

// schemaSet collects the named schemas (components) while building.
type schemaSet struct {
	defs  map[string]any
	names map[reflect.Type]string
}

func newSchemaSet() *schemaSet {
	return &schemaSet{defs: map[string]any{}, names: map[reflect.Type]string{}}
}

// of returns the schema of t: a $ref for named structs, inline otherwise.
func (ss *schemaSet) of(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{}
	case enums[t] != nil:
		return map[string]any{"type": "string", "enum": enums[t]}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return nullable(ss.of(t.Elem()))
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": ss.of(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": ss.of(t.Elem())}
	case reflect.Struct:
		if t.Name() == "" {
			return ss.object(t)
		}
		return ss.ref(t)
	}
	return map[string]any{}
}

// ref names a struct type's schema once and refers to it.
func (ss *schemaSet) ref(t reflect.Type) map[string]any {
	name, ok := ss.names[t]
	if !ok {
		name = componentName(t)
		if _, taken := ss.defs[name]; taken {
			name = upperFirst(t.PkgPath()[strings.LastIndex(t.PkgPath(), "/")+1:]) + name
		}
		ss.names[t] = name
		ss.defs[name] = map[string]any{} // placeholder: recursive types end here
		ss.defs[name] = ss.object(t)
	}
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

// object is the schema of a struct's JSON fields; embedded structs are
// flattened as encoding/json does.
func (ss *schemaSet) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for _, f := range jsonFields(t) {
		props[f.name] = ss.of(f.typ)
		if !f.optional {
			required = append(required, f.name)
		}
	}
	out := map[string]any{"type": "object", "properties": props}
	if required != nil {
		out["required"] = required
	}
	return out
}

type jsonField struct {
	name     string
	typ      reflect.Type
	optional bool
}

func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		optional := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
		out = append(out, jsonField{name: name, typ: f.Type, optional: optional})
	}
	return out
}

func nullable(s map[string]any) map[string]any {
	if typ, ok := s["type"].(string); ok && len(s) == 1 {
		return map[string]any{"type": []string{typ, "null"}}
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

// componentName makes pollJSON "Poll" and signupRequest "SignupRequest".
func componentName(t reflect.Type) string {
	return upperFirst(strings.TrimSuffix(t.Name(), "JSON"))
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// exampleOf makes a plausible value of t for the document and the docs page.
func exampleOf(t reflect.Type, depth int) any {
	return exampleNamed(t, "", depth)
}

// fieldExamples gives fields whose type says little a realistic value.
var fieldExamples = map[string]any{
	"id": "01JCM5Z7Q8R3V6W2X4Y9A0B1C2", "tenant_id": "01JCM5YV3T8S1P6N4K2H0G9F7E", "user_id": "01JCM5YV3T8S1P6N4K2H0G9F7D",
	"poll_id": "01JCM6A2B3C4D5E6F7G8H9J0K1", "instance_id": "01JCM5ZZ1X2W3V4U5T6S7R8Q9P",
	"phone": "5511987654321", "email": "owner@example.com", "name": "Maria Silva", "question": "Which day suits you for a demo?",
	"url": "https://checkout.stripe.com/c/pay/cs_test_…", "prefix": "ak_Xy3kP9qL", "key": "ak_Xy3kP9qL2vN8mR4tW6zB1cD5fG7hJ0kL3nP5rS8uV0w",
	"day": "2026-05-01", "text": "Tuesday works for me", "summary": "Picks Tuesday for the demo.", "language": "pt",
	"classifier": "rules", "reason": "signup", "ref": "signup:01JCM5YV3T8S1P6N4K2H0G9F7E", "next_cursor": "",
}

func exampleNamed(t reflect.Type, field string, depth int) any {
	if v, ok := fieldExamples[field]; ok && t.Kind() == reflect.String {
		return v
	}
	if vals := enums[t]; vals != nil {
		return vals[0]
	}
	switch {
	case t == timeType:
		return "2026-05-01T09:30:00Z"
	case t == rawType:
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return exampleNamed(t.Elem(), field, depth)
	case reflect.String:
		return "string"
	case reflect.Bool:
		return false
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return 1
	case reflect.Float32, reflect.Float64:
		return 0.9
	case reflect.Slice, reflect.Array:
		if depth > 3 {
			return []any{}
		}
		return []any{exampleNamed(t.Elem(), strings.TrimSuffix(field, "s"), depth+1)}
	case reflect.Map:
		return map[string]any{}
	case reflect.Struct:
		if depth > 3 {
			return map[string]any{}
		}
		out := map[string]any{}
		for _, f := range jsonFields(t) {
			out[f.name] = exampleNamed(f.typ, f.name, depth+1)
		}
		return out
	}
	return nil
}
