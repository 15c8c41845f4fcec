package emulator

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/rpzfw/rpzfw/internal/dnsfw"
)

// Request and response members, named as in the API model.

type tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type listOut struct {
	ID               string `json:"Id"`
	Arn              string `json:"Arn"`
	Name             string `json:"Name"`
	DomainCount      int    `json:"DomainCount"`
	Status           string `json:"Status"`
	StatusMessage    string `json:"StatusMessage,omitempty"`
	CreatorRequestID string `json:"CreatorRequestId"`
	CreationTime     string `json:"CreationTime"`
	ModificationTime string `json:"ModificationTime"`
}

type listMeta struct {
	ID               string `json:"Id"`
	Arn              string `json:"Arn"`
	Name             string `json:"Name"`
	CreatorRequestID string `json:"CreatorRequestId"`
}

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

type configOut struct {
	ID               string `json:"Id"`
	ResourceID       string `json:"ResourceId"`
	OwnerID          string `json:"OwnerId"`
	FirewallFailOpen string `json:"FirewallFailOpen"`
}

func (e *Emulator) listView(l *domainList) listOut {
	st, msg := l.status(e.now())
	return listOut{ID: l.ID, Arn: l.ARN, Name: l.Name, DomainCount: len(l.Domains), Status: st, StatusMessage: msg,
		CreatorRequestID: l.CreatorRequestID, CreationTime: l.CreationTime, ModificationTime: l.ModificationTime}
}

func groupView(a *account, g *ruleGroup) groupOut {
	return groupOut{ID: g.ID, Arn: g.ARN, Name: g.Name, RuleCount: len(g.Rules), Status: "COMPLETE", StatusMessage: "",
		OwnerID: a.ID, CreatorRequestID: g.CreatorRequestID, ShareStatus: "NOT_SHARED", CreationTime: g.CreationTime, ModificationTime: g.ModificationTime}
}

func ruleView(r *rule) ruleOut {
	return ruleOut{FirewallRuleGroupID: r.RuleGroupID, FirewallDomainListID: r.DomainListID, FirewallThreatProtectionID: r.ThreatProtectionID,
		Name: r.Name, Priority: r.Priority, Action: r.Action, BlockResponse: r.BlockResponse, BlockOverrideDomain: r.OverrideDomain,
		BlockOverrideDnsType: r.OverrideDNSType, BlockOverrideTtl: r.OverrideTTL, CreatorRequestID: r.CreatorRequestID,
		CreationTime: r.CreationTime, ModificationTime: r.ModificationTime, FirewallDomainRedirectionAction: r.RedirectionAction,
		Qtype: r.Qtype, DnsThreatProtection: r.ThreatProtection, ConfidenceThreshold: r.ConfidenceLevel}
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

// page cuts items for a List call; the token is the offset, opaque to
// callers as on AWS.
func page[T any](items []T, token string, maxResults, defaultMax int) ([]T, string, *apiError) {
	start := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		n, convErr := strconv.Atoi(string(raw))
		if err != nil || convErr != nil || n < 0 || n > len(items) {
			return nil, "", validationErr("Invalid NextToken: %s", token)
		}
		start = n
	}
	if maxResults == 0 {
		maxResults = defaultMax
	}
	end := min(start+maxResults, len(items))
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	return items[start:end], next, nil
}

func (e *Emulator) applyTags(a *account, arn string, tags []tag) {
	if len(tags) == 0 {
		return
	}
	if a.Tags[arn] == nil {
		a.Tags[arn] = map[string]string{}
	}
	for _, t := range tags {
		a.Tags[arn][t.Key] = t.Value
	}
}

// --- domain lists ---

