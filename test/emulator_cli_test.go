package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"

	"github.com/rpzfw/rpzfw/internal/emulator"
	"github.com/rpzfw/rpzfw/internal/fwsync"
)

// awsCLI runs the real AWS CLI against the emulator and returns its JSON
// output, or its error text.
func awsCLI(t *testing.T, endpoint string, args ...string) (map[string]any, string, error) {
	t.Helper()
	bin, err := exec.LookPath("aws")
	if err != nil {
		t.Fatalf("the AWS CLI is needed for this test and aws was not found on PATH (it ships with these machines' Python; see .ci/run)")
	}
	full := append([]string{"route53resolver"}, args...)
	full = append(full, "--endpoint-url", endpoint, "--region", "us-east-1", "--output", "json")
	cmd := exec.Command(bin, full...)
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIDCLI", "AWS_SECRET_ACCESS_KEY=secret", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_MAX_ATTEMPTS=1", "AWS_RETRY_MODE=standard", "AWS_PAGER=")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errorsAs(err, &ee) {
			return nil, string(ee.Stderr), err
		}
		t.Fatalf("running aws: %v", err)
	}
	var m map[string]any
	if len(strings.TrimSpace(string(out))) > 0 {
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("aws printed no JSON: %s", out)
		}
	}
	return m, "", nil
}

func errorsAs(err error, target **exec.ExitError) bool {
	ee, ok := err.(*exec.ExitError)
	if ok {
		*target = ee
	}
	return ok
}

func str(m map[string]any, path ...string) string {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = mm[p]
	}
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return fmt.Sprint(int(x))
	}
	return ""
}

// cliSettle is the emulator's settle delay in TestEmulatorWithAWSCLI. It
// passes only when the test moves the emulator's clock (settle), never while
// the CLI starts, however slow the machine.
const cliSettle = time.Hour

// settle moves the emulator's clock past the settle delay through its admin
// endpoint, as a script driving the CLI would, and checks that the list is
// COMPLETE at once: nothing waits on the wall clock.
func settle(t *testing.T, m *emu, list string) {
	t.Helper()
	resp, err := http.Post(m.url+"/_emulator/clock", "application/json", strings.NewReader(fmt.Sprintf(`{"advance":%q}`, cliSettle.String())))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("advancing the emulator's clock: %s", resp.Status)
	}
	out, err := m.client(1).GetFirewallDomainList(context.Background(), &r53r.GetFirewallDomainListInput{FirewallDomainListId: &list})
	if err != nil {
		t.Fatal(err)
	}
	if s := out.FirewallDomainList.Status; s != "COMPLETE" {
		t.Fatalf("list %s is %s after the emulator's clock passed its settle delay", list, s)
	}
}

