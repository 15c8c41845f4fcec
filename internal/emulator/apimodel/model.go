// Package apimodel loads the Route 53 Resolver API model (the one botocore
// ships) and validates requests against it: required members, enums,
// lengths, ranges and patterns, with the service's error wording.
package apimodel

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

//go:embed route53resolver-2018-04-01.json.gz
var modelGz []byte

// Shape is one shape of the model.
type Shape struct {
	Type     string            `json:"type"`
	Required []string          `json:"required"`
	Members  map[string]Member `json:"members"`
	Member   *Member           `json:"member"`
	Key      *Member           `json:"key"`
	Value    *Member           `json:"value"`
	Enum     []string          `json:"enum"`
	Min      *float64          `json:"min"`
	Max      *float64          `json:"max"`
	Pattern  string            `json:"pattern"`
}

// Member refers to a shape.
type Member struct {
	Shape string `json:"shape"`
}

// Operation is one API operation.
type Operation struct {
	Name   string   `json:"name"`
	Input  *Member  `json:"input"`
	Output *Member  `json:"output"`
	Errors []Member `json:"errors"`
}

// Model is the parsed API model.
type Model struct {
	Metadata   map[string]any       `json:"metadata"`
	Operations map[string]Operation `json:"operations"`
	Shapes     map[string]Shape     `json:"shapes"`

	patterns map[string]func(string) bool
}

var (
	loadOnce sync.Once
	loaded   *Model
	loadErr  error
)

// Load parses the embedded model once.
func Load() (*Model, error) {
	loadOnce.Do(func() {
		zr, err := gzip.NewReader(bytes.NewReader(modelGz))
		if err != nil {
			loadErr = fmt.Errorf("reading the API model: %w", err)
			return
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			loadErr = fmt.Errorf("reading the API model: %w", err)
			return
		}
		var m Model
		if err := json.Unmarshal(raw, &m); err != nil {
			loadErr = fmt.Errorf("parsing the API model: %w", err)
			return
		}
		m.patterns = map[string]func(string) bool{}
		for name, s := range m.Shapes {
			if s.Pattern != "" {
				m.patterns[name] = compilePattern(s.Pattern)
			}
		}
		loaded = &m
	})
	return loaded, loadErr
}

// compilePattern turns a model pattern into a full-match test. Go's regexp
// has no lookahead, so the one form the model uses, "(?!^[0-9]+$)REST",
// becomes "not only digits, and REST".
func compilePattern(p string) func(string) bool {
	notDigits := false
	if rest, ok := strings.CutPrefix(p, "(?!^[0-9]+$)"); ok {
		p, notDigits = rest, true
	}
	re, err := regexp.Compile("^(?:" + p + ")$")
	if err != nil {
		return func(string) bool { return true } // unknown syntax: do not reject
	}
	digits := regexp.MustCompile(`^[0-9]+$`)
	return func(s string) bool {
		if notDigits && digits.MatchString(s) {
			return false
		}
		return re.MatchString(s)
	}
}

// FirewallOperations are the operations the emulator serves: every
// DNS Firewall operation plus the tagging operations.
func (m *Model) FirewallOperations() []string {
	var ops []string
	for name := range m.Operations {
		if strings.Contains(name, "Firewall") || name == "TagResource" || name == "UntagResource" || name == "ListTagsForResource" {
			ops = append(ops, name)
		}
	}
	sort.Strings(ops)
	return ops
}

// Validate checks a decoded request (from json.Decoder with UseNumber)
// against the input shape of op and returns the service-style message, or
// "" when it is valid. Type mismatches are reported separately as
// SerializationException by the caller, through the error return.
func (m *Model) Validate(op string, req map[string]any) (msg string, err error) {
	o, ok := m.Operations[op]
	if !ok || o.Input == nil {
		return "", nil
	}
	var problems []string
	if err := m.check(o.Input.Shape, req, "", &problems); err != nil {
		return "", err
	}
	switch len(problems) {
	case 0:
		return "", nil
	case 1:
		return "1 validation error detected: " + problems[0], nil
	default:
		return fmt.Sprintf("%d validation errors detected: %s", len(problems), strings.Join(problems, "; ")), nil
	}
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func (m *Model) check(shapeName string, v any, path string, problems *[]string) error {
	s := m.Shapes[shapeName]
	at := func(format string, args ...any) {
		*problems = append(*problems, fmt.Sprintf(format, args...))
	}
	switch s.Type {
	case "structure":
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("expected an object at '%s'", path)
		}
		for _, r := range s.Required {
			if val, ok := obj[r]; !ok || val == nil {
				at("Value null at '%s' failed to satisfy constraint: Member must not be null", join(path, lowerFirst(r)))
			}
		}
		names := make([]string, 0, len(obj))
		for k := range obj {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			mem, ok := s.Members[k]
			if !ok || obj[k] == nil {
				continue // the service ignores members it does not know
			}
			if err := m.check(mem.Shape, obj[k], join(path, lowerFirst(k)), problems); err != nil {
				return err
			}
		}
	case "list":
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("expected a list at '%s'", path)
		}
		if s.Min != nil && float64(len(arr)) < *s.Min {
			at("Value at '%s' failed to satisfy constraint: Member must have length greater than or equal to %d", path, int(*s.Min))
		}
		if s.Max != nil && float64(len(arr)) > *s.Max {
			at("Value at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", path, int(*s.Max))
		}
		for i, e := range arr {
			if err := m.check(s.Member.Shape, e, fmt.Sprintf("%s.%d.member", path, i+1), problems); err != nil {
				return err
			}
		}
	case "map":
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("expected a map at '%s'", path)
		}
		for k, e := range obj {
			if err := m.check(s.Value.Shape, e, path+"."+k, problems); err != nil {
				return err
			}
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("expected a string at '%s'", path)
		}
		n := float64(utf8.RuneCountInString(str))
		switch {
		case len(s.Enum) > 0 && !contains(s.Enum, str):
			at("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]", str, path, strings.Join(s.Enum, ", "))
		case s.Min != nil && n < *s.Min:
			at("Value '%s' at '%s' failed to satisfy constraint: Member must have length greater than or equal to %d", str, path, int(*s.Min))
		case s.Max != nil && n > *s.Max:
			at("Value '%s' at '%s' failed to satisfy constraint: Member must have length less than or equal to %d", str, path, int(*s.Max))
		case m.patterns[shapeName] != nil && !m.patterns[shapeName](str):
			at("Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: %s", str, path, s.Pattern)
		}
	case "integer", "long":
		num, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("expected a number at '%s'", path)
		}
		i, err := num.Int64()
		if err != nil {
			return fmt.Errorf("expected an integer at '%s'", path)
		}
		if s.Min != nil && float64(i) < *s.Min {
			at("Value '%d' at '%s' failed to satisfy constraint: Member must have value greater than or equal to %d", i, path, int(*s.Min))
		}
		if s.Max != nil && float64(i) > *s.Max {
			at("Value '%d' at '%s' failed to satisfy constraint: Member must have value less than or equal to %d", i, path, int(*s.Max))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("expected a boolean at '%s'", path)
		}
	}
	return nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
