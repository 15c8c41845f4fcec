package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver/types"

	"github.com/rpzfw/rpzfw/internal/awsclient"
	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/emulator"
	"github.com/rpzfw/rpzfw/internal/store"
)

// firewallWithRules runs the emulator with a rule group holding an allow
// rule first and a rule of the names given (action BLOCK, or ALERT in
// monitor-only mode) that means NXDOMAIN, as a sync leaves it.
func firewallWithRules(t *testing.T, blocked []string, action types.Action) (endpoint, group string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	emu, err := emulator.Serve(ctx, emulator.ServeConfig{APIAddr: "127.0.0.1:0", Config: emulator.Config{Settle: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	o := awsclient.Options{Region: "us-east-1", Endpoint: emu.APIURL, AccessKeyID: testAccessKey, SecretAccessKey: testSecretKey}
	cfg, err := awsclient.Config(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	api := awsclient.Resolver(cfg, o)
	g, err := api.CreateFirewallRuleGroup(ctx, &r53r.CreateFirewallRuleGroupInput{CreatorRequestId: aws.String("g"), Name: aws.String("g")})
	if err != nil {
		t.Fatal(err)
	}
	group = aws.ToString(g.FirewallRuleGroup.Id)
	for i, rl := range []struct {
		name    string
		action  types.Action
		domains []string
	}{{"rpzfw-1-allow", types.ActionAllow, []string{"good.example"}}, {"rpzfw-2-nxdomain", action, blocked}} {
		l, err := api.CreateFirewallDomainList(ctx, &r53r.CreateFirewallDomainListInput{CreatorRequestId: aws.String(rl.name), Name: aws.String(rl.name)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := api.UpdateFirewallDomains(ctx, &r53r.UpdateFirewallDomainsInput{FirewallDomainListId: l.FirewallDomainList.Id, Operation: types.FirewallDomainUpdateOperationAdd, Domains: rl.domains}); err != nil {
			t.Fatal(err)
		}
		in := &r53r.CreateFirewallRuleInput{CreatorRequestId: aws.String(rl.name), FirewallRuleGroupId: &group, FirewallDomainListId: l.FirewallDomainList.Id,
			Priority: aws.Int32(int32(1000 + 100*i)), Name: aws.String(rl.name), Action: rl.action}
		if rl.action == types.ActionBlock {
			in.BlockResponse = types.BlockResponseNxdomain
		}
		if _, err := api.CreateFirewallRule(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	return emu.APIURL, group
}

// fwDevice stores a device of org A on the emulator's rule group.
func fwDevice(t *testing.T, e *env, nick, group, endpoint string) store.Device {
	t.Helper()
	sealed, err := e.keys.Seal([]byte(testSecretKey), store.PurposeDeviceSecret)
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.store.CreateDevice(context.Background(), store.Device{OrgID: e.orgA.ID, Nickname: nick, Provider: device.ProviderAWS, Policy: "mine",
		Region: "us-east-1", RuleGroupID: group, EndpointURL: endpoint, PriorityBand: "1000-9000", CredKind: store.CredAccessKey,
		AccessKeyID: testAccessKey, SecretKey: sealed, MaxPolicySize: 100})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// happyPortalDevices walks the portal's device routes to a 2xx.
func happyPortalDevices(t *testing.T, e *env) {
	endpoint, group := firewallWithRules(t, []string{"*.worse.example", "bad.example"}, types.ActionBlock)
	// Stored directly, and removed at the end: the walk counts the API's
	// own edits.
	d := fwDevice(t, e, "fw-1", group, endpoint)
	defer func() {
		if err := e.store.DeleteDevice(context.Background(), d.ID); err != nil {
			t.Fatal(err)
		}
	}()
	e.wantError(409, CodeConflict, "", "GET", "/api/v1/devices/fw-1/iam-policy", e.viewer, nil)
	if err := e.store.SetAccount(context.Background(), d.ID, "111122223333"); err != nil {
		t.Fatal(err)
	}
	var pol struct {
		Account string
		Policy  map[string]any
	}
	e.must(200, "GET", "/api/v1/devices/fw-1/iam-policy", e.viewer, nil).json(t, &pol)
	if raw, _ := json.Marshal(pol.Policy); pol.Account != "111122223333" || !strings.Contains(string(raw), "firewall-rule-group/"+group) {
		t.Fatalf("iam policy: %+v", pol)
	}

	e.wantError(404, CodeNotFound, "", "GET", "/api/v1/devices/fw-1/canary", e.viewer, nil)
	plan, _ := json.Marshal(device.Summary{Rules: []device.RuleSummary{{Name: "rpzfw-1-allow", Action: "ALLOW", DomainCount: 1}, {Name: "rpzfw-2-nxdomain", Action: "BLOCK", DomainCount: 2}}})
	if err := e.store.PutStatus(context.Background(), store.Status{DeviceID: d.ID, State: store.StateInSync, Plan: plan}); err != nil {
		t.Fatal(err)
	}
	var c CanaryView
	e.must(200, "GET", "/api/v1/devices/fw-1/canary", e.viewer, nil).json(t, &c)
	if c.Name != "bad.example" || c.Rule != "rpzfw-2-nxdomain" || c.Action != "BLOCK" || c.Intent != "nxdomain" || c.BlockResponse != "NXDOMAIN" {
		t.Fatalf("canary: %+v", c)
	}
}

func TestCanaryPicksANameTheFirewallBlocks(t *testing.T) {
	tests := []struct {
		name       string
		blocked    []string
		action     types.Action
		want       string
		wantAction string
	}{
		{"an exact name first", []string{"*.worse.example", "bad.example"}, types.ActionBlock, "bad.example", "BLOCK"},
		{"under a wildcard", []string{"*.worse.example"}, types.ActionBlock, "rpzfw-canary.worse.example", "BLOCK"},
		{"monitor only", []string{"bad.example"}, types.ActionAlert, "bad.example", "ALERT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.must(201, "POST", "/api/v1/policies", e.admin, blockPolicy("mine", "one.example"))
			endpoint, group := firewallWithRules(t, tc.blocked, tc.action)
			in := accessKeyDevice("fw", "mine")
			in["rule_group_id"], in["endpoint_url"] = group, endpoint
			e.must(201, "POST", "/api/v1/devices", e.admin, in)
			d := e.storedDevice(e.orgA, "fw")
			plan, _ := json.Marshal(device.Summary{Rules: []device.RuleSummary{{Name: "rpzfw-2-nxdomain", Action: "BLOCK", DomainCount: len(tc.blocked)}}})
			if err := e.store.PutStatus(context.Background(), store.Status{DeviceID: d.ID, Plan: plan}); err != nil {
				t.Fatal(err)
			}
			var c CanaryView
			e.must(200, "GET", "/api/v1/devices/fw/canary", e.viewer, nil).json(t, &c)
			if c.Name != tc.want || c.Action != tc.wantAction || c.Intent != "nxdomain" {
				t.Fatalf("canary %+v, want %s by a %s rule that means nxdomain", c, tc.want, tc.wantAction)
			}
			// Another organization cannot read it.
			e.wantError(404, CodeNotFound, "", "GET", "/api/v1/devices/fw/canary", e.adminB, nil)
		})
	}
}

func TestCanaryRefusesAmbientCredentialsTheServerDoesNotLend(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/policies", e.admin, blockPolicy("mine", "one.example"))
	d, err := e.store.CreateDevice(context.Background(), store.Device{OrgID: e.orgA.ID, Nickname: "amb", Provider: device.ProviderAWS, Policy: "mine",
		Region: "us-east-1", RuleGroupID: "rslvr-frg-0123456789abcdef", PriorityBand: "1000-9000", CredKind: store.CredAmbient, MaxPolicySize: 10})
	if err != nil {
		t.Fatal(err)
	}
	plan, _ := json.Marshal(device.Summary{Rules: []device.RuleSummary{{Name: "rpzfw-1-nxdomain", Action: "BLOCK", DomainCount: 1}}})
	if err := e.store.PutStatus(context.Background(), store.Status{DeviceID: d.ID, Plan: plan}); err != nil {
		t.Fatal(err)
	}
	e.wantError(409, CodeConflict, "credentials.type", "GET", "/api/v1/devices/amb/canary", e.viewer, nil)
}

// FuzzCanaryName: the test name is a plain name the entry matches.
func FuzzCanaryName(f *testing.F) {
	for _, s := range []string{"bad.example", "bad.example.", "*.worse.example", "*", "*.", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		name := canaryName(entry)
		base := strings.TrimSuffix(entry, ".")
		if rest, ok := strings.CutPrefix(base, "*."); ok {
			if name != "rpzfw-canary."+rest {
				t.Fatalf("canaryName(%q) = %q: not a name under the wildcard", entry, name)
			}
			return
		}
		if name != base {
			t.Fatalf("canaryName(%q) = %q, want the entry itself", entry, name)
		}
	})
}