func TestEmulatorWithAWSCLI(t *testing.T) {
	// Lists stay UPDATING until the test moves the emulator's clock, so the
	// CLI sees a list that is still UPDATING however long it takes to start.
	m := startEmulator(t, emulator.Config{Settle: cliSettle, Quotas: emulator.Quotas{Domains: 20, DomainLists: 2, RulesPerGroup: 100, RuleGroups: 10}})
	u := m.url
	out, _, err := awsCLI(t, u, "create-firewall-domain-list", "--creator-request-id", "c1", "--name", "cli-list")
	if err != nil {
		t.Fatal(err)
	}
	list := str(out, "FirewallDomainList", "Id")
	if !strings.HasPrefix(list, "rslvr-fdl-") {
		t.Fatalf("create: %v", out)
	}
	var names []string
	for i := range 12 {
		names = append(names, fmt.Sprintf("d%02d.example", i))
	}
	if out, _, err = awsCLI(t, u, append([]string{"update-firewall-domains", "--firewall-domain-list-id", list, "--operation", "ADD", "--domains"}, names...)...); err != nil || str(out, "Status") != "UPDATING" {
		t.Fatalf("ADD: %v %v", out, err)
	}
	// Conflict while the list settles.
	if _, stderr, err := awsCLI(t, u, "update-firewall-domains", "--firewall-domain-list-id", list, "--operation", "ADD", "--domains", "x.example"); err == nil || !strings.Contains(stderr, "ConflictException") {
		t.Fatalf("want ConflictException, got %v %s", err, stderr)
	}
	settle(t, m, list)
	if _, _, err = awsCLI(t, u, "update-firewall-domains", "--firewall-domain-list-id", list, "--operation", "REMOVE", "--domains", "d00.example", "d01.example"); err != nil {
		t.Fatal(err)
	}
	settle(t, m, list)
	// The CLI pages through with --page-size, collecting every name.
	out, _, err = awsCLI(t, u, "list-firewall-domains", "--firewall-domain-list-id", list, "--page-size", "3")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := out["Domains"].([]any)
	if len(got) != 10 || got[0] != "d02.example." {
		t.Fatalf("paged list: %v", got)
	}
	if _, _, err = awsCLI(t, u, "update-firewall-domains", "--firewall-domain-list-id", list, "--operation", "REPLACE", "--domains", "only.example"); err != nil {
		t.Fatal(err)
	}
	settle(t, m, list)
	out, _, _ = awsCLI(t, u, "get-firewall-domain-list", "--firewall-domain-list-id", list)
	if str(out, "FirewallDomainList", "DomainCount") != "1" {
		t.Fatalf("after REPLACE: %v", out)
	}
	out, _, err = awsCLI(t, u, "create-firewall-rule-group", "--creator-request-id", "g1", "--name", "cli-group")
	if err != nil {
		t.Fatal(err)
	}
	group := str(out, "FirewallRuleGroup", "Id")
	if out, _, err = awsCLI(t, u, "create-firewall-rule", "--creator-request-id", "r1", "--firewall-rule-group-id", group, "--firewall-domain-list-id", list,
		"--priority", "100", "--action", "BLOCK", "--block-response", "NODATA", "--name", "cli-rule"); err != nil || str(out, "FirewallRule", "BlockResponse") != "NODATA" {
		t.Fatalf("create rule: %v %v", out, err)
	}
	if out, _, err = awsCLI(t, u, "associate-firewall-rule-group", "--creator-request-id", "a1", "--firewall-rule-group-id", group, "--vpc-id", m.e.VPCID(),
		"--priority", "101", "--name", "cli-assoc"); err != nil || !strings.HasPrefix(str(out, "FirewallRuleGroupAssociation", "Id"), "rslvr-frgassoc-") {
		t.Fatalf("associate: %v %v", out, err)
	}
	if v := m.dp.Verdict("only.example", "A"); v.Outcome(true) != "NODATA" {
		t.Fatalf("the data plane does not apply the CLI-made rule: %+v", v)
	}

	// Errors, as the CLI reports them.
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"create-firewall-rule", "--creator-request-id", "r2", "--firewall-rule-group-id", group, "--firewall-domain-list-id", list, "--priority", "100", "--action", "ALERT", "--name", "Bad Name!"}, "ValidationException"},
		{[]string{"update-firewall-domains", "--firewall-domain-list-id", list, "--operation", "ADD", "--domains", "under_score.example"}, "ValidationException"},
		{[]string{"create-firewall-domain-list", "--creator-request-id", "c2", "--name", "second"}, ""},
		{[]string{"create-firewall-domain-list", "--creator-request-id", "c3", "--name", "third"}, "LimitExceededException"},
		{[]string{"get-firewall-domain-list", "--firewall-domain-list-id", "rslvr-fdl-missing"}, "ResourceNotFoundException"},
	}
	for _, tc := range cases {
		_, stderr, err := awsCLI(t, u, tc.args...)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%v: %s", tc.args[0], stderr)
			}
			continue
		}
		if err == nil || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: want %s, got %v %s", tc.args[0], tc.want, err, stderr)
		}
	}
	m.e.SetFaults(emulator.Faults{Ops: map[string]emulator.OpFault{"ListFirewallRuleGroups": {ThrottleCount: 1}}})
	if _, stderr, err := awsCLI(t, u, "list-firewall-rule-groups"); err == nil || !strings.Contains(stderr, "ThrottlingException") {
		t.Errorf("want ThrottlingException, got %v %s", err, stderr)
	}
}

// The error for a rule group that does not exist shows AWS CLI commands;
// run as shown (placeholders filled in), they make a group that the next
// sync fills and that the VPC's DNS applies.
func TestMissingRuleGroupAdviceWorks(t *testing.T) {
	m := startEmulator(t, emulator.Config{})
	ctx := context.Background()
	newSyncer := func(group string) *fwsync.Syncer {
		s, err := fwsync.New(m.client(3), fwsync.FileStore{Dir: t.TempDir()}, nil, fwsync.FixedQuota(1000), fwsync.Config{
			RuleGroupID: group, Device: "advice", RateLimit: -1, Progress: quietProgress{},
			PollInitial: 2 * time.Millisecond, PollMax: 20 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	p := testPolicy{texts: []string{zoneHeader + "blocked.example CNAME .\n", zoneHeader, zoneHeader}, names: []string{"blocked.example"}}
	_, err := newSyncer("rslvr-frg-0123456789abcdef").Sync(ctx, p.compileTo(t), 1000)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("sync into a missing group: %v", err)
	}
	var group string
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "aws route53resolver ") {
			continue
		}
		line = strings.NewReplacer(" --region REGION", "", "rslvr-frg-...", group, "vpc-...", m.e.VPCID()).Replace(line)
		out, stderr, err := awsCLI(t, m.url, strings.Fields(strings.TrimPrefix(line, "aws route53resolver "))...)
		if err != nil {
			t.Fatalf("%s: %s", line, stderr)
		}
		if id := str(out, "FirewallRuleGroup", "Id"); id != "" {
			group = id
		}
	}
	if group == "" {
		t.Fatalf("the advice creates no rule group:\n%v", err)
	}
	if _, err := newSyncer(group).Sync(ctx, p.compileTo(t), 1000); err != nil {
		t.Fatalf("sync after following the advice: %v", err)
	}
	if v := m.dp.Verdict("blocked.example", "A"); v.Outcome(true) != "NXDOMAIN" {
		t.Errorf("the VPC does not apply the synced group: %+v", v)
	}
}
