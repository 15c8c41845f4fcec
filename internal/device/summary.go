package device

import (
	"encoding/json"
	"fmt"

	"github.com/rpzfw/rpzfw/internal/compile"
)

// RuleSummary is one rule of a plan, without its domains.
type RuleSummary struct {
	Name                 string  `json:"name"`
	Priority             int     `json:"priority"`
	Action               string  `json:"action"`
	BlockResponse        *string `json:"block_response"`
	BlockOverrideDomain  *string `json:"block_override_domain"`
	BlockOverrideDNSType *string `json:"block_override_dns_type"`
	BlockOverrideTTL     *int    `json:"block_override_ttl"`
	DomainCount          int     `json:"domain_count"`
}

// Summary is a compiled plan for people and the API: the rules and their
// sizes, what was removed because DNS Firewall cannot express it (by
// reason, and by source and reason), and what truncation dropped to fit
// the maximum size (by source).
type Summary struct {
	Rules       []RuleSummary `json:"rules"`
	DomainCount int           `json:"domain_count"`
	MaxDomains  int           `json:"max_domains"`
	MonitorOnly bool          `json:"monitor_only"`
	// Sources are the policy's sources in precedence order.
	Sources         []string                  `json:"sources"`
	Removed         map[string]int            `json:"removed"`
	RemovedBySource map[string]map[string]int `json:"removed_by_source"`
	// Truncated counts block entries dropped to fit MaxDomains.
	Truncated         int            `json:"truncated"`
	TruncatedBySource map[string]int `json:"truncated_by_source"`
	// BlockAll says which rule blocks every name, when one does.
	BlockAll string `json:"block_all,omitempty"`
}

// Summarize sums p up.
func Summarize(p *compile.Plan) Summary {
	s := Summary{
		Rules: make([]RuleSummary, 0, len(p.Rules)), DomainCount: p.DomainCount,
		MaxDomains: p.Settings.MaxDomains, MonitorOnly: p.Settings.MonitorOnly,
		Sources: p.Sources, Removed: p.Removed, RemovedBySource: map[string]map[string]int{},
		Truncated: p.Truncated, TruncatedBySource: map[string]int{},
	}
	if s.Sources == nil {
		s.Sources = []string{}
	}
	if s.Removed == nil {
		s.Removed = map[string]int{}
	}
	for _, r := range p.Rules {
		s.Rules = append(s.Rules, RuleSummary{Name: r.Name, Priority: r.Priority, Action: r.Action,
			BlockResponse: r.BlockResponse, BlockOverrideDomain: r.BlockOverrideDomain,
			BlockOverrideDNSType: r.BlockOverrideDnsType, BlockOverrideTTL: r.BlockOverrideTtl,
			DomainCount: len(r.Domains)})
	}
	for src, reasons := range p.RemovedBySource {
		if len(reasons) > 0 {
			s.RemovedBySource[src] = reasons
		}
	}
	for src, n := range p.TruncatedBySource {
		if n > 0 {
			s.TruncatedBySource[src] = n
		}
	}
	if p.BlockAll != nil {
		s.BlockAll = p.BlockAll.String()
	}
	return s
}

// PlanSummary is Summarize as JSON (what GET /devices/{nickname}/plan
// serves).
func PlanSummary(p *compile.Plan) ([]byte, error) {
	b, err := json.Marshal(Summarize(p))
	if err != nil {
		return nil, fmt.Errorf("encoding the plan summary: %w", err)
	}
	return b, nil
}
