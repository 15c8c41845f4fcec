package scheduler

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"

	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/emulator"
	"github.com/rpzfw/rpzfw/internal/store"
)

const zone = `$ORIGIN rpz.test.
@ SOA ns. admin. 1 3600 600 86400 60
@ NS ns.
malware.example CNAME .
*.botnet.example CNAME .
tracker.example CNAME *.
garden.example CNAME walled.test.
`

const policyDoc = `{"block_list": ["blocked.example"], "sources": [{"name": "feed", "kind": "file", "path": "zone.rpz", "refresh": "1s"}]}`

// A device added reaches in_sync, and the emulator's DNS answers as the
// plan says; an edited policy and a changed feed reach the firewall.
func TestDeviceReachesTheFirewall(t *testing.T) {
	e := newEnv(t)
	e.writeFile("zone.rpz", zone)
	e.createPolicy("p", policyDoc)
	group := e.ruleGroup("g")
	e.start(nil)
	d := e.createDevice("edge", "p", group)
	e.sched.Wake()
	st := e.waitStatus(d, "added", inSync)
	for name, want := range map[string]string{
		"malware.example":       "NXDOMAIN",
		"x.botnet.example":      "NXDOMAIN",
		"tracker.example":       "NOERROR",
		"blocked.example":       "NXDOMAIN",
		"fine.example":          "NOERROR " + emulator.SyntheticA.String(),
		"garden.example":        "NOERROR CNAME walled.test. " + emulator.SyntheticA.String(),
		"botnet.example":        "NOERROR " + emulator.SyntheticA.String(),
		"deep.x.botnet.example": "NXDOMAIN",
	} {
		if got := e.resolve(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	d, _ = e.store.DeviceByID(e.ctx, d.ID)
	if st.PlanHash == "" || st.PlanDomains != 5 || !slices.Contains(st.VPCs, e.emu.VPCID()) || st.SyncedGeneration != d.Generation ||
		d.AccountID != emulator.DefaultAccount || st.LastSyncResult != store.ResultOK || st.PolicyUpdatedAt.IsZero() {
		t.Errorf("status after the first sync: %+v (account %q)", st, d.AccountID)
	}
	var plan device.Summary
	if err := json.Unmarshal(st.Plan, &plan); err != nil || plan.DomainCount != 5 || len(plan.Rules) == 0 {
		t.Errorf("plan summary: %s (%v)", st.Plan, err)
	}
	rs := runs(e, d)
	if len(rs) == 0 || rs[len(rs)-1].Result != store.ResultOK || rs[len(rs)-1].Calls["CreateFirewallRule"] == 0 || rs[len(rs)-1].Added != 5 {
		t.Errorf("runs: %+v", rs)
	}
	checkBounds(t, rs[len(rs)-1])

	// An edited policy reaches the firewall.
	e.updatePolicy("p", strings.Replace(policyDoc, `["blocked.example"]`, `["blocked.example", "new.example"]`, 1))
	e.sched.Wake()
	e.waitResolve("new.example", "NXDOMAIN")
	e.waitStatus(d, "policy edited", func(st store.Status) bool { return inSync(st) && st.SyncedPolicyVersion == 2 && st.PlanDomains == 6 })

	// An edit that compiles to the same plan is not sent again.
	e.updatePolicy("p", strings.Replace(policyDoc, `["blocked.example"]`, `["new.example", "blocked.example", "new.example"]`, 1))
	e.sched.Wake()
	e.waitStatus(d, "same plan", func(st store.Status) bool { return inSync(st) && st.SyncedPolicyVersion == 3 })
	if r := runs(e, d)[0]; r.Trigger != TriggerPolicy || r.Result != store.ResultUnchanged || len(r.Calls) != 0 {
		t.Errorf("a plan already deployed was sent again:%s", describeRuns(runs(e, d)))
	} else if r.UpdatesLowerBound != 0 || r.CallsFloor != 0 {
		t.Errorf("a sync skipped without a plan recorded bounds %d/%d, want 0/0 (none)", r.UpdatesLowerBound, r.CallsFloor)
	}

	// A changed source reaches it too, through the feed watcher.
	e.writeFile("zone.rpz", zone+"feed.example CNAME .\n")
	e.waitResolve("feed.example", "NXDOMAIN")
	e.waitStatus(d, "feed changed", func(st store.Status) bool { return inSync(st) && st.PlanDomains == 7 })
	if !slices.ContainsFunc(runs(e, d), func(r store.SyncRun) bool { return r.Trigger == TriggerFeed && r.Result == store.ResultOK }) {
		t.Errorf("no feed run:%s", describeRuns(runs(e, d)))
	}
	if n := e.counter("rpzfw_scheduler_syncs_total", map[string]string{"device": "edge", "result": store.ResultOK}); n < 3 {
		t.Errorf("syncs_total{device=edge,result=ok} = %v", n)
	}

	// Paused, the device is left alone.
	d, _ = e.store.DeviceByID(e.ctx, d.ID)
	d.Paused = true
	if _, err := e.store.UpdateDevice(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	e.sched.Wake()
	e.waitStatus(d, "paused", func(st store.Status) bool { return st.State == store.StatePaused })

	// Removed, its rules go with it.
	if err := e.sched.Remove(e.ctx, d, false); err != nil {
		t.Fatal(err)
	}
	out, err := e.api.ListFirewallRules(e.ctx, &r53r.ListFirewallRulesInput{FirewallRuleGroupId: aws.String(group)})
	if err != nil || len(out.FirewallRules) != 0 {
		t.Fatalf("rules left after removal: %v %v", out, err)
	}
	if _, err := e.store.DeviceByID(e.ctx, d.ID); err == nil {
		t.Fatal("the device is still stored")
	}
	if got := e.resolve("malware.example"); got != "NOERROR "+emulator.SyntheticA.String() {
		t.Errorf("after removal: %s", got)
	}
}

// A rule group that does not exist is a hard error: the device waits for a
// change, then syncs when the change fixes it.
func TestHardErrorWaitsForAChange(t *testing.T) {
	e := newEnv(t)
	e.writeFile("zone.rpz", zone)
	e.createPolicy("p", policyDoc)
	e.start(nil)
	d := e.createDevice("lost", "p", "rslvr-frg-00000000000000000")
	e.sched.Wake()
	st := e.waitStatus(d, "missing group", func(st store.Status) bool { return st.State == store.StateError })
	if !st.ErrorHard || !strings.Contains(st.Error, "does not exist") || !st.NextAttempt.IsZero() {
		t.Fatalf("status: %+v", st)
	}
	before := len(runs(e, d))
	// Waiting means no more runs over many polls.
	for i := 0; i < 10; i++ {
		e.sched.Wake()
		<-e.sched.ticked
	}
	if n := len(runs(e, d)); n != before {
		t.Fatalf("a hard error was retried:%s", describeRuns(runs(e, d)))
	}
	// "Sync now" tries again (and fails again).
	if err := e.store.RequestSync(e.ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	e.sched.Wake()
	e.waitStatus(d, "sync now", func(st store.Status) bool {
		return st.State == store.StateError && st.ErrorHard && len(runs(e, d)) > before
	})

	// The fix is an edit: it syncs.
	d, _ = e.store.DeviceByID(e.ctx, d.ID)
	d.RuleGroupID = e.ruleGroup("found")
	if _, err := e.store.UpdateDevice(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	e.sched.Wake()
	e.waitStatus(d, "fixed", inSync)
	e.waitResolve("malware.example", "NXDOMAIN")
}

// Throttling beyond what the SDK retries is a soft error: the device is
// retried with backoff and ends in sync.
func TestThrottlingEndsInSync(t *testing.T) {
	e := newEnv(t)
	e.writeFile("zone.rpz", zone)
	e.createPolicy("p", policyDoc)
	group := e.ruleGroup("g")
	e.emu.SetFaults(emulator.Faults{Ops: map[string]emulator.OpFault{
		"CreateFirewallRule": {ThrottleCount: 5}, "ListFirewallRules": {ThrottleCount: 3}, "UpdateFirewallDomains": {ErrorCount: 3},
	}})
	e.start(nil)
	d := e.createDevice("busy", "p", group)
	e.sched.Wake()
	e.waitStatus(d, "throttled", inSync)
	rs := runs(e, d)
	if !slices.ContainsFunc(rs, func(r store.SyncRun) bool { return r.Result == store.ResultError }) {
		t.Errorf("no run failed, so the faults were not seen:%s", describeRuns(rs))
	}
	if !slices.ContainsFunc(rs, func(r store.SyncRun) bool { return r.Trigger == TriggerRetry && r.Result == store.ResultOK }) {
		t.Errorf("no retry succeeded:%s", describeRuns(rs))
	}
	// A sync that failed part-way still recorded the bounds of the plan it
	// was carrying out (its calls say it had one); one that failed before
	// planning has neither. The faults fail some syncs mid-plan.
	midPlan := 0
	for _, r := range rs {
		if r.Result != store.ResultError {
			continue
		}
		if len(r.Calls) == 0 {
			if r.UpdatesLowerBound != 0 || r.CallsFloor != 0 {
				t.Errorf("a run that failed before planning recorded bounds %d/%d:%s", r.UpdatesLowerBound, r.CallsFloor, describeRuns([]store.SyncRun{r}))
			}
			continue
		}
		midPlan++
		if r.CallsFloor < 2 {
			t.Errorf("a run that failed part-way recorded the calls floor %d, want its plan's (at least the 2 reads):%s", r.CallsFloor, describeRuns([]store.SyncRun{r}))
		}
	}
	if midPlan == 0 {
		t.Errorf("no run failed part-way through its plan:%s", describeRuns(rs))
	}
	e.waitResolve("malware.example", "NXDOMAIN")
}

// The shrink guard stops a source that lost most of the firewall; "sync
// now" deploys it all the same, and an edit of the policy is never
// stopped by it.
func TestShrinkGuard(t *testing.T) {
	e := newEnv(t)
	e.writeFile("zone.rpz", zone)
	doc := `{"max_shrink": "100%", "block_list": ["blocked.example"], "sources": [{"name": "feed", "kind": "file", "path": "zone.rpz", "refresh": "1s"}]}`
	e.createPolicy("p", doc)
	e.start(nil)
	d := e.createDevice("edge", "p", e.ruleGroup("g"))
	e.sched.Wake()
	e.waitStatus(d, "first sync", inSync)

	e.writeFile("zone.rpz", "$ORIGIN rpz.test.\n@ SOA ns. admin. 2 3600 600 86400 60\n@ NS ns.\n")
	st := e.waitStatus(d, "feed emptied", func(st store.Status) bool { return st.State == store.StateError })
	if !st.ErrorHard || !strings.HasSuffix(st.Error, shrinkOverride) {
		t.Fatalf("status: %+v", st)
	}
	if got := e.resolve("malware.example"); got != "NXDOMAIN" {
		t.Fatalf("the guard let the firewall shrink: %s", got)
	}
	if err := e.store.RequestSync(e.ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	e.sched.Wake()
	e.waitStatus(d, "sync now", func(st store.Status) bool { return inSync(st) && st.PlanDomains == 1 })
	e.waitResolve("malware.example", "NOERROR "+emulator.SyntheticA.String())

	// An edit that shrinks the plan is what the person wants.
	e.writeFile("zone.rpz", zone)
	e.waitStatus(d, "feed back", func(st store.Status) bool { return inSync(st) && st.PlanDomains == 5 })
	e.updatePolicy("p", `{"block_list": ["only.example"]}`)
	e.sched.Wake()
	e.waitStatus(d, "shrinking edit", func(st store.Status) bool { return inSync(st) && st.PlanDomains == 1 })
	e.waitResolve("only.example", "NXDOMAIN")
}

// checkBounds holds a run that deployed changes to the bounds fwsync gives
// for them: recorded, and below what the sync spent. The scheduler's own
// read of the VPC associations is not part of the sync the floor bounds.
func checkBounds(t *testing.T, r store.SyncRun) {
	t.Helper()
	updates, calls := r.Calls["UpdateFirewallDomains"]+r.Calls["ImportFirewallDomains"], 0
	for op, n := range r.Calls {
		if op != "ListFirewallRuleGroupAssociations" {
			calls += n
		}
	}
	if r.UpdatesLowerBound < 1 || r.UpdatesLowerBound > updates {
		t.Errorf("run's update-call lower bound is %d, want 1 to the %d updates made", r.UpdatesLowerBound, updates)
	}
	if r.CallsFloor <= r.UpdatesLowerBound || r.CallsFloor > calls {
		t.Errorf("run's calls floor is %d, want above the lower bound %d and at most the %d calls the sync made", r.CallsFloor, r.UpdatesLowerBound, calls)
	}
}
