package device

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/smithy-go"

	"github.com/rpzfw/rpzfw/internal/awsclient"
	"github.com/rpzfw/rpzfw/internal/emulator"
	"github.com/rpzfw/rpzfw/internal/store"
)

func sandbox(t *testing.T) (Connector, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	emu, err := emulator.Serve(ctx, emulator.ServeConfig{APIAddr: "127.0.0.1:0", Config: emulator.Config{Settle: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	c := Connector{SandboxEndpoint: emu.APIURL}
	o, _ := c.Options(store.Device{Region: SandboxRegion})
	cfg, err := awsclient.Config(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	g, err := awsclient.Resolver(cfg, o).CreateFirewallRuleGroup(ctx, &r53r.CreateFirewallRuleGroupInput{CreatorRequestId: aws.String("t"), Name: aws.String("t")})
	if err != nil {
		t.Fatal(err)
	}
	return c, aws.ToString(g.FirewallRuleGroup.Id)
}

func byPermission(r *PreflightReport) map[string]Check {
	m := map[string]Check{}
	for _, c := range r.Checks {
		m[c.Permission] = c
	}
	return m
}

func TestPreflightAgainstTheEmulator(t *testing.T) {
	c, group := sandbox(t)
	ctx := context.Background()
	d := store.Device{ID: 1, Nickname: "sb", Region: SandboxRegion, RuleGroupID: group}
	rep, err := c.Preflight(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	checks := byPermission(rep)
	for _, perm := range []string{"sts:GetCallerIdentity", "route53resolver:GetFirewallRuleGroup", "route53resolver:ListFirewallRules",
		"route53resolver:ListFirewallDomainLists", "route53resolver:ListFirewallRuleGroupAssociations", "servicequotas:GetServiceQuota"} {
		if c := checks[perm]; !c.OK || c.Status != CheckOK {
			t.Errorf("%s: %+v", perm, c)
		}
	}
	if c := checks["route53resolver:CreateFirewallRule"]; c.OK || c.Status != CheckNotChecked || c.Error == "" {
		t.Errorf("a write must be reported as not checked: %+v", c)
	}
	if !rep.OK || rep.Account != emulator.DefaultAccount || len(rep.Missing) != 0 {
		t.Errorf("report: ok=%v account=%s missing=%v", rep.OK, rep.Account, rep.Missing)
	}
	var doc struct{ Statement []struct{ Resource []string } }
	if err := json.Unmarshal(rep.IAMPolicy, &doc); err != nil || len(doc.Statement) == 0 ||
		!slices.Contains(doc.Statement[0].Resource, "arn:aws:route53resolver:us-east-1:"+emulator.DefaultAccount+":firewall-rule-group/"+group) {
		t.Errorf("IAM policy: %s (%v)", rep.IAMPolicy, err)
	}

	// A missing rule group and a queue that does not answer are named.
	d.RuleGroupID = "rslvr-frg-0000000000000000"
	d.LogEnabled, d.LogQueueURL = true, c.SandboxEndpoint+"/"+emulator.DefaultAccount+"/rpzfw-logs"
	rep, err = c.Preflight(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	checks = byPermission(rep)
	if c := checks["route53resolver:GetFirewallRuleGroup"]; c.OK || !strings.HasPrefix(c.Error, "not found") {
		t.Errorf("missing group: %+v", c)
	}
	if rep.OK || !slices.Contains(rep.Missing, "route53resolver:GetFirewallRuleGroup") || !slices.Contains(rep.Missing, "sqs:GetQueueAttributes") {
		t.Errorf("missing: %v", rep.Missing)
	}
	if !strings.Contains(string(rep.IAMPolicy), "arn:aws:sqs:us-east-1:"+emulator.DefaultAccount+":rpzfw-logs") {
		t.Errorf("IAM policy lacks the queue: %s", rep.IAMPolicy)
	}

	// Settings that cannot be used give a report, not an error.
	rep, err = Connector{}.Preflight(ctx, d)
	if err != nil || rep.OK || len(rep.Checks) != 1 || rep.Checks[0].Permission != "credentials" {
		t.Errorf("unusable settings: %+v %v", rep, err)
	}
}

func TestDescribeProbe(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status string
		prefix string
	}{
		{&smithy.GenericAPIError{Code: "AccessDeniedException", Message: "no"}, CheckMissing, "access denied"},
		{&smithy.GenericAPIError{Code: "ResourceNotFoundException", Message: "gone"}, CheckFailed, "not found"},
		{&smithy.GenericAPIError{Code: "InvalidClientTokenId", Message: "bad"}, CheckFailed, "the credentials were refused"},
		{errors.New("dial tcp: refused"), CheckFailed, "dial tcp"},
	} {
		status, why := describeProbe(tc.err)
		if status != tc.status || !strings.HasPrefix(why, tc.prefix) {
			t.Errorf("%v: %s %q", tc.err, status, why)
		}
	}
}
