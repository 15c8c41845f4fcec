package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/rpzfw/rpzfw/internal/feed"
)

// SourceStatus is one source of a policy as GET .../status shows it.
type SourceStatus struct {
	Name        string     `json:"name"`
	Kind        string     `json:"kind" doc:"file, https, zone-transfer, or list (the user's allow and block lists)."`
	Serial      int64      `json:"serial,omitempty" doc:"The zone's SOA serial (zone transfers)."`
	ETag        string     `json:"etag,omitempty"`
	Records     int        `json:"records" doc:"Records of the last good copy (entries, for an inline list; 0 for a list read from a file)."`
	File        string     `json:"file,omitempty" doc:"The file a list is read from, when it is not inline."`
	LastSuccess *time.Time `json:"last_success,omitempty" doc:"When the last good copy was fetched."`
	LastAttempt *time.Time `json:"last_attempt,omitempty" doc:"When a fetch was last tried."`
	LastError   string     `json:"last_error,omitempty" doc:"Why the last fetch failed; the last good copy is used meanwhile."`
	Transfer    string     `json:"transfer,omitempty" doc:"How the last fetch went: AXFR, IXFR, unchanged, 304, file."`
	Held        *HeldView  `json:"held,omitempty" doc:"An update held because it shrank too much: accept it to use it."`
}

type HeldView struct {
	Records int       `json:"records"`
	Since   time.Time `json:"since"`
	Reason  string    `json:"reason"`
	Serial  int64     `json:"serial,omitempty"`
}

// PolicyStatus is the answer of GET /api/v1/policies/{name}/status.
type PolicyStatus struct {
	Name     string          `json:"name"`
	Version  int64           `json:"version"`
	Settings CompileSettings `json:"settings"`
	Sources  []SourceStatus  `json:"sources" doc:"In precedence order: the allow list, the block list, then the sources."`
	Records  int             `json:"records" doc:"Records of every source and inline list (lists read from a file are not counted)."`
	Domains  int             `json:"domains" doc:"Domains the compiled plan installs."`
	Rules    int             `json:"rules"`
	// Removed counts records DNS Firewall cannot express, by reason, and
	// by source then reason.
	Removed         map[string]int            `json:"removed"`
	RemovedBySource map[string]map[string]int `json:"removed_by_source"`
	Truncated       int                       `json:"truncated" doc:"Block entries dropped to fit the maximum size."`
	PlanError       string                    `json:"plan_error,omitempty" doc:"Why the policy does not compile now (the counts are then empty)."`
}

func (s *Server) getPolicyStatus(w http.ResponseWriter, r *http.Request, c caller) error {
	pf, err := s.feeds()
	if err != nil {
		return err
	}
	p, err := s.policy(r, c)
	if err != nil {
		return err
	}
	set, cs, err := s.settingsFor(r.Context(), c, p.Name, r.URL.Query().Get("device"))
	if err != nil {
		return err
	}
	out := PolicyStatus{Name: p.Name, Version: p.Version, Settings: cs, Sources: listStatuses(p.Doc),
		Removed: map[string]int{}, RemovedBySource: map[string]map[string]int{}}
	sts, err := pf.FeedStatus(r.Context(), p)
	if err != nil {
		if err := policyReadError(p.Name, err); !isClientError(err) {
			return err
		}
		out.PlanError = err.Error()
	}
	for _, st := range sts {
		out.Sources = append(out.Sources, sourceView(st))
	}
	for _, st := range out.Sources {
		out.Records += st.Records
	}
	if out.PlanError == "" {
		plan, err := pf.Plan(r.Context(), p, set)
		switch {
		case err == nil:
			out.Domains, out.Rules, out.Truncated = plan.DomainCount, len(plan.Rules), plan.Truncated
			if plan.Removed != nil {
				out.Removed = plan.Removed
			}
			if plan.RemovedBySource != nil {
				out.RemovedBySource = plan.RemovedBySource
			}
		case isClientError(policyReadError(p.Name, err)):
			out.PlanError = err.Error()
		default:
			return policyReadError(p.Name, err)
		}
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

func isClientError(err error) bool {
	var ae *Error
	return errors.As(err, &ae) && ae.Status < 500
}

func sourceView(st feed.Status) SourceStatus {
	v := SourceStatus{Name: st.Name, Kind: st.Kind, Serial: int64(st.Serial), ETag: st.ETag, Records: st.Records, LastError: st.LastError, Transfer: st.Transfer}
	if !st.LastSuccess.IsZero() {
		t := st.LastSuccess.UTC()
		v.LastSuccess = &t
	}
	if !st.LastAttempt.IsZero() {
		t := st.LastAttempt.UTC()
		v.LastAttempt = &t
	}
	if h := st.Held; h != nil {
		v.Held = &HeldView{Records: h.Records, Since: h.Since.UTC(), Reason: h.Reason, Serial: int64(h.Serial)}
	}
	return v
}

// listStatuses are the user's lists as sources: inline lists count their
// entries; a list read from a file shows 0 (it is read at compile time).
func listStatuses(doc []byte) []SourceStatus {
	var d struct {
		Allow json.RawMessage `json:"allow_list"`
		Block json.RawMessage `json:"block_list"`
	}
	if json.Unmarshal(doc, &d) != nil {
		return nil
	}
	var out []SourceStatus
	for _, l := range []struct {
		name string
		raw  json.RawMessage
	}{{"allow-list", d.Allow}, {"block-list", d.Block}} {
		if len(l.raw) == 0 || string(l.raw) == "null" {
			continue
		}
		var entries []string
		if json.Unmarshal(l.raw, &entries) != nil {
			var f struct {
				File string `json:"file"`
			}
			_ = json.Unmarshal(l.raw, &f) // checked when the policy was stored
			out = append(out, SourceStatus{Name: l.name, Kind: "list", File: f.File})
			continue
		}
		out = append(out, SourceStatus{Name: l.name, Kind: "list", Records: len(entries)})
	}
	return out
}

// acceptHeld is POST /api/v1/policies/{name}/sources/{source}/accept.
func (s *Server) acceptHeld(w http.ResponseWriter, r *http.Request, c caller) error {
	pf, err := s.feeds()
	if err != nil {
		return err
	}
	p, err := s.policy(r, c)
	if err != nil {
		return err
	}
	source := r.PathValue("source")
	sts, err := pf.FeedStatus(r.Context(), p)
	if err != nil {
		return policyReadError(p.Name, err)
	}
	var found *feed.Status
	for i := range sts {
		if sts[i].Name == source {
			found = &sts[i]
		}
	}
	if found == nil {
		return notFound("source", source)
	}
	if found.Held == nil {
		return apiErr(http.StatusConflict, CodeConflict, "", "source %q of policy %q has no held update to accept", source, p.Name)
	}
	if err := pf.AcceptHeld(r.Context(), p, source); err != nil {
		return policyReadError(p.Name, err)
	}
	s.cfg.Actions.Changed()
	st, err := pf.FeedStatus(r.Context(), p)
	if err != nil {
		return policyReadError(p.Name, err)
	}
	for _, x := range st {
		if x.Name == source {
			s.writeJSON(w, http.StatusOK, sourceView(x))
			return nil
		}
	}
	return notFound("source", source)
}