func (e *Emulator) createFirewallDomainList(a *account, in struct {
	CreatorRequestID string `json:"CreatorRequestId"`
	Name             string
	Tags             []tag
}) (any, *apiError) {
	for _, l := range a.Lists {
		if l.CreatorRequestID == in.CreatorRequestID {
			return map[string]any{"FirewallDomainList": e.listView(l)}, nil // an idempotent retry
		}
	}
	if len(a.Lists) >= e.quotas.DomainLists {
		return nil, limitExceeded("FirewallDomainList", "Account '%s' has reached the limit of %d firewall domain lists", a.ID, e.quotas.DomainLists)
	}
	now := e.now()
	l := &domainList{ID: newID("rslvr-fdl-"), Name: in.Name, CreatorRequestID: in.CreatorRequestID,
		CreationTime: awsTime(now), ModificationTime: awsTime(now), Status: "COMPLETE", StatusMessage: "Created Firewall Domain List",
		Domains: map[string]struct{}{}}
	l.ARN = a.arn("firewall-domain-list", l.ID)
	a.Lists[l.ID] = l
	e.applyTags(a, l.ARN, in.Tags)
	return map[string]any{"FirewallDomainList": e.listView(l)}, nil
}

func (e *Emulator) getList(a *account, id string) (*domainList, *apiError) {
	l, ok := a.Lists[id]
	if !ok {
		return nil, notFound("FirewallDomainList", id)
	}
	return l, nil
}

func (e *Emulator) getFirewallDomainList(a *account, in struct {
	FirewallDomainListID string `json:"FirewallDomainListId"`
}) (any, *apiError) {
	l, err := e.getList(a, in.FirewallDomainListID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"FirewallDomainList": e.listView(l)}, nil
}

func (e *Emulator) deleteFirewallDomainList(a *account, in struct {
	FirewallDomainListID string `json:"FirewallDomainListId"`
}) (any, *apiError) {
	l, err := e.getList(a, in.FirewallDomainListID)
	if err != nil {
		return nil, err
	}
	for _, g := range a.Groups {
		for _, r := range g.Rules {
			if r.DomainListID == l.ID {
				return nil, conflict("The firewall domain list '%s' is in use by rule group '%s'", l.ID, g.ID)
			}
		}
	}
	out := e.listView(l)
	out.Status = "DELETING"
	delete(a.Lists, l.ID)
	delete(a.Tags, l.ARN)
	return map[string]any{"FirewallDomainList": out}, nil
}

func (e *Emulator) listFirewallDomainLists(a *account, in struct {
	MaxResults int
	NextToken  string
}) (any, *apiError) {
	all := make([]listMeta, 0, len(a.Lists))
	for _, l := range sortedByCreation(a.Lists, func(l *domainList) (string, string) { return l.CreationTime, l.ID }) {
		all = append(all, listMeta{ID: l.ID, Arn: l.ARN, Name: l.Name, CreatorRequestID: l.CreatorRequestID})
	}
	items, next, err := page(all, in.NextToken, in.MaxResults, 100)
	if err != nil {
		return nil, err
	}
	return map[string]any{"FirewallDomainLists": items, "NextToken": omitEmpty(next)}, nil
}

// MaxDomainsPerUpdate is the most domains one UpdateFirewallDomains takes.
const MaxDomainsPerUpdate = 1000

