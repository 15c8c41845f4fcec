package emulator

// Rules of a rule group: create, update, delete, list.

type ruleOut struct {
	FirewallRuleGroupID             string `json:"FirewallRuleGroupId"`
	FirewallDomainListID            string `json:"FirewallDomainListId,omitempty"`
	FirewallThreatProtectionID      string `json:"FirewallThreatProtectionId,omitempty"`
	Name                            string `json:"Name"`
	Priority                        int    `json:"Priority"`
	Action                          string `json:"Action"`
	BlockResponse                   string `json:"BlockResponse,omitempty"`
	BlockOverrideDomain             string `json:"BlockOverrideDomain,omitempty"`
	BlockOverrideDnsType            string `json:"BlockOverrideDnsType,omitempty"`
	BlockOverrideTtl                *int   `json:"BlockOverrideTtl,omitempty"`
	CreatorRequestID                string `json:"CreatorRequestId"`
	CreationTime                    string `json:"CreationTime"`
	ModificationTime                string `json:"ModificationTime"`
	FirewallDomainRedirectionAction string `json:"FirewallDomainRedirectionAction,omitempty"`
	Qtype                           string `json:"Qtype,omitempty"`
	DnsThreatProtection             string `json:"DnsThreatProtection,omitempty"`
	ConfidenceThreshold             string `json:"ConfidenceThreshold,omitempty"`
}

func ruleView(r *rule) ruleOut {
	return ruleOut{FirewallRuleGroupID: r.RuleGroupID, FirewallDomainListID: r.DomainListID, FirewallThreatProtectionID: r.ThreatProtectionID,
		Name: r.Name, Priority: r.Priority, Action: r.Action, BlockResponse: r.BlockResponse, BlockOverrideDomain: r.OverrideDomain,
		BlockOverrideDnsType: r.OverrideDNSType, BlockOverrideTtl: r.OverrideTTL, CreatorRequestID: r.CreatorRequestID,
		CreationTime: r.CreationTime, ModificationTime: r.ModificationTime, FirewallDomainRedirectionAction: r.RedirectionAction,
		Qtype: r.Qtype, DnsThreatProtection: r.ThreatProtection, ConfidenceThreshold: r.ConfidenceLevel}
}

type ruleInput struct {
	CreatorRequestID                string `json:"CreatorRequestId"`
	FirewallRuleGroupID             string `json:"FirewallRuleGroupId"`
	FirewallDomainListID            string `json:"FirewallDomainListId"`
	FirewallThreatProtectionID      string `json:"FirewallThreatProtectionId"`
	Priority                        *int
	Action                          string
	BlockResponse                   string
	BlockOverrideDomain             string
	BlockOverrideDnsType            string
	BlockOverrideTtl                *int
	Name                            string
	FirewallDomainRedirectionAction string
	Qtype                           string
	DnsThreatProtection             string
	ConfidenceThreshold             string
}

// checkBlock applies the rules the API states in words: BLOCK needs a
// response, OVERRIDE needs its three settings.
func checkBlock(action, response, domain, dnsType string, ttl *int) *apiError {
	if action != "BLOCK" {
		return nil
	}
	if response == "" {
		return validationErr("BlockResponse is required when Action is BLOCK")
	}
	if response == "OVERRIDE" && (domain == "" || dnsType == "" || ttl == nil) {
		return validationErr("BlockOverrideDomain, BlockOverrideDnsType and BlockOverrideTtl are required when BlockResponse is OVERRIDE")
	}
	return nil
}

func (e *Emulator) createFirewallRule(a *account, in ruleInput) (any, *apiError) {
	g, err := e.getGroup(a, in.FirewallRuleGroupID)
	if err != nil {
		return nil, err
	}
	for _, r := range g.Rules {
		if r.CreatorRequestID == in.CreatorRequestID {
			return map[string]any{"FirewallRule": ruleView(r)}, nil
		}
	}
	if (in.FirewallDomainListID == "") == (in.DnsThreatProtection == "") {
		return nil, validationErr("A rule needs exactly one of FirewallDomainListId and DnsThreatProtection")
	}
	if in.FirewallDomainListID != "" {
		if _, err := e.getList(a, in.FirewallDomainListID); err != nil {
			return nil, err
		}
	}
	if err := checkBlock(in.Action, in.BlockResponse, in.BlockOverrideDomain, in.BlockOverrideDnsType, in.BlockOverrideTtl); err != nil {
		return nil, err
	}
	if len(g.Rules) >= e.quotas.RulesPerGroup {
		return nil, limitExceeded("FirewallRule", "Rule group '%s' has reached the limit of %d rules", g.ID, e.quotas.RulesPerGroup)
	}
	for _, r := range g.Rules {
		if r.Priority == *in.Priority {
			return nil, validationErr("The priority %d is already used by rule '%s' in rule group '%s'", r.Priority, r.Name, g.ID)
		}
		if in.FirewallDomainListID != "" && r.DomainListID == in.FirewallDomainListID && r.Qtype == in.Qtype {
			return nil, validationErr("Rule group '%s' already has a rule for domain list '%s'", g.ID, r.DomainListID)
		}
	}
	now := awsTime(e.now())
	redirect := in.FirewallDomainRedirectionAction
	if redirect == "" {
		redirect = "INSPECT_REDIRECTION_DOMAIN"
	}
	r := &rule{RuleGroupID: g.ID, DomainListID: in.FirewallDomainListID, Name: in.Name, Priority: *in.Priority, Action: in.Action,
		BlockResponse: in.BlockResponse, OverrideDomain: in.BlockOverrideDomain, OverrideDNSType: in.BlockOverrideDnsType, OverrideTTL: in.BlockOverrideTtl,
		CreatorRequestID: in.CreatorRequestID, CreationTime: now, ModificationTime: now, RedirectionAction: redirect, Qtype: in.Qtype,
		ThreatProtection: in.DnsThreatProtection, ConfidenceLevel: in.ConfidenceThreshold}
	if in.DnsThreatProtection != "" {
		r.ThreatProtectionID = newID("rslvr-ftp-")
	}
	g.Rules = append(g.Rules, r)
	g.sortRules()
	g.ModificationTime = now
	e.changed()
	return map[string]any{"FirewallRule": ruleView(r)}, nil
}

