package device

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/fwsync"
	"github.com/rpzfw/rpzfw/internal/store"
)

// A device moved to another rule group leaves rpzfw's rules in the old
// one behind it, and syncs into the new one.
func TestSyncerAndLeaveOldGroup(t *testing.T) {
	c, groupA := sandbox(t)
	ctx := context.Background()
	cl, err := c.Connect(ctx, store.Device{Region: SandboxRegion})
	if err != nil {
		t.Fatal(err)
	}
	g, err := cl.Resolver.CreateFirewallRuleGroup(ctx, &r53r.CreateFirewallRuleGroupInput{CreatorRequestId: aws.String("b"), Name: aws.String("b")})
	if err != nil {
		t.Fatal(err)
	}
	groupB := aws.ToString(g.FirewallRuleGroup.Id)
	cfg := SyncerConfig{State: fwsync.FileStore{Dir: t.TempDir()}, Quota: fwsync.ServiceQuotas{API: cl.Quotas}, PollInitial: time.Millisecond, RateLimit: 1000}
	d := store.Device{ID: 3, Nickname: "mover", Region: SandboxRegion, RuleGroupID: groupA, PriorityBand: "1000-9000", MaxPolicySize: 100}
	l := loadInline(t, false, "a.example", "b.example")
	rules := func(group string) int {
		out, err := cl.Resolver.ListFirewallRules(ctx, &r53r.ListFirewallRulesInput{FirewallRuleGroupId: &group})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.FirewallRules)
	}
	sync := func(d store.Device) {
		t.Helper()
		s, err := NewSyncer(cl.Resolver, d, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Sync(ctx, l.CompileFunc(Settings(d)), d.MaxPolicySize); err != nil {
			t.Fatal(err)
		}
	}
	sync(d)
	if left, err := LeaveOldGroup(ctx, cl.Resolver, d, cfg); left != "" || err != nil {
		t.Fatalf("same group: left %q, %v", left, err)
	}
	d.RuleGroupID = groupB
	if left, err := LeaveOldGroup(ctx, cl.Resolver, d, cfg); left != groupA || err != nil {
		t.Fatalf("moved: left %q, %v", left, err)
	}
	sync(d)
	if rules(groupA) != 0 || rules(groupB) == 0 {
		t.Fatalf("rules: old group %d, new group %d", rules(groupA), rules(groupB))
	}
	if got := Settings(store.Device{MonitorOnly: true, MaxPolicySize: 7}); got != (compile.Settings{MonitorOnly: true, MaxDomains: 7}) {
		t.Errorf("settings %+v", got)
	}
}