func (e *Emulator) updateFirewallDomains(a *account, in struct {
	FirewallDomainListID string `json:"FirewallDomainListId"`
	Operation            string
	Domains              []string
}) (any, *apiError) {
	l, err := e.getList(a, in.FirewallDomainListID)
	if err != nil {
		return nil, err
	}
	if len(in.Domains) > MaxDomainsPerUpdate {
		return nil, validationErr("The number of domains in the request (%d) exceeds the limit of %d domains per request", len(in.Domains), MaxDomainsPerUpdate)
	}
	norm := make([]string, len(in.Domains))
	for i, d := range in.Domains {
		n := dnsfw.NormalizeDomain(d)
		if verr := dnsfw.ValidateDomain(n); verr != nil {
			return nil, validationErr("Invalid domain '%s': %v", d, verr)
		}
		norm[i] = n
	}
	if st, _ := l.status(e.now()); st == "UPDATING" || st == "IMPORTING" {
		return nil, conflict("The firewall domain list '%s' is being updated (status %s); try again when it is COMPLETE", l.ID, st)
	}
	next := map[string]struct{}{}
	switch in.Operation {
	case "ADD":
		added := 0
		for _, d := range norm {
			if _, ok := l.Domains[d]; !ok {
				if _, dup := next[d]; !dup {
					next[d] = struct{}{}
					added++
				}
			}
		}
		if a.domainCount()+added > e.quotas.Domains {
			return nil, limitExceeded("FirewallDomain", "Account '%s' would exceed the limit of %d firewall domains in %s", a.ID, e.quotas.Domains, a.Region)
		}
		for d := range next {
			l.Domains[d] = struct{}{}
		}
	case "REMOVE":
		for _, d := range norm {
			delete(l.Domains, d)
		}
	case "REPLACE":
		for _, d := range norm {
			next[d] = struct{}{}
		}
		if a.domainCount()-len(l.Domains)+len(next) > e.quotas.Domains {
			return nil, limitExceeded("FirewallDomain", "Account '%s' would exceed the limit of %d firewall domains in %s", a.ID, e.quotas.Domains, a.Region)
		}
		l.Domains = next
	}
	l.sorted = nil
	now := e.now()
	l.Status, l.StatusMessage, l.SettleAt, l.ModificationTime = "UPDATING", "Updating the Firewall Domain List", now.Add(e.settle), awsTime(now)
	e.changed()
	return map[string]any{"Id": l.ID, "Name": l.Name, "Status": l.Status, "StatusMessage": l.StatusMessage}, nil
}

func (e *Emulator) listFirewallDomains(a *account, in struct {
	FirewallDomainListID string `json:"FirewallDomainListId"`
	MaxResults           int
	NextToken            string
}) (any, *apiError) {
	l, err := e.getList(a, in.FirewallDomainListID)
	if err != nil {
		return nil, err
	}
	items, next, perr := page(l.sortedDomains(), in.NextToken, in.MaxResults, 100)
	if perr != nil {
		return nil, perr
	}
	out := make([]string, len(items))
	for i, d := range items {
		out[i] = d + "." // the service returns fully qualified names
	}
	return map[string]any{"Domains": out, "NextToken": omitEmpty(next)}, nil
}

func (e *Emulator) importFirewallDomains(a *account, in struct {
	FirewallDomainListID string `json:"FirewallDomainListId"`
	Operation            string
	DomainFileURL        string `json:"DomainFileUrl"`
}) (any, *apiError) {
	l, err := e.getList(a, in.FirewallDomainListID)
	if err != nil {
		return nil, err
	}
	bucket, key, ok := parseS3URL(in.DomainFileURL)
	if !ok {
		return nil, validationErr("DomainFileUrl '%s' is not an s3://bucket/key URL", in.DomainFileURL)
	}
	if st, _ := l.status(e.now()); st == "UPDATING" || st == "IMPORTING" {
		return nil, conflict("The firewall domain list '%s' is being updated (status %s)", l.ID, st)
	}
	now := e.now()
	l.Status, l.StatusMessage, l.ModificationTime = "IMPORTING", "Importing domains", awsTime(now)
	// The import finishes no sooner than the settle delay; the fetch runs
	// outside the lock and records its result.
	l.SettleAt = now.Add(24 * time.Hour)
	go e.runImport(a.ID, a.Region, l.ID, bucket, key)
	return map[string]any{"Id": l.ID, "Name": l.Name, "Status": l.Status, "StatusMessage": l.StatusMessage}, nil
}

func parseS3URL(u string) (bucket, key string, ok bool) {
	rest, found := strings.CutPrefix(u, "s3://")
	if !found {
		return "", "", false
	}
	bucket, key, ok = strings.Cut(rest, "/")
	return bucket, key, ok && bucket != "" && key != ""
}

