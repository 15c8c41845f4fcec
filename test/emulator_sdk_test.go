package test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver/types"
	"github.com/aws/smithy-go"

	"github.com/rpzfw/rpzfw/internal/emulator"
)

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func domains(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d.example", prefix, i)
	}
	return out
}

func TestEmulatorDomainListsWithSDK(t *testing.T) {
	ctx := context.Background()
	m := startEmulator(t, emulator.Config{Settle: 100 * time.Millisecond})
	c := m.client(1)
	created, err := c.CreateFirewallDomainList(ctx, &r53r.CreateFirewallDomainListInput{
		CreatorRequestId: aws.String("req-1"), Name: aws.String("rpzfw-test"),
		Tags: []types.Tag{{Key: aws.String("rpzfw:managed"), Value: aws.String("true")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	l := created.FirewallDomainList
	if !strings.HasPrefix(*l.Id, "rslvr-fdl-") || len(*l.Id) != len("rslvr-fdl-")+17 || !strings.Contains(*l.Arn, ":firewall-domain-list/") {
		t.Errorf("id/arn do not look like AWS's: %s %s", *l.Id, *l.Arn)
	}
	if _, err := time.Parse(time.RFC3339Nano, *l.CreationTime); err != nil {
		t.Errorf("CreationTime %q: %v", *l.CreationTime, err)
	}
	// The same CreatorRequestId is an idempotent retry.
	again, err := c.CreateFirewallDomainList(ctx, &r53r.CreateFirewallDomainListInput{CreatorRequestId: aws.String("req-1"), Name: aws.String("rpzfw-test")})
	if err != nil || *again.FirewallDomainList.Id != *l.Id {
		t.Fatalf("retry made another list: %v", err)
	}

	up, err := c.UpdateFirewallDomains(ctx, &r53r.UpdateFirewallDomainsInput{FirewallDomainListId: l.Id, Operation: types.FirewallDomainUpdateOperationAdd, Domains: domains("a", 1000)})
	if err != nil || up.Status != types.FirewallDomainListStatusUpdating {
		t.Fatalf("ADD: %v %v", err, up)
	}
	// A second change before the list settles is a conflict.
	_, err = c.UpdateFirewallDomains(ctx, &r53r.UpdateFirewallDomainsInput{FirewallDomainListId: l.Id, Operation: types.FirewallDomainUpdateOperationAdd, Domains: []string{"b.example"}})
	if apiCode(err) != "ConflictException" {
		t.Fatalf("want ConflictException while UPDATING, got %v", err)
	}
	waitComplete(t, c, *l.Id)
	// More than 1000 domains: ValidationException, nothing applied.
	_, err = c.UpdateFirewallDomains(ctx, &r53r.UpdateFirewallDomainsInput{FirewallDomainListId: l.Id, Operation: types.FirewallDomainUpdateOperationAdd, Domains: domains("big", 1001)})
	if apiCode(err) != "ValidationException" {
		t.Fatalf("want ValidationException for 1001 domains, got %v", err)
	}
	_, err = c.UpdateFirewallDomains(ctx, &r53r.UpdateFirewallDomainsInput{FirewallDomainListId: l.Id, Operation: types.FirewallDomainUpdateOperationAdd, Domains: []string{"ok.example", "bad_name.example"}})
	if apiCode(err) != "ValidationException" || !strings.Contains(err.Error(), "bad_name.example") {
		t.Fatalf("want ValidationException naming the bad domain, got %v", err)
	}
	get, _ := c.GetFirewallDomainList(ctx, &r53r.GetFirewallDomainListInput{FirewallDomainListId: l.Id})
	if *get.FirewallDomainList.DomainCount != 1000 || get.FirewallDomainList.Status != types.FirewallDomainListStatusComplete {
		t.Fatalf("after rejected updates: %d domains, %s", *get.FirewallDomainList.DomainCount, get.FirewallDomainList.Status)
	}
	// REMOVE and REPLACE, with the count kept true.
	if _, err := c.UpdateFirewallDomains(ctx, &r53r.UpdateFirewallDomainsInput{FirewallDomainListId: l.Id, Operation: types.FirewallDomainUpdateOperationRemove, Domains: append(domains("a", 10), "never-there.example")}); err != nil {
		t.Fatal(err)
	}
	waitComplete(t, c, *l.Id)
	get, _ = c.GetFirewallDomainList(ctx, &r53r.GetFirewallDomainListInput{FirewallDomainListId: l.Id})
	if *get.FirewallDomainList.DomainCount != 990 {
		t.Fatalf("after REMOVE: %d", *get.FirewallDomainList.DomainCount)
	}
	// Paging: 990 names, 300 a page, trailing dots.
	var all []string
	p := r53r.NewListFirewallDomainsPaginator(c, &r53r.ListFirewallDomainsInput{FirewallDomainListId: l.Id, MaxResults: aws.Int32(300)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, out.Domains...)
	}
	if pages != 4 || len(all) != 990 || !strings.HasSuffix(all[0], ".") {
		t.Fatalf("paging: %d pages, %d names, first %q", pages, len(all), all[0])
	}
	_, err = c.ListFirewallDomains(ctx, &r53r.ListFirewallDomainsInput{FirewallDomainListId: l.Id, MaxResults: aws.Int32(5001)})
	if apiCode(err) != "ValidationException" {
		t.Fatalf("MaxResults 5001: %v", err)
	}
	if _, err := c.UpdateFirewallDomains(ctx, &r53r.UpdateFirewallDomainsInput{FirewallDomainListId: l.Id, Operation: types.FirewallDomainUpdateOperationReplace, Domains: []string{"*.Evil.Example.", "x.example"}}); err != nil {
		t.Fatal(err)
	}
	waitComplete(t, c, *l.Id)
	out, _ := c.ListFirewallDomains(ctx, &r53r.ListFirewallDomainsInput{FirewallDomainListId: l.Id})
	if strings.Join(out.Domains, ",") != "*.evil.example.,x.example." {
		t.Fatalf("after REPLACE: %v", out.Domains)
	}
	tags, err := c.ListTagsForResource(ctx, &r53r.ListTagsForResourceInput{ResourceArn: l.Arn})
	if err != nil || len(tags.Tags) != 1 || *tags.Tags[0].Key != "rpzfw:managed" {
		t.Fatalf("tags: %v %v", tags, err)
	}
	_, err = c.GetFirewallDomainList(ctx, &r53r.GetFirewallDomainListInput{FirewallDomainListId: aws.String("rslvr-fdl-nope")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("want ResourceNotFoundException, got %v", err)
	}
}

func TestEmulatorRulesAndAssociationsWithSDK(t *testing.T) {
	ctx := context.Background()
	m := startEmulator(t, emulator.Config{})
	c := m.client(1)
	g, err := c.CreateFirewallRuleGroup(ctx, &r53r.CreateFirewallRuleGroupInput{CreatorRequestId: aws.String("g1"), Name: aws.String("group")})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := c.CreateFirewallDomainList(ctx, &r53r.CreateFirewallDomainListInput{CreatorRequestId: aws.String("l1"), Name: aws.String("list")})
	l2, _ := c.CreateFirewallDomainList(ctx, &r53r.CreateFirewallDomainListInput{CreatorRequestId: aws.String("l2"), Name: aws.String("list2")})
	rule, err := c.CreateFirewallRule(ctx, &r53r.CreateFirewallRuleInput{
		CreatorRequestId: aws.String("r1"), FirewallRuleGroupId: g.FirewallRuleGroup.Id, FirewallDomainListId: l.FirewallDomainList.Id,
		Priority: aws.Int32(100), Action: types.ActionBlock, BlockResponse: types.BlockResponseNxdomain, Name: aws.String("block"),
	})
	if err != nil || rule.FirewallRule.FirewallDomainRedirectionAction != types.FirewallDomainRedirectionActionInspectRedirectionDomain {
		t.Fatalf("create rule: %v %+v", err, rule)
	}
	// Priorities are unique in a group.
	_, err = c.CreateFirewallRule(ctx, &r53r.CreateFirewallRuleInput{CreatorRequestId: aws.String("r2"), FirewallRuleGroupId: g.FirewallRuleGroup.Id,
		FirewallDomainListId: l2.FirewallDomainList.Id, Priority: aws.Int32(100), Action: types.ActionAlert, Name: aws.String("alert")})
	if apiCode(err) != "ValidationException" {
		t.Fatalf("duplicate priority: %v", err)
	}
	// OVERRIDE needs its settings.
	_, err = c.CreateFirewallRule(ctx, &r53r.CreateFirewallRuleInput{CreatorRequestId: aws.String("r3"), FirewallRuleGroupId: g.FirewallRuleGroup.Id,
		FirewallDomainListId: l2.FirewallDomainList.Id, Priority: aws.Int32(200), Action: types.ActionBlock, BlockResponse: types.BlockResponseOverride, Name: aws.String("o")})
	if apiCode(err) != "ValidationException" {
		t.Fatalf("override without domain: %v", err)
	}
	// Rules are addressed by group + list.
	upd, err := c.UpdateFirewallRule(ctx, &r53r.UpdateFirewallRuleInput{FirewallRuleGroupId: g.FirewallRuleGroup.Id, FirewallDomainListId: l.FirewallDomainList.Id,
		Action: types.ActionBlock, BlockResponse: types.BlockResponseOverride, BlockOverrideDomain: aws.String("garden.example"),
		BlockOverrideDnsType: types.BlockOverrideDnsTypeCname, BlockOverrideTtl: aws.Int32(60), Priority: aws.Int32(150)})
	if err != nil || *upd.FirewallRule.Priority != 150 || *upd.FirewallRule.BlockOverrideDomain != "garden.example" {
		t.Fatalf("update rule: %v %+v", err, upd)
	}
	// A list in use cannot be deleted.
	if _, err := c.DeleteFirewallDomainList(ctx, &r53r.DeleteFirewallDomainListInput{FirewallDomainListId: l.FirewallDomainList.Id}); apiCode(err) != "ConflictException" {
		t.Fatalf("delete list in use: %v", err)
	}
	as, err := c.AssociateFirewallRuleGroup(ctx, &r53r.AssociateFirewallRuleGroupInput{CreatorRequestId: aws.String("a1"), FirewallRuleGroupId: g.FirewallRuleGroup.Id,
		VpcId: aws.String(m.e.VPCID()), Priority: aws.Int32(101), Name: aws.String("assoc")})
	if err != nil || !strings.HasPrefix(*as.FirewallRuleGroupAssociation.Id, "rslvr-frgassoc-") {
		t.Fatalf("associate: %v", err)
	}
	rules, _ := c.ListFirewallRules(ctx, &r53r.ListFirewallRulesInput{FirewallRuleGroupId: g.FirewallRuleGroup.Id})
	if len(rules.FirewallRules) != 1 {
		t.Fatalf("list rules: %+v", rules)
	}
	assocs, _ := c.ListFirewallRuleGroupAssociations(ctx, &r53r.ListFirewallRuleGroupAssociationsInput{VpcId: aws.String(m.e.VPCID())})
	if len(assocs.FirewallRuleGroupAssociations) != 1 {
		t.Fatalf("list associations: %+v", assocs)
	}
	cfgs, err := c.ListFirewallConfigs(ctx, &r53r.ListFirewallConfigsInput{})
	if err != nil || len(cfgs.FirewallConfigs) != 1 || *cfgs.FirewallConfigs[0].ResourceId != m.e.VPCID() {
		t.Fatalf("configs: %v %+v", err, cfgs)
	}
	if _, err := c.UpdateFirewallConfig(ctx, &r53r.UpdateFirewallConfigInput{ResourceId: aws.String(m.e.VPCID()), FirewallFailOpen: types.FirewallFailOpenStatusEnabled}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutFirewallRuleGroupPolicy(ctx, &r53r.PutFirewallRuleGroupPolicyInput{Arn: g.FirewallRuleGroup.Arn, FirewallRuleGroupPolicy: aws.String(`{"Version":"2012-10-17"}`)}); err != nil {
		t.Fatal(err)
	}
	pol, err := c.GetFirewallRuleGroupPolicy(ctx, &r53r.GetFirewallRuleGroupPolicyInput{Arn: g.FirewallRuleGroup.Arn})
	if err != nil || !strings.Contains(*pol.FirewallRuleGroupPolicy, "2012-10-17") {
		t.Fatalf("policy: %v", err)
	}
	// Deleting a group that is associated is a conflict; after
	// disassociating and deleting its rule it goes.
	if _, err := c.DeleteFirewallRuleGroup(ctx, &r53r.DeleteFirewallRuleGroupInput{FirewallRuleGroupId: g.FirewallRuleGroup.Id}); apiCode(err) != "ConflictException" {
		t.Fatalf("delete associated group: %v", err)
	}
	if _, err := c.DisassociateFirewallRuleGroup(ctx, &r53r.DisassociateFirewallRuleGroupInput{FirewallRuleGroupAssociationId: as.FirewallRuleGroupAssociation.Id}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteFirewallRule(ctx, &r53r.DeleteFirewallRuleInput{FirewallRuleGroupId: g.FirewallRuleGroup.Id, FirewallDomainListId: l.FirewallDomainList.Id}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteFirewallRuleGroup(ctx, &r53r.DeleteFirewallRuleGroupInput{FirewallRuleGroupId: g.FirewallRuleGroup.Id}); err != nil {
		t.Fatal(err)
	}
	// Name patterns come from the API model.
	_, err = c.CreateFirewallRuleGroup(ctx, &r53r.CreateFirewallRuleGroupInput{CreatorRequestId: aws.String("g2"), Name: aws.String("12345")})
	if apiCode(err) != "ValidationException" {
		t.Fatalf("all-digit name: %v", err)
	}
}

func TestEmulatorQuotas(t *testing.T) {
	ctx := context.Background()
	m := startEmulator(t, emulator.Config{Quotas: emulator.Quotas{Domains: 1500, DomainLists: 2, RulesPerGroup: 1, RuleGroups: 1}})
	c := m.client(1)
	l1, _ := c.CreateFirewallDomainList(ctx, &r53r.CreateFirewallDomainListInput{CreatorRequestId: aws.String("1"), Name: aws.String("one")})
	l2, _ := c.CreateFirewallDomainList(ctx, &r53r.CreateFirewallDomainListInput{CreatorRequestId: aws.String("2"), Name: aws.String("two")})
	_, err := c.CreateFirewallDomainList(ctx, &r53r.CreateFirewallDomainListInput{CreatorRequestId: aws.String("3"), Name: aws.String("three")})
	var le *types.LimitExceededException
	if !errors.As(err, &le) || *le.ResourceType != "FirewallDomainList" {
		t.Fatalf("third list: %v", err)
	}
	if _, err := c.UpdateFirewallDomains(ctx, &r53r.UpdateFirewallDomainsInput{FirewallDomainListId: l1.FirewallDomainList.Id, Operation: types.FirewallDomainUpdateOperationAdd, Domains: domains("a", 1000)}); err != nil {
		t.Fatal(err)
	}
	// The domains quota counts every list of the account and region.
	_, err = c.UpdateFirewallDomains(ctx, &r53r.UpdateFirewallDomainsInput{FirewallDomainListId: l2.FirewallDomainList.Id, Operation: types.FirewallDomainUpdateOperationAdd, Domains: domains("b", 600)})
	if !errors.As(err, &le) || *le.ResourceType != "FirewallDomain" {
		t.Fatalf("over the domains quota: %v", err)
	}
	g, _ := c.CreateFirewallRuleGroup(ctx, &r53r.CreateFirewallRuleGroupInput{CreatorRequestId: aws.String("g"), Name: aws.String("g")})
	if _, err := c.CreateFirewallRuleGroup(ctx, &r53r.CreateFirewallRuleGroupInput{CreatorRequestId: aws.String("g2"), Name: aws.String("g2")}); !errors.As(err, &le) {
		t.Fatalf("second group: %v", err)
	}
	mk := func(id *string, prio int32) error {
		_, err := c.CreateFirewallRule(ctx, &r53r.CreateFirewallRuleInput{CreatorRequestId: aws.String(fmt.Sprint(prio)), FirewallRuleGroupId: g.FirewallRuleGroup.Id,
			FirewallDomainListId: id, Priority: aws.Int32(prio), Action: types.ActionAlert, Name: aws.String("r")})
		return err
	}
	if err := mk(l1.FirewallDomainList.Id, 1); err != nil {
		t.Fatal(err)
	}
	if err := mk(l2.FirewallDomainList.Id, 2); !errors.As(err, &le) || *le.ResourceType != "FirewallRule" {
		t.Fatalf("second rule: %v", err)
	}
}

func TestEmulatorThrottleAndFaults(t *testing.T) {
	ctx := context.Background()
	m := startEmulator(t, emulator.Config{Faults: emulator.Faults{ThrottleRPS: 5}})
	c := m.client(1)
	throttled := 0
	start := time.Now()
	for range 20 {
		if _, err := c.ListFirewallDomainLists(ctx, &r53r.ListFirewallDomainListsInput{}); apiCode(err) == "ThrottlingException" {
			throttled++
		}
	}
	if throttled == 0 || time.Since(start) > 2*time.Second {
		t.Fatalf("20 quick calls at 5/s: %d throttled", throttled)
	}
	// With retries the SDK gets through throttling and injected 500s.
	m.e.SetFaults(emulator.Faults{ThrottleRPS: 5, Ops: map[string]emulator.OpFault{"ListFirewallDomainLists": {ErrorCount: 2}}})
	time.Sleep(time.Second)
	if _, err := m.client(5).ListFirewallDomainLists(ctx, &r53r.ListFirewallDomainListsInput{}); err != nil {
		t.Fatalf("with retries: %v", err)
	}
	st := m.e.Stats()["ListFirewallDomainLists"]
	if st.Errors < 2 || st.Throttled != throttled {
		t.Fatalf("stats: %+v", st)
	}
	m.e.SetFaults(emulator.Faults{Ops: map[string]emulator.OpFault{"*": {ErrorCount: 1}}})
	_, err := c.ListFirewallRuleGroups(ctx, &r53r.ListFirewallRuleGroupsInput{})
	var ie *types.InternalServiceErrorException
	if !errors.As(err, &ie) {
		t.Fatalf("injected 500: %v", err)
	}
}
