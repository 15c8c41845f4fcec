package web

import (
	"encoding/json"
	"time"
)

// The JSON of the policy routes, as the pages read it.

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

type apiSettings struct {
	Device      string `json:"device"`
	MonitorOnly bool   `json:"monitor_only"`
	MaxDomains  int    `json:"max_domains"`
}

type apiSource struct {
	Name        string     `json:"name"`
	Kind        string     `json:"kind"`
	Serial      int64      `json:"serial"`
	ETag        string     `json:"etag"`
	Records     int        `json:"records"`
	File        string     `json:"file"`
	LastSuccess *time.Time `json:"last_success"`
	LastAttempt *time.Time `json:"last_attempt"`
	LastError   string     `json:"last_error"`
	Transfer    string     `json:"transfer"`
	Held        *struct {
		Records int       `json:"records"`
		Since   time.Time `json:"since"`
		Reason  string    `json:"reason"`
	} `json:"held"`
}

type apiPolicyStatus struct {
	Settings        apiSettings               `json:"settings"`
	Sources         []apiSource               `json:"sources"`
	Records         int                       `json:"records"`
	Domains         int                       `json:"domains"`
	Rules           int                       `json:"rules"`
	Removed         map[string]int            `json:"removed"`
	RemovedBySource map[string]map[string]int `json:"removed_by_source"`
	Truncated       int                       `json:"truncated"`
	PlanError       string                    `json:"plan_error"`
}

type apiExplain struct {
	Name     string      `json:"name"`
	Settings apiSettings `json:"settings"`
	Steps    []struct {
		Source  string `json:"source"`
		Match   bool   `json:"match"`
		Line    int    `json:"line"`
		Says    string `json:"says"`
		Decides bool   `json:"decides"`
	} `json:"steps"`
	DecidedBy string `json:"decided_by"`
	Line      int    `json:"line"`
	Bind      string `json:"bind"`
	Removed   *struct {
		Source string `json:"source"`
		Line   int    `json:"line"`
		Entry  string `json:"entry"`
		Says   string `json:"says"`
		Why    string `json:"why"`
	} `json:"removed"`
	Rule *struct {
		Name     string `json:"name"`
		Priority int    `json:"priority"`
		Action   string `json:"action"`
		Entry    string `json:"entry"`
		Source   string `json:"source"`
		Line     int    `json:"line"`
		CarveOut bool   `json:"carve_out"`
	} `json:"rule"`
	Outcome string `json:"outcome"`
	Agree   bool   `json:"agree"`
	Text    string `json:"text"`
}

// policyDevice is what the policy and report pages show of a device.
type policyDevice struct {
	Nickname    string `json:"nickname"`
	Policy      string `json:"policy"`
	MonitorOnly bool   `json:"monitor_only"`
	Status      struct {
		State           string     `json:"state"`
		Error           string     `json:"error"`
		SyncRequested   bool       `json:"sync_requested"`
		PolicyUpdatedAt *time.Time `json:"policy_updated_at"`
		LastSyncAt      *time.Time `json:"last_sync_at"`
		LastSyncResult  string     `json:"last_sync_result"`
		PlanDomains     int        `json:"plan_domains"`
	} `json:"status"`
}

type policyDeviceList struct {
	Devices []policyDevice `json:"devices"`
}
