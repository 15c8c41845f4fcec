package emulator

// Rule groups: create, read, delete, list, and their sharing policy.

type groupOut struct {
	ID               string `json:"Id"`
	Arn              string `json:"Arn"`
	Name             string `json:"Name"`
	RuleCount        int    `json:"RuleCount"`
	Status           string `json:"Status"`
	StatusMessage    string `json:"StatusMessage,omitempty"`
	OwnerID          string `json:"OwnerId"`
	CreatorRequestID string `json:"CreatorRequestId"`
	ShareStatus      string `json:"ShareStatus"`
	CreationTime     string `json:"CreationTime"`
	ModificationTime string `json:"ModificationTime"`
}

type groupMeta struct {
	ID               string `json:"Id"`
	Arn              string `json:"Arn"`
	Name             string `json:"Name"`
	OwnerID          string `json:"OwnerId"`
	CreatorRequestID string `json:"CreatorRequestId"`
	ShareStatus      string `json:"ShareStatus"`
}

func groupView(a *account, g *ruleGroup) groupOut {
	return groupOut{ID: g.ID, Arn: g.ARN, Name: g.Name, RuleCount: len(g.Rules), Status: "COMPLETE", StatusMessage: "",
		OwnerID: a.ID, CreatorRequestID: g.CreatorRequestID, ShareStatus: "NOT_SHARED", CreationTime: g.CreationTime, ModificationTime: g.ModificationTime}
}

func (e *Emulator) createFirewallRuleGroup(a *account, in struct {
	CreatorRequestID string `json:"CreatorRequestId"`
	Name             string
	Tags             []tag
}) (any, *apiError) {
	for _, g := range a.Groups {
		if g.CreatorRequestID == in.CreatorRequestID {
			return map[string]any{"FirewallRuleGroup": groupView(a, g)}, nil
		}
	}
	if len(a.Groups) >= e.quotas.RuleGroups {
		return nil, limitExceeded("FirewallRuleGroup", "Account '%s' has reached the limit of %d firewall rule groups", a.ID, e.quotas.RuleGroups)
	}
	now := awsTime(e.now())
	g := &ruleGroup{ID: newID("rslvr-frg-"), Name: in.Name, CreatorRequestID: in.CreatorRequestID, CreationTime: now, ModificationTime: now}
	g.ARN = a.arn("firewall-rule-group", g.ID)
	a.Groups[g.ID] = g
	e.applyTags(a, g.ARN, in.Tags)
	return map[string]any{"FirewallRuleGroup": groupView(a, g)}, nil
}

func (e *Emulator) getGroup(a *account, id string) (*ruleGroup, *apiError) {
	g, ok := a.Groups[id]
	if !ok {
		return nil, notFound("FirewallRuleGroup", id)
	}
	return g, nil
}

func (e *Emulator) getFirewallRuleGroup(a *account, in struct {
	FirewallRuleGroupID string `json:"FirewallRuleGroupId"`
}) (any, *apiError) {
	g, err := e.getGroup(a, in.FirewallRuleGroupID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"FirewallRuleGroup": groupView(a, g)}, nil
}

func (e *Emulator) deleteFirewallRuleGroup(a *account, in struct {
	FirewallRuleGroupID string `json:"FirewallRuleGroupId"`
}) (any, *apiError) {
	g, err := e.getGroup(a, in.FirewallRuleGroupID)
	if err != nil {
		return nil, err
	}
	for _, as := range a.Assocs {
		if as.RuleGroupID == g.ID {
			return nil, conflict("The firewall rule group '%s' is associated with VPC '%s'", g.ID, as.VPCID)
		}
	}
	if len(g.Rules) > 0 {
		return nil, conflict("The firewall rule group '%s' still has %d rules", g.ID, len(g.Rules))
	}
	out := groupView(a, g)
	out.Status = "DELETING"
	delete(a.Groups, g.ID)
	delete(a.Tags, g.ARN)
	return map[string]any{"FirewallRuleGroup": out}, nil
}

func (e *Emulator) listFirewallRuleGroups(a *account, in struct {
	MaxResults int
	NextToken  string
}) (any, *apiError) {
	var all []groupMeta
	for _, g := range sortedByCreation(a.Groups, func(g *ruleGroup) (string, string) { return g.CreationTime, g.ID }) {
		all = append(all, groupMeta{ID: g.ID, Arn: g.ARN, Name: g.Name, OwnerID: a.ID, CreatorRequestID: g.CreatorRequestID, ShareStatus: "NOT_SHARED"})
	}
	items, next, err := page(all, in.NextToken, in.MaxResults, 100)
	if err != nil {
		return nil, err
	}
	return map[string]any{"FirewallRuleGroups": nonNil(items), "NextToken": omitEmpty(next)}, nil
}

func (e *Emulator) getFirewallRuleGroupPolicy(a *account, in struct{ Arn string }) (any, *apiError) {
	for _, g := range a.Groups {
		if g.ARN == in.Arn {
			return map[string]any{"FirewallRuleGroupPolicy": g.Policy}, nil
		}
	}
	return nil, notFound("FirewallRuleGroup", in.Arn)
}

func (e *Emulator) putFirewallRuleGroupPolicy(a *account, in struct {
	Arn                     string
	FirewallRuleGroupPolicy string
}) (any, *apiError) {
	for _, g := range a.Groups {
		if g.ARN == in.Arn {
			g.Policy = in.FirewallRuleGroupPolicy
			return map[string]any{"ReturnValue": true}, nil
		}
	}
	return nil, notFound("FirewallRuleGroup", in.Arn)
}
