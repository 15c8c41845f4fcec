package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rpzfw/rpzfw/internal/policydoc"
	"github.com/rpzfw/rpzfw/internal/store"
)

// A policy travels as the policy file's document (name, max_shrink,
// allow_list, block_list, sources) with its secrets redacted, plus the
// read-only fields below. A document read with GET may be sent back with
// PUT as it is: the read-only fields are dropped, "version" (when
// present, and no If-Match is sent) must still be the stored version, and
// secrets sent as "[redacted]" or left out keep their stored values.
const (
	fieldPredefined = "predefined"
	fieldVersion    = "version"
	fieldUpdatedAt  = "updated_at"
)

// policyList is the answer of GET /api/v1/policies.
type policyList struct {
	Policies []map[string]any `json:"policies"`
}

// policyView is a stored policy as the API shows it.
func policyView(p store.Policy) (map[string]any, error) {
	m, err := policydoc.Redact(p.Doc)
	if err != nil {
		return nil, fmt.Errorf("policy %q: %w", p.Name, err)
	}
	m["name"] = p.Name
	m[fieldPredefined] = p.Predefined
	m[fieldVersion] = p.Version
	m[fieldUpdatedAt] = p.UpdatedAt.UTC().Format(time.RFC3339Nano)
	return m, nil
}

func (s *Server) writePolicy(w http.ResponseWriter, status int, p store.Policy) error {
	v, err := policyView(p)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", etag(p.Version))
	s.writeJSON(w, status, v)
	return nil
}

