package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"

	"github.com/rpzfw/rpzfw/internal/awsclient"
	"github.com/rpzfw/rpzfw/internal/emulator"
)

// startSyncTarget starts an emulator with a rule group and returns the
// flags that sync into it.
func startSyncTarget(t *testing.T, q emulator.Quotas) (func() int, []string) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	emu, err := emulator.Serve(ctx, emulator.ServeConfig{Config: emulator.Config{Settle: time.Millisecond, Quotas: q}, APIAddr: "127.0.0.1:0", DNSAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	opts := awsclient.Options{Region: "us-east-1", Endpoint: emu.APIURL}
	cfg, err := awsclient.Config(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	api := awsclient.Resolver(cfg, opts)
	g, err := api.CreateFirewallRuleGroup(ctx, &r53r.CreateFirewallRuleGroupInput{CreatorRequestId: aws.String("g"), Name: aws.String("g")})
	if err != nil {
		t.Fatal(err)
	}
	rules := func() int {
		out, err := api.ListFirewallRules(ctx, &r53r.ListFirewallRulesInput{FirewallRuleGroupId: g.FirewallRuleGroup.Id})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.FirewallRules)
	}
	return rules, []string{"--endpoint-url", emu.APIURL, "--region", "us-east-1", "--rule-group-id", *g.FirewallRuleGroup.Id,
		"--state-dir", t.TempDir(), "--quota", "100000", "--rate", "1000"}
}

// A plan that blocks every name is not deployed unless allowed, and a sync
// that failed does not report what it meant to send as sent.
func TestSyncCLI(t *testing.T) {
	all := writeFile(t, "all.txt", "*\n")
	zone := writeFile(t, "z.rpz", testZone)
	for _, tc := range []struct {
		name     string
		quotas   emulator.Quotas
		args     []string
		code     int
		want     string // in stdout or stderr
		lack     string // in stdout
		deployed int    // rules in the group afterwards
	}{
		{"block-all refused", emulator.Quotas{}, []string{"--block-list", all}, 1, "blocks every name", "Sent", 0},
		{"block-all allowed", emulator.Quotas{}, []string{"--block-list", all, "--allow-block-all"}, 0, "Sent 1 domains added", "", 1},
		{"failed sync", emulator.Quotas{Domains: 100000, DomainLists: 100, RulesPerGroup: 1, RuleGroups: 10}, []string{zone}, 1, "Stopped after", "Sent", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rules, flags := startSyncTarget(t, tc.quotas)
			out, stderr, code := runCLI(t, append(append([]string{"sync"}, flags...), tc.args...)...)
			if code != tc.code || !strings.Contains(out+stderr, tc.want) || tc.lack != "" && strings.Contains(out, tc.lack) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, %q and no %q", code, out, stderr, tc.code, tc.want, tc.lack)
			}
			if n := rules(); n != tc.deployed {
				t.Errorf("%d rules deployed, want %d", n, tc.deployed)
			}
		})
	}
}
