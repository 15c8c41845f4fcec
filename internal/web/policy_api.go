package web

import (
	"encoding/json"
	"time"
)

// The JSON of a policy as the pages read it. A policy has no Go type in
// the API (it is the policy file's document, see api.handSchemas); the
// other answers of the policy routes are decoded into the API's types
// (api.PolicyStatus, api.ExplainResult).

// apiPolicy is a policy as GET /api/v1/policies/{name} shows it. The
// document's other keys are kept (Rest) so a list edit sends them back
// unchanged.
type apiPolicy struct {
	Name       string
	Predefined bool
	Version    int64
	UpdatedAt  time.Time
	Sources    []struct {
		Name string `json:"name"`
		Kind string `json:"kind"`
	}
	Allow, Block list
	Rest         map[string]json.RawMessage
}

// list is a user list: inline domains, or a file the server reads.
type list struct {
	Domains []string
	File    string
}

func (p *apiPolicy) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &p.Rest); err != nil {
		return err
	}
	var v struct {
		Name       string    `json:"name"`
		Predefined bool      `json:"predefined"`
		Version    int64     `json:"version"`
		UpdatedAt  time.Time `json:"updated_at"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	p.Name, p.Predefined, p.Version, p.UpdatedAt = v.Name, v.Predefined, v.Version, v.UpdatedAt
	if raw, ok := p.Rest["sources"]; ok {
		if err := json.Unmarshal(raw, &p.Sources); err != nil {
			return err
		}
	}
	for key, l := range map[string]*list{"allow_list": &p.Allow, "block_list": &p.Block} {
		raw, ok := p.Rest[key]
		if !ok || string(raw) == "null" {
			continue
		}
		if json.Unmarshal(raw, &l.Domains) != nil {
			var f struct {
				File string `json:"file"`
			}
			if err := json.Unmarshal(raw, &f); err != nil {
				return err
			}
			l.File = f.File
		}
	}
	return nil
}

type apiPolicyList struct {
	Policies []apiPolicy `json:"policies"`
}
