// Package policydoc turns a policy as the service takes it (JSON with the
// policy file's field names) into a checked policy.Policy, and splits out
// its secrets (TSIG secrets, https header values) so the document can be
// stored and shown without them.
//
// The JSON goes through the same reader as a policy file (YAML is a
// superset of JSON), so the service and the command line accept exactly
// the same policies and report the same field names.
package policydoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/rpzfw/rpzfw/internal/policy"
	"github.com/rpzfw/rpzfw/internal/secret"
	"github.com/rpzfw/rpzfw/internal/store"
)

// MaxDocBytes bounds a policy document.
const MaxDocBytes = 1 << 20

// Redacted stands for a secret value in documents the service returns; a
// document sent back with it keeps the stored value.
const Redacted = "[redacted]"

var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// FieldError is a problem with one field of a policy.
type FieldError struct {
	Field, Message string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

// Secrets are a policy's secret values by source name.
type Secrets struct {
	TSIG    map[string]string            `json:"tsig,omitempty"`
	Headers map[string]map[string]string `json:"headers,omitempty"`
}

func (s Secrets) empty() bool { return len(s.TSIG) == 0 && len(s.Headers) == 0 }

// Options say what the service allows.
type Options struct {
	// FileRoots are the directories file sources and list files may be
	// read from; none: file sources are refused.
	FileRoots []string
	// BaseDir anchors relative paths: the server's own copy of the
	// pre-defined policies' files, so a stored document does not depend on
	// where one instance keeps its data.
	BaseDir string
}

// Checked is a policy that passed every check.
type Checked struct {
	Policy policy.Policy
	// Doc is the document to store: canonical JSON without secrets.
	Doc     []byte
	Secrets Secrets
}

// ValidateName checks a policy name.
func ValidateName(name string) error {
	if !nameRe.MatchString(name) {
		return &FieldError{Field: "name", Message: fmt.Sprintf("%q: want 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)}
	}
	return nil
}

// Check reads raw (a JSON object), fills secrets left out or redacted from
// prev (the stored policy's, on an update), and checks everything. name
// overrides the document's name when not empty.
func Check(name string, raw []byte, prev Secrets, o Options) (*Checked, error) {
	if len(raw) > MaxDocBytes {
		return nil, &FieldError{Message: fmt.Sprintf("the policy is larger than %d bytes", MaxDocBytes)}
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil || doc == nil {
		return nil, &FieldError{Message: "the policy must be a JSON object with the policy file's keys (name, sources, allow_list, block_list, max_shrink)"}
	}
	if name != "" {
		doc["name"] = name
	}
	n, _ := doc["name"].(string)
	if err := ValidateName(n); err != nil {
		return nil, err
	}
	secrets, err := takeSecrets(doc, prev)
	if err != nil {
		return nil, err
	}
	p, err := parse(doc, secrets, o.BaseDir)
	if err != nil {
		return nil, err
	}
	roots := o.FileRoots
	if o.BaseDir != "" {
		roots = append([]string{o.BaseDir}, roots...)
	}
	if err := checkPaths(p, roots); err != nil {
		return nil, err
	}
	stored, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encoding the policy: %w", err)
	}
	return &Checked{Policy: p, Doc: stored, Secrets: secrets}, nil
}

// Load rebuilds the policy from a stored document and its secrets; o's
// BaseDir anchors relative paths.
func Load(doc []byte, s Secrets, o ...Options) (policy.Policy, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return policy.Policy{}, fmt.Errorf("reading a stored policy: %w", err)
	}
	base := ""
	if len(o) > 0 {
		base = o[0].BaseDir
	}
	return parse(m, s, base)
}

// parse puts the secrets back into a copy of doc and reads it with the
// policy file reader.
func parse(doc map[string]any, s Secrets, baseDir string) (policy.Policy, error) {
	full := withSecrets(doc, s)
	raw, err := json.Marshal(full)
	if err != nil {
		return policy.Policy{}, fmt.Errorf("encoding the policy: %w", err)
	}
	name, _ := doc["name"].(string)
	// The reader resolves relative paths against the file's folder.
	file := "policy " + name
	if baseDir != "" {
		file = filepath.Join(baseDir, file)
	}
	p, err := policy.Parse(raw, file)
	if err != nil {
		var fe *policy.FieldError
		if errors.As(err, &fe) {
			return p, &FieldError{Field: fe.Key, Message: fe.Msg}
		}
		return p, &FieldError{Message: strings.TrimPrefix(err.Error(), file+": ")}
	}
	return p, nil
}

func sources(doc map[string]any) []map[string]any {
	list, _ := doc["sources"].([]any)
	var out []map[string]any
	for _, item := range list {
		if m, ok := item.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// takeSecrets removes secret values from doc and returns them, taking the
// previous value where the document leaves one out or sends it redacted.
func takeSecrets(doc map[string]any, prev Secrets) (Secrets, error) {
	s := Secrets{TSIG: map[string]string{}, Headers: map[string]map[string]string{}}
	for i, src := range sources(doc) {
		name, _ := src["name"].(string)
		field := fmt.Sprintf("sources[%d]", i)
		if t, ok := src["tsig"].(map[string]any); ok {
			if _, has := t["secret_file"]; has {
				return s, &FieldError{Field: field + ".tsig.secret_file", Message: "the service does not read key files; give the secret (it is stored encrypted and never shown)"}
			}
			v, _ := t["secret"].(string)
			if v == "" || v == Redacted {
				v = prev.TSIG[name]
			}
			if v == "" {
				return s, &FieldError{Field: field + ".tsig.secret", Message: "a TSIG key needs its secret"}
			}
			s.TSIG[name] = v
			delete(t, "secret")
			delete(t, "secret_set")
		}
		if h, ok := src["headers"].(map[string]any); ok {
			s.Headers[name] = map[string]string{}
			for k, raw := range h {
				v, isStr := raw.(string)
				if !isStr {
					return s, &FieldError{Field: field + ".headers." + k, Message: "want a string"}
				}
				if v == "" || v == Redacted {
					v = prev.Headers[name][k]
				}
				if v == "" {
					return s, &FieldError{Field: field + ".headers." + k, Message: "give the header's value"}
				}
				s.Headers[name][k] = v
				h[k] = ""
			}
		}
	}
	return s, nil
}

// withSecrets returns a deep copy of doc with the secrets filled in.
func withSecrets(doc map[string]any, s Secrets) map[string]any {
	c := deepCopy(doc).(map[string]any)
	for _, src := range sources(c) {
		name, _ := src["name"].(string)
		if t, ok := src["tsig"].(map[string]any); ok {
			t["secret"] = s.TSIG[name]
		}
		if h, ok := src["headers"].(map[string]any); ok {
			for k := range h {
				h[k] = s.Headers[name][k]
			}
		}
	}
	return c
}

// Redact returns the stored document as the API shows it: TSIG keys say
// "secret_set", header values are Redacted.
func Redact(doc []byte) (map[string]any, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("reading a stored policy: %w", err)
	}
	for _, src := range sources(m) {
		if t, ok := src["tsig"].(map[string]any); ok {
			t["secret_set"] = true
		}
		if h, ok := src["headers"].(map[string]any); ok {
			for k := range h {
				h[k] = Redacted
			}
		}
	}
	return m, nil
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(t))
		for k, x := range t {
			c[k] = deepCopy(x)
		}
		return c
	case []any:
		c := make([]any, len(t))
		for i, x := range t {
			c[i] = deepCopy(x)
		}
		return c
	}
	return v
}

// checkPaths refuses files outside the allowed roots: the service must not
// become a way to read the server's files.
func checkPaths(p policy.Policy, roots []string) error {
	check := func(field, path string) error {
		if path == "" {
			return nil
		}
		if !filepath.IsAbs(path) {
			return &FieldError{Field: field, Message: fmt.Sprintf("%q: the service needs an absolute path (relative paths name the pre-defined policies' files)", path)}
		}
		clean := filepath.Clean(path)
		for _, r := range roots {
			r = filepath.Clean(r)
			if clean == r || strings.HasPrefix(clean, r+string(filepath.Separator)) {
				return nil
			}
		}
		if len(roots) == 0 {
			return &FieldError{Field: field, Message: "file sources are not enabled on this server (serve --file-root DIR allows a directory)"}
		}
		return &FieldError{Field: field, Message: fmt.Sprintf("%q is outside the directories this server allows (%s)", path, strings.Join(roots, ", "))}
	}
	if err := check("allow_list.file", p.Allow.File); err != nil {
		return err
	}
	if err := check("block_list.file", p.Block.File); err != nil {
		return err
	}
	for i, s := range p.Sources {
		if err := check(fmt.Sprintf("sources[%d].path", i), s.Path); err != nil {
			return err
		}
	}
	return nil
}

// Seal encrypts secrets for the store; none gives nil.
func Seal(k *secret.Keyring, s Secrets) ([]byte, error) {
	if s.empty() {
		return nil, nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return k.Seal(b, store.PurposePolicySecrets)
}

// Open decrypts stored secrets; nil gives none.
func Open(k *secret.Keyring, sealed []byte) (Secrets, error) {
	var s Secrets
	if len(sealed) == 0 {
		return s, nil
	}
	b, err := k.Open(sealed, store.PurposePolicySecrets)
	if err != nil {
		return s, fmt.Errorf("policy secrets: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("policy secrets: %w", err)
	}
	return s, nil
}
