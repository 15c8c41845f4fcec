package api

import (
	"encoding/json"
	"reflect"
	"strings"
	"time"
	"unicode"

	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/secret"
)

// The OpenAPI schemas of request and response bodies come from the Go
// types the handlers encode and decode, so the document cannot drift from
// them. A field's `doc` tag becomes its description.

// schemaName names the component of a Go type: the API's name where the
// Go name is an implementation detail, else the type's own, capitalized.
func schemaName(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[DeviceView]():
		return "Device"
	case reflect.TypeFor[CredentialsView]():
		return "Credentials"
	case reflect.TypeFor[LogUploadView]():
		return "LogUpload"
	case reflect.TypeFor[StatusView]():
		return "DeviceStatus"
	case reflect.TypeFor[SyncRunView]():
		return "SyncRun"
	case reflect.TypeFor[device.Check]():
		return "PreflightCheck"
	case reflect.TypeFor[errorBody]():
		return "ErrorResponse"
	case reflect.TypeFor[healthResponse]():
		return "Health"
	case reflect.TypeFor[IAMPolicyView]():
		// The name it was published under before the type was exported.
		return "IamPolicyView"
	}
	r := []rune(t.Name())
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// schemaRef names a component written by hand (see openapi.go).
type schemaRef string

// schemaGen collects components while it describes types.
type schemaGen struct {
	components map[string]any
}

func ref(name string) map[string]any {
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

// of returns the schema of v's type, or of the named component.
func (g *schemaGen) of(v any) map[string]any {
	if r, ok := v.(schemaRef); ok {
		return ref(string(r))
	}
	return g.typ(reflect.TypeOf(v))
}

func (g *schemaGen) typ(t reflect.Type) map[string]any {
	switch t {
	case reflect.TypeFor[time.Time]():
		return map[string]any{"type": "string", "format": "date-time"}
	case reflect.TypeFor[secret.String]():
		return map[string]any{"type": "string", "writeOnly": true}
	case reflect.TypeFor[json.RawMessage]():
		return map[string]any{}
	}
	switch t.Kind() {
	case reflect.Pointer:
		s := g.typ(t.Elem())
		if typ, ok := s["type"].(string); ok {
			s["type"] = []string{typ, "null"}
		}
		return s
	case reflect.Interface:
		return map[string]any{}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.typ(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.typ(t.Elem())}
	case reflect.Struct:
		return g.object(t)
	}
	panic("api: no schema for " + t.String())
}

// object adds t's component (once) and returns a reference to it.
func (g *schemaGen) object(t reflect.Type) map[string]any {
	name := schemaName(t)
	if _, done := g.components[name]; done {
		return ref(name)
	}
	g.components[name] = nil // a type that refers to itself stops here
	props := map[string]any{}
	var required []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" || !f.IsExported() {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		p := g.typ(f.Type)
		if d := f.Tag.Get("doc"); d != "" {
			if _, isRef := p["$ref"]; isRef {
				p = map[string]any{"allOf": []any{p}}
			}
			p["description"] = d
			if strings.HasPrefix(d, "read-only") {
				p["readOnly"] = true
			}
		}
		props[tag] = p
		if f.Type.Kind() != reflect.Pointer && !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Interface {
			required = append(required, tag)
		}
	}
	s := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		s["required"] = required
	}
	if strings.HasSuffix(name, "Input") {
		// The API refuses keys it does not know.
		s["additionalProperties"] = false
		delete(s, "required")
	}
	g.components[name] = s
	return ref(name)
}
