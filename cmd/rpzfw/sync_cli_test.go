package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver/types"

	"github.com/rpzfw/rpzfw/internal/awsclient"
	"github.com/rpzfw/rpzfw/internal/emulator"
)

// startSyncTarget starts an emulator with a rule group and returns the
// flags that sync into it.
func startSyncTarget(t *testing.T, q emulator.Quotas) (func() int, []string) {
	t.Helper()
	rules, flags := startSyncTargetRules(t, q)
	return func() int { return len(rules()) }, flags
}

func startSyncTargetRules(t *testing.T, q emulator.Quotas) (func() []types.FirewallRule, []string) {
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
	rules := func() []types.FirewallRule {
		out, err := api.ListFirewallRules(ctx, &r53r.ListFirewallRulesInput{FirewallRuleGroupId: g.FirewallRuleGroup.Id})
		if err != nil {
			t.Fatal(err)
		}
		return out.FirewallRules
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

// --detailed-exitcode says whether the rule group matched (0) or not (2),
// and makes every error 1; --show-domains lists what changes, domain by
// domain; a dry run changes nothing.
func TestSyncDetailedExitCodeAndDomains(t *testing.T) {
	zone := writeFile(t, "z.rpz", testZone)
	rules, flags := startSyncTarget(t, emulator.Quotas{})
	sync := func(extra ...string) (string, string, int) {
		return runCLI(t, append(append(append([]string{"sync"}, flags...), zone), extra...)...)
	}
	out, stderr, code := sync("--dry-run", "--detailed-exitcode", "--show-domains")
	if code != 2 || rules() != 0 {
		t.Fatalf("dry run on an empty group: exit %d (want 2), %d rules deployed; %s", code, rules(), stderr)
	}
	for _, want := range []string{"Domain changes it would make, by rule in precedence order:", "new rule rpzfw-1-allow (ALLOW), priority ", "    + *.ok.evil.example\n", "    + garden.example\n", "Would send 4 domains added"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if _, stderr, code := sync("--detailed-exitcode"); code != 2 || rules() == 0 {
		t.Fatalf("a sync that changes the group: exit %d, want 2; %s", code, stderr)
	}
	if _, stderr, code := sync("--dry-run", "--detailed-exitcode"); code != 0 {
		t.Fatalf("dry run on a group that matches: exit %d, want 0; %s", code, stderr)
	}
	if _, _, code := sync("--dry-run"); code != 0 {
		t.Fatalf("without --detailed-exitcode: exit %d, want 0", code)
	}
	// A smaller policy: the removed domain is listed with a minus.
	small := writeFile(t, "small.rpz", strings.Replace(testZone, "garden.example 60 CNAME walled.example.net.\n", "", 1))
	out, _, code = runCLI(t, append(append([]string{"sync"}, flags...), small, "--dry-run", "--show-domains", "--allow-shrink")...)
	if code != 0 || !strings.Contains(out, "    - garden.example\n") || !strings.Contains(out, "deleted rule ") {
		t.Errorf("exit %d, want the removed domain and rule listed:\n%s", code, out)
	}
	// Errors exit 1 with --detailed-exitcode, even usage errors (2 without).
	for _, args := range [][]string{{"--format", "yaml"}, {"--no-such-flag"}, {"--rule-group-id", "rslvr-frg-missing"}} {
		if _, _, code := sync(append(args, "--detailed-exitcode")...); code != 1 {
			t.Errorf("%v --detailed-exitcode: exit %d, want 1", args, code)
		}
	}
	if _, _, code := sync("--format", "yaml"); code != 2 {
		t.Errorf("a usage error without --detailed-exitcode: exit %d, want 2", code)
	}
	// unsync takes the same flags: 2 when it removed something.
	if _, stderr, code := runCLI(t, append([]string{"unsync", "--detailed-exitcode"}, flags...)...); code != 2 || rules() != 0 {
		t.Errorf("unsync: exit %d, %d rules left; %s", code, rules(), stderr)
	}
}

// sync --format json prints one object with the documented members, in
// snake_case, every one present.
func TestSyncJSON(t *testing.T) {
	zone := writeFile(t, "z.rpz", testZone)
	_, flags := startSyncTarget(t, emulator.Quotas{})
	members := []string{"dry_run", "completed", "error", "changes", "domains_added", "domains_removed", "peak_domains", "planned_calls",
		"api_calls", "api_calls_by_operation", "update_calls_lower_bound", "calls_floor", "took_seconds", "quota", "domains_used_by_other_lists",
		"max_domains", "plan", "steps", "rules"}
	run := func(extra ...string) map[string]json.RawMessage {
		t.Helper()
		out, stderr, code := runCLI(t, append(append(append([]string{"sync", "--format", "json"}, flags...), zone), extra...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(out), &m); err != nil || strings.Count(out, "\n") != 1 {
			t.Fatalf("not one line of JSON (%v): %s", err, out)
		}
		for _, k := range members {
			if _, ok := m[k]; !ok {
				t.Errorf("no member %q: %s", k, out)
			}
		}
		if len(m) != len(members) {
			t.Errorf("%d members, want %d: %s", len(m), len(members), out)
		}
		return m
	}
	dry := run("--dry-run", "--show-domains")
	for k, want := range map[string]string{"dry_run": "true", "completed": "true", "error": "null", "changes": "true", "domains_added": "4",
		"domains_removed": "0", "quota": "100000", "plan": `{"rules":4,"domains":4,"truncated":0,"truncated_by_source":{}}`} {
		if got := string(dry[k]); got != want {
			t.Errorf("dry run %s = %s, want %s", k, got, want)
		}
	}
	var rules []map[string]any
	if err := json.Unmarshal(dry["rules"], &rules); err != nil || len(rules) != 4 {
		t.Fatalf("rules: %v %s", err, dry["rules"])
	}
	first := rules[0]
	if first["name"] != "rpzfw-1-allow" || first["change"] != "create" || first["action_before"] != nil || first["action_after"] != "ALLOW" ||
		first["priority_before"] != nil || first["domains_added"] != 1.0 || fmt.Sprint(first["added"]) != "[*.ok.evil.example]" || fmt.Sprint(first["removed"]) != "[]" {
		t.Errorf("first rule: %v", first)
	}
	var steps []map[string]string
	if err := json.Unmarshal(dry["steps"], &steps); err != nil || len(steps) == 0 || steps[0]["phase"] != "prepare" || !strings.HasPrefix(steps[0]["call"], "CreateFirewallDomainList ") {
		t.Errorf("steps: %v %s", err, dry["steps"])
	}
	real := run()
	if string(real["dry_run"]) != "false" || string(real["steps"]) != "null" || !strings.Contains(string(real["rules"]), `"added":null`) ||
		!strings.Contains(string(real["api_calls_by_operation"]), `"CreateFirewallRule":4`) {
		t.Errorf("sync: %v", real)
	}
	again := run("--dry-run")
	if string(again["changes"]) != "false" || !strings.Contains(string(again["rules"]), `"change":"none"`) {
		t.Errorf("a sync that changes nothing: %v", again)
	}
}

// plan shows the priorities sync deploys, in the default band and in
// another one; --first-priority numbers the plan as asked, and says sync
// does not use it.
func TestPlanShowsWhatSyncDeploys(t *testing.T) {
	zone := writeFile(t, "z.rpz", testZone)
	for _, band := range [][]string{nil, {"--priority-band", "20000-20100"}} {
		out, stderr, code := runCLI(t, append([]string{"plan", "--format", "json", zone}, band...)...)
		if code != 0 {
			t.Fatalf("plan: exit %d: %s", code, stderr)
		}
		var plan struct {
			Rules []struct {
				Name     string
				Priority int
			}
		}
		if err := json.Unmarshal([]byte(out), &plan); err != nil {
			t.Fatal(err)
		}
		rules, flags := startSyncTargetRules(t, emulator.Quotas{})
		if _, stderr, code := runCLI(t, append(append([]string{"sync", zone}, flags...), band...)...); code != 0 {
			t.Fatalf("sync: exit %d: %s", code, stderr)
		}
		deployed := map[string]int32{}
		for _, r := range rules() {
			deployed[*r.Name] = *r.Priority
		}
		if len(deployed) != len(plan.Rules) || len(plan.Rules) == 0 {
			t.Fatalf("plan %v, deployed %v", plan.Rules, deployed)
		}
		for _, r := range plan.Rules {
			if int(deployed[r.Name]) != r.Priority {
				t.Errorf("band %v: plan shows %s at %d, sync deployed it at %d", band, r.Name, r.Priority, deployed[r.Name])
			}
		}
		text, _, _ := runCLI(t, append([]string{"plan", zone}, band...)...)
		if want := regexp.MustCompile(fmt.Sprintf(`(?m)^  %d +%s `, plan.Rules[0].Priority, plan.Rules[0].Name)); !want.MatchString(text) || !strings.Contains(text, "Priorities: as rpzfw sync first deploys these rules") ||
			!strings.Contains(text, "4 rules (any layout needs at least 4: a lower bound, not always reachable)") {
			t.Errorf("text plan lacks %s and the note:\n%s", want, text)
		}
	}
	out, _, code := runCLI(t, "plan", "--first-priority", "10", "--priority-step", "5", zone)
	if code != 0 || !regexp.MustCompile(`(?m)^  10 +rpzfw-1-allow `).MatchString(out) || !regexp.MustCompile(`(?m)^  15 +rpzfw-2-`).MatchString(out) || !strings.Contains(out, "rpzfw sync does not use them") {
		t.Errorf("explicit numbering:\n%s", out)
	}
	if _, stderr, code := runCLI(t, "plan", "--priority-band", "10-12", zone); code != 1 || !strings.Contains(stderr, "4 rules do not fit the priority band 10-12") {
		t.Errorf("a band too narrow: exit %d, %s", code, stderr)
	}
}