// --- rule groups ---

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

// --- rules ---

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

// --- associations ---

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

// --- firewall configs ---

func (e *Emulator) config(a *account, vpc string) *firewallConfig {
	c, ok := a.Configs[vpc]
	if !ok {
		c = &firewallConfig{ID: newID("rslvr-fc-"), VPCID: vpc, FailOpen: "DISABLED"}
		a.Configs[vpc] = c
	}
	return c
}

func configView(a *account, c *firewallConfig) configOut {
	return configOut{ID: c.ID, ResourceID: c.VPCID, OwnerID: a.ID, FirewallFailOpen: c.FailOpen}
}

func (e *Emulator) getFirewallConfig(a *account, in struct {
	ResourceID string `json:"ResourceId"`
}) (any, *apiError) {
	if !strings.HasPrefix(in.ResourceID, "vpc-") {
		return nil, notFound("VPC", in.ResourceID)
	}
	return map[string]any{"FirewallConfig": configView(a, e.config(a, in.ResourceID))}, nil
}

func (e *Emulator) updateFirewallConfig(a *account, in struct {
	ResourceID       string `json:"ResourceId"`
	FirewallFailOpen string
}) (any, *apiError) {
	if !strings.HasPrefix(in.ResourceID, "vpc-") {
		return nil, notFound("VPC", in.ResourceID)
	}
	c := e.config(a, in.ResourceID)
	c.FailOpen = in.FirewallFailOpen
	return map[string]any{"FirewallConfig": configView(a, c)}, nil
}

func (e *Emulator) listFirewallConfigs(a *account, in struct {
	MaxResults int
	NextToken  string
}) (any, *apiError) {
	e.config(a, e.vpc) // the emulated VPC always has one
	var all []configOut
	for _, c := range sortedByCreation(a.Configs, func(c *firewallConfig) (string, string) { return c.VPCID, c.ID }) {
		all = append(all, configView(a, c))
	}
	items, next, err := page(all, in.NextToken, in.MaxResults, 10)
	if err != nil {
		return nil, err
	}
	return map[string]any{"FirewallConfigs": items, "NextToken": omitEmpty(next)}, nil
}

// --- tags ---

func (e *Emulator) knownARN(a *account, arn string) bool {
	for _, l := range a.Lists {
		if l.ARN == arn {
			return true
		}
	}
	for _, g := range a.Groups {
		if g.ARN == arn {
			return true
		}
	}
	for _, as := range a.Assocs {
		if as.ARN == arn {
			return true
		}
	}
	return false
}

func (e *Emulator) tagResource(a *account, in struct {
	ResourceArn string
	Tags        []tag
}) (any, *apiError) {
	if !e.knownARN(a, in.ResourceArn) {
		return nil, notFound("Resource", in.ResourceArn)
	}
	e.applyTags(a, in.ResourceArn, in.Tags)
	return map[string]any{}, nil
}

func (e *Emulator) untagResource(a *account, in struct {
	ResourceArn string
	TagKeys     []string
}) (any, *apiError) {
	if !e.knownARN(a, in.ResourceArn) {
		return nil, notFound("Resource", in.ResourceArn)
	}
	for _, k := range in.TagKeys {
		delete(a.Tags[in.ResourceArn], k)
	}
	return map[string]any{}, nil
}

func (e *Emulator) listTagsForResource(a *account, in struct {
	ResourceArn string
	MaxResults  int
	NextToken   string
}) (any, *apiError) {
	if !e.knownARN(a, in.ResourceArn) {
		return nil, notFound("Resource", in.ResourceArn)
	}
	var all []tag
	for k, v := range a.Tags[in.ResourceArn] {
		all = append(all, tag{Key: k, Value: v})
	}
	sortTags(all)
	items, next, err := page(all, in.NextToken, in.MaxResults, 100)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Tags": nonNil(items), "NextToken": omitEmpty(next)}, nil
}
