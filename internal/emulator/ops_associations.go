package emulator

// Associations of rule groups with VPCs.

type assocOut struct {
	ID                  string `json:"Id"`
	Arn                 string `json:"Arn"`
	FirewallRuleGroupID string `json:"FirewallRuleGroupId"`
	VpcID               string `json:"VpcId"`
	Name                string `json:"Name"`
	Priority            int    `json:"Priority"`
	MutationProtection  string `json:"MutationProtection"`
	Status              string `json:"Status"`
	StatusMessage       string `json:"StatusMessage,omitempty"`
	CreatorRequestID    string `json:"CreatorRequestId"`
	CreationTime        string `json:"CreationTime"`
	ModificationTime    string `json:"ModificationTime"`
}

func (e *Emulator) assocView(as *association) assocOut {
	st := "COMPLETE"
	if e.now().Before(as.SettleAt) {
		st = "UPDATING"
	}
	return assocOut{ID: as.ID, Arn: as.ARN, FirewallRuleGroupID: as.RuleGroupID, VpcID: as.VPCID, Name: as.Name, Priority: as.Priority,
		MutationProtection: as.MutationProtection, Status: st, StatusMessage: "", CreatorRequestID: as.CreatorRequestID,
		CreationTime: as.CreationTime, ModificationTime: as.ModificationTime}
}

func (e *Emulator) associateFirewallRuleGroup(a *account, in struct {
	CreatorRequestID    string `json:"CreatorRequestId"`
	FirewallRuleGroupID string `json:"FirewallRuleGroupId"`
	VpcID               string `json:"VpcId"`
	Priority            int
	Name                string
	MutationProtection  string
	Tags                []tag
}) (any, *apiError) {
	for _, as := range a.Assocs {
		if as.CreatorRequestID == in.CreatorRequestID {
			return map[string]any{"FirewallRuleGroupAssociation": e.assocView(as)}, nil
		}
	}
	if _, err := e.getGroup(a, in.FirewallRuleGroupID); err != nil {
		return nil, err
	}
	if in.Priority < 101 || in.Priority > 9899 {
		return nil, validationErr("Priority %d is outside the range 101 to 9899 allowed for rule group associations", in.Priority)
	}
	for _, as := range a.Assocs {
		if as.VPCID == in.VpcID && as.RuleGroupID == in.FirewallRuleGroupID {
			return nil, conflict("Rule group '%s' is already associated with VPC '%s'", as.RuleGroupID, as.VPCID)
		}
		if as.VPCID == in.VpcID && as.Priority == in.Priority {
			return nil, conflict("Priority %d is already used by association '%s' of VPC '%s'", as.Priority, as.ID, as.VPCID)
		}
	}
	mp := in.MutationProtection
	if mp == "" {
		mp = "DISABLED"
	}
	now := e.now()
	as := &association{ID: newID("rslvr-frgassoc-"), RuleGroupID: in.FirewallRuleGroupID, VPCID: in.VpcID, Name: in.Name, Priority: in.Priority,
		MutationProtection: mp, CreatorRequestID: in.CreatorRequestID, CreationTime: awsTime(now), ModificationTime: awsTime(now), SettleAt: now.Add(e.settle)}
	as.ARN = a.arn("firewall-rule-group-association", as.ID)
	a.Assocs[as.ID] = as
	e.applyTags(a, as.ARN, in.Tags)
	e.changed()
	return map[string]any{"FirewallRuleGroupAssociation": e.assocView(as)}, nil
}

func (e *Emulator) getAssoc(a *account, id string) (*association, *apiError) {
	as, ok := a.Assocs[id]
	if !ok {
		return nil, notFound("FirewallRuleGroupAssociation", id)
	}
	return as, nil
}

func (e *Emulator) getFirewallRuleGroupAssociation(a *account, in struct {
	FirewallRuleGroupAssociationID string `json:"FirewallRuleGroupAssociationId"`
}) (any, *apiError) {
	as, err := e.getAssoc(a, in.FirewallRuleGroupAssociationID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"FirewallRuleGroupAssociation": e.assocView(as)}, nil
}

func (e *Emulator) disassociateFirewallRuleGroup(a *account, in struct {
	FirewallRuleGroupAssociationID string `json:"FirewallRuleGroupAssociationId"`
}) (any, *apiError) {
	as, err := e.getAssoc(a, in.FirewallRuleGroupAssociationID)
	if err != nil {
		return nil, err
	}
	if as.MutationProtection == "ENABLED" {
		return nil, conflict("Association '%s' has mutation protection enabled", as.ID)
	}
	out := e.assocView(as)
	out.Status = "DELETING"
	delete(a.Assocs, as.ID)
	delete(a.Tags, as.ARN)
	e.changed()
	return map[string]any{"FirewallRuleGroupAssociation": out}, nil
}

func (e *Emulator) updateFirewallRuleGroupAssociation(a *account, in struct {
	FirewallRuleGroupAssociationID string `json:"FirewallRuleGroupAssociationId"`
	Priority                       *int
	MutationProtection             string
	Name                           string
}) (any, *apiError) {
	as, err := e.getAssoc(a, in.FirewallRuleGroupAssociationID)
	if err != nil {
		return nil, err
	}
	if in.Priority != nil {
		for _, o := range a.Assocs {
			if o != as && o.VPCID == as.VPCID && o.Priority == *in.Priority {
				return nil, conflict("Priority %d is already used by association '%s'", o.Priority, o.ID)
			}
		}
		as.Priority = *in.Priority
	}
	if in.MutationProtection != "" {
		as.MutationProtection = in.MutationProtection
	}
	if in.Name != "" {
		as.Name = in.Name
	}
	now := e.now()
	as.ModificationTime, as.SettleAt = awsTime(now), now.Add(e.settle)
	e.changed()
	return map[string]any{"FirewallRuleGroupAssociation": e.assocView(as)}, nil
}

func (e *Emulator) listFirewallRuleGroupAssociations(a *account, in struct {
	FirewallRuleGroupID string `json:"FirewallRuleGroupId"`
	VpcID               string `json:"VpcId"`
	Priority            *int
	Status              string
	MaxResults          int
	NextToken           string
}) (any, *apiError) {
	var all []assocOut
	for _, as := range sortedByCreation(a.Assocs, func(as *association) (string, string) { return as.CreationTime, as.ID }) {
		v := e.assocView(as)
		if (in.FirewallRuleGroupID != "" && as.RuleGroupID != in.FirewallRuleGroupID) || (in.VpcID != "" && as.VPCID != in.VpcID) ||
			(in.Priority != nil && as.Priority != *in.Priority) || (in.Status != "" && v.Status != in.Status) {
			continue
		}
		all = append(all, v)
	}
	items, next, err := page(all, in.NextToken, in.MaxResults, 100)
	if err != nil {
		return nil, err
	}
	return map[string]any{"FirewallRuleGroupAssociations": nonNil(items), "NextToken": omitEmpty(next)}, nil
}