// findRule addresses a rule the way the API does: group + list (+ Qtype),
// or group + threat protection ID.
func (e *Emulator) findRule(a *account, groupID, listID, tpID, qtype string) (*ruleGroup, int, *apiError) {
	g, err := e.getGroup(a, groupID)
	if err != nil {
		return nil, 0, err
	}
	if listID == "" && tpID == "" {
		return nil, 0, validationErr("Give FirewallDomainListId or FirewallThreatProtectionId to name the rule")
	}
	for i, r := range g.Rules {
		if (listID != "" && r.DomainListID == listID && r.Qtype == qtype) || (tpID != "" && r.ThreatProtectionID == tpID) {
			return g, i, nil
		}
	}
	return nil, 0, notFound("FirewallRule", groupID+"/"+listID+tpID)
}

func (e *Emulator) deleteFirewallRule(a *account, in ruleInput) (any, *apiError) {
	g, i, err := e.findRule(a, in.FirewallRuleGroupID, in.FirewallDomainListID, in.FirewallThreatProtectionID, in.Qtype)
	if err != nil {
		return nil, err
	}
	r := g.Rules[i]
	g.Rules = append(g.Rules[:i], g.Rules[i+1:]...)
	g.ModificationTime = awsTime(e.now())
	e.changed()
	return map[string]any{"FirewallRule": ruleView(r)}, nil
}

func (e *Emulator) updateFirewallRule(a *account, in ruleInput) (any, *apiError) {
	g, i, err := e.findRule(a, in.FirewallRuleGroupID, in.FirewallDomainListID, in.FirewallThreatProtectionID, in.Qtype)
	if err != nil {
		return nil, err
	}
	r := *g.Rules[i] // change a copy, so a rejected update changes nothing
	if in.Priority != nil {
		for j, o := range g.Rules {
			if j != i && o.Priority == *in.Priority {
				return nil, validationErr("The priority %d is already used by rule '%s' in rule group '%s'", o.Priority, o.Name, g.ID)
			}
		}
		r.Priority = *in.Priority
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&r.Action, in.Action)
	set(&r.Name, in.Name)
	set(&r.BlockResponse, in.BlockResponse)
	set(&r.OverrideDomain, in.BlockOverrideDomain)
	set(&r.OverrideDNSType, in.BlockOverrideDnsType)
	set(&r.RedirectionAction, in.FirewallDomainRedirectionAction)
	if in.BlockOverrideTtl != nil {
		r.OverrideTTL = in.BlockOverrideTtl
	}
	if r.Action != "BLOCK" {
		r.BlockResponse, r.OverrideDomain, r.OverrideDNSType, r.OverrideTTL = "", "", "", nil
	} else if r.BlockResponse != "OVERRIDE" {
		r.OverrideDomain, r.OverrideDNSType, r.OverrideTTL = "", "", nil
	}
	if err := checkBlock(r.Action, r.BlockResponse, r.OverrideDomain, r.OverrideDNSType, r.OverrideTTL); err != nil {
		return nil, err
	}
	r.ModificationTime = awsTime(e.now())
	*g.Rules[i] = r
	g.sortRules()
	e.changed()
	return map[string]any{"FirewallRule": ruleView(&r)}, nil
}

func (e *Emulator) listFirewallRules(a *account, in struct {
	FirewallRuleGroupID string `json:"FirewallRuleGroupId"`
	Priority            *int
	Action              string
	MaxResults          int
	NextToken           string
}) (any, *apiError) {
	g, err := e.getGroup(a, in.FirewallRuleGroupID)
	if err != nil {
		return nil, err
	}
	var all []ruleOut
	for _, r := range g.Rules {
		if (in.Priority != nil && r.Priority != *in.Priority) || (in.Action != "" && r.Action != in.Action) {
			continue
		}
		all = append(all, ruleView(r))
	}
	items, next, perr := page(all, in.NextToken, in.MaxResults, 100)
	if perr != nil {
		return nil, perr
	}
	return map[string]any{"FirewallRules": nonNil(items), "NextToken": omitEmpty(next)}, nil
}
