package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = 1 << 20

// readBody reads the request body, at most MaxBodyBytes of it.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, apiErr(http.StatusRequestEntityTooLarge, CodeTooLarge, "", "the request body is larger than %d bytes (1 MiB)", MaxBodyBytes)
	case err != nil:
		return nil, apiErr(http.StatusBadRequest, CodeBadRequest, "", "reading the request body: %v", err)
	case len(bytes.TrimSpace(b)) == 0:
		return nil, apiErr(http.StatusBadRequest, CodeBadJSON, "", "the request body is empty: send a JSON object")
	}
	return b, nil
}

// decodeJSON reads one JSON object from raw into v, a pointer to a struct.
// A key that v does not have is refused with its full path (such as
// "credentials.colour"), so a typo is never silently ignored.
func decodeJSON(raw []byte, v any) error {
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		return jsonError(err)
	}
	obj, ok := generic.(map[string]any)
	if !ok {
		return apiErr(http.StatusBadRequest, CodeBadJSON, "", "want a JSON object")
	}
	if err := unknownFields(obj, reflect.TypeOf(v).Elem(), ""); err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return jsonError(err)
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return apiErr(http.StatusBadRequest, CodeBadJSON, "", "the body is not valid JSON (at byte %d): %v", syn.Offset, err)
	case errors.As(err, &typ):
		return apiErr(http.StatusBadRequest, CodeBadJSON, typ.Field, "want %s, got a JSON %s", jsonKind(typ.Type), typ.Value)
	}
	return apiErr(http.StatusBadRequest, CodeBadJSON, "", "the body is not valid JSON: %v", err)
}

// jsonKind names a Go type as a JSON type.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "a list"
	}
	return "an object"
}

// unknownFields reports the first key of obj (sorted) that t's JSON
// fields do not name, descending into nested structs.
func unknownFields(obj map[string]any, t reflect.Type, prefix string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	fields := jsonFields(t)
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ft, ok := fields[k]
		if !ok {
			known := make([]string, 0, len(fields))
			for name := range fields {
				known = append(known, name)
			}
			sort.Strings(known)
			return apiErr(http.StatusBadRequest, CodeUnknownField, prefix+k, "unknown field (known here: %s)", strings.Join(known, ", "))
		}
		if sub, ok := obj[k].(map[string]any); ok {
			if err := unknownFields(sub, ft, prefix+k+"."); err != nil {
				return err
			}
		}
	}
	return nil
}

// jsonFields maps the JSON names of t's fields to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// queryInt reads an integer query parameter in [lo, hi], def when absent.
func queryInt(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, apiErr(http.StatusBadRequest, CodeBadRequest, name, "%q: want a whole number from %d to %d", v, lo, hi)
	}
	return n, nil
}

// queryBool reads a boolean query parameter, false when absent.
func queryBool(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, apiErr(http.StatusBadRequest, CodeBadRequest, name, "%q: want true or false", v)
	}
	return b, nil
}
