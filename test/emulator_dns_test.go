package test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver/types"
	"github.com/miekg/dns"

	"github.com/rpzfw/rpzfw/internal/emulator"
)

// ruleSpec sets up one rule with its own list.
type ruleSpec struct {
	priority int32
	action   types.Action
	response types.BlockResponse
	override string
	ttl      int32
	qtype    string
	domains  []string
}

func makeGroup(t *testing.T, c *r53r.Client, vpc string, assocPriority int32, rules ...ruleSpec) {
	t.Helper()
	ctx := context.Background()
	id := fmt.Sprint("g", assocPriority)
	g, err := c.CreateFirewallRuleGroup(ctx, &r53r.CreateFirewallRuleGroupInput{CreatorRequestId: aws.String(id), Name: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rules {
		rid := fmt.Sprintf("%s-%d", id, i)
		l, err := c.CreateFirewallDomainList(ctx, &r53r.CreateFirewallDomainListInput{CreatorRequestId: aws.String(rid), Name: aws.String(rid)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.UpdateFirewallDomains(ctx, &r53r.UpdateFirewallDomainsInput{FirewallDomainListId: l.FirewallDomainList.Id, Operation: types.FirewallDomainUpdateOperationAdd, Domains: r.domains}); err != nil {
			t.Fatal(err)
		}
		in := &r53r.CreateFirewallRuleInput{CreatorRequestId: aws.String(rid), FirewallRuleGroupId: g.FirewallRuleGroup.Id, FirewallDomainListId: l.FirewallDomainList.Id,
			Priority: aws.Int32(r.priority), Action: r.action, BlockResponse: r.response, Name: aws.String(rid)}
		if r.override != "" {
			in.BlockOverrideDomain, in.BlockOverrideDnsType, in.BlockOverrideTtl = aws.String(r.override), types.BlockOverrideDnsTypeCname, aws.Int32(r.ttl)
		}
		if r.qtype != "" {
			in.Qtype = aws.String(r.qtype)
		}
		if _, err := c.CreateFirewallRule(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.AssociateFirewallRuleGroup(ctx, &r53r.AssociateFirewallRuleGroupInput{CreatorRequestId: aws.String(id), FirewallRuleGroupId: g.FirewallRuleGroup.Id,
		VpcId: aws.String(vpc), Priority: aws.Int32(assocPriority), Name: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
}

type dnsAnswer struct {
	rcode   string
	answers []dns.RR
}

func query(t *testing.T, addr, net, name string, qtype uint16) dnsAnswer {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	c := &dns.Client{Net: net, Timeout: 3 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("querying %s over %s: %v", name, net, err)
	}
	return dnsAnswer{rcode: dns.RcodeToString[r.Rcode], answers: r.Answer}
}

func TestEmulatorDNS(t *testing.T) {
	m := startEmulator(t, emulator.Config{})
	c := m.client(3)
	vpc := m.e.VPCID()
	// Group 200 is evaluated after group 101, whatever the rule priorities.
	makeGroup(t, c, vpc, 200,
		ruleSpec{priority: 1, action: types.ActionBlock, response: types.BlockResponseNxdomain, domains: []string{"*.example", "order.test"}},
	)
	makeGroup(t, c, vpc, 101,
		ruleSpec{priority: 10, action: types.ActionAllow, domains: []string{"allowed.example"}},
		ruleSpec{priority: 20, action: types.ActionBlock, response: types.BlockResponseNodata, domains: []string{"nodata.example", "order.test"}},
		ruleSpec{priority: 30, action: types.ActionBlock, response: types.BlockResponseOverride, override: "garden.test", ttl: 77, domains: []string{"*.walled.example"}},
		ruleSpec{priority: 40, action: types.ActionAlert, domains: []string{"alert.test"}},
		ruleSpec{priority: 50, action: types.ActionBlock, response: types.BlockResponseNxdomain, qtype: "AAAA", domains: []string{"v6only.test"}},
		ruleSpec{priority: 60, action: types.ActionBlock, response: types.BlockResponseNxdomain, domains: []string{"*.war.test"}},
	)
	addr := m.dp.Addr()
	for _, transport := range []string{"udp", "tcp"} {
		tests := []struct {
			name  string
			qtype uint16
			rcode string
			check func(dnsAnswer) bool
		}{
			{"x.example", dns.TypeA, "NXDOMAIN", nil},
			{"deep.x.example", dns.TypeA, "NXDOMAIN", nil},
			{"example", dns.TypeA, "NOERROR", hasA}, // "*.example" is strict
			{"allowed.example", dns.TypeA, "NOERROR", hasA},
			{"nodata.example", dns.TypeA, "NOERROR", func(a dnsAnswer) bool { return len(a.answers) == 0 }},
			{"order.test", dns.TypeA, "NOERROR", func(a dnsAnswer) bool { return len(a.answers) == 0 }}, // group 101 first
			{"a.walled.example", dns.TypeA, "NOERROR", func(a dnsAnswer) bool {
				cn, ok := a.answers[0].(*dns.CNAME)
				return ok && cn.Target == "garden.test." && cn.Hdr.Ttl == 77 && len(a.answers) == 2
			}},
			{"walled.example", dns.TypeA, "NXDOMAIN", nil}, // exact name falls to *.example
			{"alert.test", dns.TypeA, "NOERROR", hasA},
			{"ALERT.Test", dns.TypeAAAA, "NOERROR", func(a dnsAnswer) bool { return len(a.answers) == 1 }},
			{"v6only.test", dns.TypeAAAA, "NXDOMAIN", nil},
			{"v6only.test", dns.TypeA, "NOERROR", hasA},
			{"clean.org", dns.TypeA, "NOERROR", hasA},
			{"mal.war.test", dns.TypeA, "NXDOMAIN", nil},
			{`mal\.war.test`, dns.TypeA, "NOERROR", hasA}, // one label "mal.war" under test
			{`a.mal\.war.test`, dns.TypeA, "NOERROR", hasA},
		}
		for _, tc := range tests {
			a := query(t, addr, transport, tc.name, tc.qtype)
			if a.rcode != tc.rcode || (tc.check != nil && !tc.check(a)) {
				t.Errorf("%s %s %s: %s %v", transport, tc.name, dns.TypeToString[tc.qtype], a.rcode, a.answers)
			}
		}
	}
}

func hasA(a dnsAnswer) bool {
	if len(a.answers) != 1 {
		return false
	}
	rr, ok := a.answers[0].(*dns.A)
	return ok && rr.A.Equal(emulator.SyntheticA)
}

// With an upstream, passed queries are forwarded and CNAME chains are
// inspected.
func TestEmulatorDNSUpstreamAndRedirection(t *testing.T) {
	up := startChainUpstream(t)
	e, err := emulator.New(emulator.Config{Settle: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	m := &emu{e: e}
	srvURL := serveHTTP(t, e)
	m.url = srvURL
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dp := e.NewDataPlane(emulator.DNSConfig{Upstream: up})
	if err := dp.ListenAndServe(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	makeGroup(t, m.client(3), e.VPCID(), 101, ruleSpec{priority: 1, action: types.ActionBlock, response: types.BlockResponseNxdomain, domains: []string{"tracker.test"}})
	if a := query(t, dp.Addr(), "udp", "plain.test", dns.TypeA); a.rcode != "NOERROR" || len(a.answers) != 1 || a.answers[0].(*dns.A).A.String() != "198.51.100.7" {
		t.Errorf("forwarded answer: %+v", a)
	}
	// cname.test points at tracker.test: INSPECT_REDIRECTION_DOMAIN blocks it.
	if a := query(t, dp.Addr(), "udp", "cname.test", dns.TypeA); a.rcode != "NXDOMAIN" {
		t.Errorf("redirection to a blocked name: %+v", a)
	}
}