func (s *Server) listPolicies(w http.ResponseWriter, r *http.Request, c caller) error {
	ps, err := s.cfg.Store.ListPolicies(r.Context(), c.org())
	if err != nil {
		return fmt.Errorf("listing policies: %w", err)
	}
	out := policyList{Policies: []map[string]any{}}
	for _, p := range ps {
		v, err := policyView(p)
		if err != nil {
			return err
		}
		out.Policies = append(out.Policies, v)
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

// policy reads the policy the path names.
func (s *Server) policy(r *http.Request, c caller) (store.Policy, error) {
	name := r.PathValue("name")
	p, err := s.cfg.Store.GetPolicy(r.Context(), c.org(), name)
	if errors.Is(err, store.ErrNotFound) {
		return p, notFound("policy", name)
	}
	if err != nil {
		return p, fmt.Errorf("reading policy %q: %w", name, err)
	}
	return p, nil
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request, c caller) error {
	p, err := s.policy(r, c)
	if err != nil {
		return err
	}
	return s.writePolicy(w, http.StatusOK, p)
}

func (s *Server) createPolicy(w http.ResponseWriter, r *http.Request, c caller) error {
	raw, err := readBody(w, r)
	if err != nil {
		return err
	}
	doc, _, err := policyBody(raw)
	if err != nil {
		return err
	}
	checked, err := policydoc.Check("", doc, policydoc.Secrets{}, s.cfg.PolicyOptions)
	if err != nil {
		return err
	}
	sealed, err := policydoc.Seal(s.cfg.Keyring, checked.Secrets)
	if err != nil {
		return fmt.Errorf("sealing the secrets of policy %q: %w", checked.Policy.Name, err)
	}
	p, err := s.cfg.Store.CreatePolicy(r.Context(), store.Policy{OrgID: c.org(), Name: checked.Policy.Name, Doc: checked.Doc, Secrets: sealed})
	if errors.Is(err, store.ErrConflict) {
		return apiErr(http.StatusConflict, CodeConflict, "name", "a policy named %q already exists (PUT /api/v1/policies/%s replaces it)", checked.Policy.Name, checked.Policy.Name)
	}
	if err != nil {
		return fmt.Errorf("storing policy %q: %w", checked.Policy.Name, err)
	}
	s.cfg.Actions.Changed()
	w.Header().Set("Location", "/api/v1/policies/"+p.Name)
	return s.writePolicy(w, http.StatusCreated, p)
}

func (s *Server) putPolicy(w http.ResponseWriter, r *http.Request, c caller) error {
	old, err := s.policy(r, c)
	if err != nil {
		return err
	}
	if old.Predefined {
		return apiErr(http.StatusForbidden, CodePredefined, "", "policy %q is pre-defined and read-only: create a policy of your own (POST /api/v1/policies) from its document", old.Name)
	}
	raw, err := readBody(w, r)
	if err != nil {
		return err
	}
	doc, bodyVersion, err := policyBody(raw)
	if err != nil {
		return err
	}
	want, err := ifMatch(r, bodyVersion)
	if err != nil {
		return err
	}
	if want != 0 && want != old.Version {
		return versionMismatch(old, want)
	}
	if err := sameName(doc, old.Name); err != nil {
		return err
	}
	prev, err := policydoc.Open(s.cfg.Keyring, old.Secrets)
	if err != nil {
		return fmt.Errorf("opening the secrets of policy %q: %w", old.Name, err)
	}
	checked, err := policydoc.Check(old.Name, doc, prev, s.cfg.PolicyOptions)
	if err != nil {
		return err
	}
	sealed, err := policydoc.Seal(s.cfg.Keyring, checked.Secrets)
	if err != nil {
		return fmt.Errorf("sealing the secrets of policy %q: %w", old.Name, err)
	}
	p, err := s.cfg.Store.UpdatePolicy(r.Context(), store.Policy{OrgID: c.org(), Name: old.Name, Doc: checked.Doc, Secrets: sealed, Version: old.Version})
	switch {
	case errors.Is(err, store.ErrConflict):
		status, code := http.StatusConflict, CodeConflict
		if want != 0 {
			status, code = http.StatusPreconditionFailed, CodeVersionMismatch
		}
		return apiErr(status, code, "", "policy %q changed while this request ran: read it again and retry", old.Name)
	case errors.Is(err, store.ErrNotFound):
		return notFound("policy", old.Name)
	case err != nil:
		return fmt.Errorf("storing policy %q: %w", old.Name, err)
	}
	s.cfg.Actions.Changed()
	return s.writePolicy(w, http.StatusOK, p)
}

func (s *Server) deletePolicy(w http.ResponseWriter, r *http.Request, c caller) error {
	old, err := s.policy(r, c)
	if err != nil {
		return err
	}
	if old.Predefined {
		return apiErr(http.StatusForbidden, CodePredefined, "", "policy %q is pre-defined and cannot be deleted", old.Name)
	}
	err = s.cfg.Store.DeletePolicy(r.Context(), c.org(), old.Name)
	switch {
	case errors.Is(err, store.ErrInUse):
		return s.policyInUse(r, c, old.Name)
	case errors.Is(err, store.ErrNotFound):
		return notFound("policy", old.Name)
	case err != nil:
		return fmt.Errorf("deleting policy %q: %w", old.Name, err)
	}
	s.cfg.Actions.Changed()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// policyInUse is the 409 of deleting a policy that devices use; it names
// them.
func (s *Server) policyInUse(r *http.Request, c caller, name string) error {
	devs, err := s.cfg.Store.ListDevices(r.Context(), c.org())
	if err != nil {
		return fmt.Errorf("listing devices: %w", err)
	}
	var users []string
	for _, d := range devs {
		if d.Policy == name {
			users = append(users, d.Nickname)
		}
	}
	slices.Sort(users)
	return apiErr(http.StatusConflict, CodeInUse, "", "policy %q is in use by device(s) %s: move them to another policy first", name, strings.Join(users, ", "))
}

// policyBody drops the read-only fields from a policy document sent to
// the API and returns the "version" it carried (0 when none).
func policyBody(raw []byte) ([]byte, int64, error) {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, 0, jsonError(err)
	}
	if doc == nil {
		return nil, 0, apiErr(http.StatusBadRequest, CodeBadJSON, "", "want a JSON object: the policy with the policy file's keys")
	}
	if dec.More() {
		return nil, 0, apiErr(http.StatusBadRequest, CodeBadJSON, "", "the body holds more than one JSON value")
	}
	var version int64
	if v, ok := doc[fieldVersion]; ok {
		n, isNum := v.(json.Number)
		i, err := n.Int64()
		if !isNum || err != nil || i < 1 {
			return nil, 0, apiErr(http.StatusBadRequest, CodeBadJSON, fieldVersion, "want the version read with GET (a positive whole number)")
		}
		version = i
	}
	delete(doc, fieldVersion)
	delete(doc, fieldPredefined)
	delete(doc, fieldUpdatedAt)
	out, err := json.Marshal(doc)
	return out, version, err
}

// sameName refuses a document whose name is not the one in the path:
// policies are not renamed.
func sameName(doc []byte, name string) error {
	var d struct {
		Name *string `json:"name"`
	}
	if err := json.Unmarshal(doc, &d); err != nil || d.Name == nil || *d.Name == name {
		return nil
	}
	return apiErr(http.StatusUnprocessableEntity, CodeInvalid, "name", "%q is not %q, the policy in the path: policies cannot be renamed (create one under the new name)", *d.Name, name)
}

func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch returns the version a PUT expects: from If-Match ("3" or W/"3"),
// else the document's "version", else 0 (any). "*" matches any.
func ifMatch(r *http.Request, bodyVersion int64) (int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" {
		return bodyVersion, nil
	}
	if h == "*" {
		return 0, nil
	}
	v := strings.Trim(strings.TrimPrefix(h, "W/"), `"`)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, apiErr(http.StatusBadRequest, CodeBadRequest, "If-Match", "%q: want the ETag of a GET, such as \"3\"", h)
	}
	return n, nil
}

func versionMismatch(p store.Policy, want int64) error {
	return apiErr(http.StatusPreconditionFailed, CodeVersionMismatch, "version", "policy %q is at version %d, not %d: someone changed it; read it again and re-apply your change", p.Name, p.Version, want)
}
