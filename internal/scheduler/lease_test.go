package scheduler

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"

	"github.com/rpzfw/rpzfw/internal/store"
)

// clock is a fake clock tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// waitTicks lets n polls of s pass.
func waitTicks(s *Scheduler, n int) {
	for i := 0; i < n; i++ {
		s.Wake()
		<-s.ticked
	}
}

// An instance that dies without a word loses its devices to another one
// once its lease expires, not before; the new holder does not send a plan
// that is already deployed.
func TestTakeoverAfterTheLeaseExpires(t *testing.T) {
	e := newEnv(t)
	e.writeFile("zone.rpz", zone)
	e.createPolicy("p", policyDoc)
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	ctxA, killA := context.WithCancel(e.ctx)
	a, err := New(e.config("a", clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	a.ticked = make(chan struct{})
	if err := a.Start(ctxA); err != nil {
		t.Fatal(err)
	}
	d := e.createDevice("edge", "p", e.ruleGroup("g"))
	a.Wake()
	e.waitStatus(d, "synced by a", inSync)
	d, _ = e.store.DeviceByID(e.ctx, d.ID)
	key := a.leaseKey(d)
	killA() // as kill -9: no release
	<-a.loopDone
	a.syncs.Wait()

	e.reg = nil // b registers its own metrics
	b := e.start(func(c *Config) { c.Instance, c.Now = "b", clk.Now })
	waitTicks(b, 3)
	if holder, _, _ := e.store.LeaseHolder(e.ctx, key); holder != "a" {
		t.Fatalf("b took the lease before it expired: holder %q", holder)
	}
	clk.Advance(e.leaseTTL() + time.Second)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) && !slices.ContainsFunc(runs(e, d), func(r store.SyncRun) bool { return r.Instance == "b" }) {
		waitTicks(b, 1)
	}
	rs := runs(e, d)
	if !slices.ContainsFunc(rs, func(r store.SyncRun) bool {
		return r.Instance == "b" && r.Trigger == TriggerStart && r.Result == store.ResultUnchanged && len(r.Calls) == 0
	}) {
		t.Fatalf("b did not take the device over with a skipped sync:%s", describeRuns(rs))
	}
	if holder, _, _ := e.store.LeaseHolder(e.ctx, key); holder != "b" {
		t.Fatalf("holder %q, want b", holder)
	}
}

// An instance whose lease was taken stops its work on that key and does
// not take it back while the other holds it.
func TestLostLeaseIsDropped(t *testing.T) {
	e := newEnv(t)
	e.writeFile("zone.rpz", zone)
	e.createPolicy("p", policyDoc)
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	a := e.start(func(c *Config) { c.Now = clk.Now })
	d := e.createDevice("edge", "p", e.ruleGroup("g"))
	a.Wake()
	e.waitStatus(d, "synced", inSync)
	d, _ = e.store.DeviceByID(e.ctx, d.ID)
	key := a.leaseKey(d)
	// Another instance takes the lease as if a's had expired.
	later := clk.Now().Add(2 * e.leaseTTL())
	if ok, err := e.store.AcquireLease(e.ctx, key, "intruder", later, time.Hour); err != nil || !ok {
		t.Fatalf("intruder: %v %v", ok, err)
	}
	waitTicks(a, 3)
	a.mu.Lock()
	_, held := a.groups[key]
	a.mu.Unlock()
	if held {
		t.Fatal("a still holds a lease another instance took")
	}
	before := len(runs(e, d))
	if err := e.store.RequestSync(e.ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	waitTicks(a, 5)
	if len(runs(e, d)) != before {
		t.Fatalf("a synced a device whose lease it lost:%s", describeRuns(runs(e, d)))
	}
}

// Remove runs from any instance, but not beside another instance's
// running sync of the device; keep_rules leaves the rules in place.
func TestRemoveBesideAnotherInstance(t *testing.T) {
	e := newEnv(t)
	e.writeFile("zone.rpz", zone)
	e.createPolicy("p", policyDoc)
	group := e.ruleGroup("g")
	a := e.start(nil)
	d := e.createDevice("edge", "p", group)
	a.Wake()
	e.waitStatus(d, "synced", inSync)
	d, _ = e.store.DeviceByID(e.ctx, d.ID)
	// Another instance holds the lease and is syncing the device.
	e.reg = nil
	other, err := New(e.config("other", nil))
	if err != nil {
		t.Fatal(err)
	}
	key := a.leaseKey(d)
	if err := a.Shutdown(e.ctx); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.store.AcquireLease(e.ctx, key, "busy", time.Now(), time.Hour); err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	st, _ := e.store.GetStatus(e.ctx, d.ID)
	st.State = store.StateSyncing
	if err := e.store.PutStatus(e.ctx, st); err != nil {
		t.Fatal(err)
	}
	if err := other.Remove(e.ctx, d, false); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("remove beside a running sync: %v", err)
	}
	// Once that sync is over, the removal goes ahead; keep_rules leaves
	// the rule group as it is.
	st.State = store.StateInSync
	if err := e.store.PutStatus(e.ctx, st); err != nil {
		t.Fatal(err)
	}
	if err := other.Remove(e.ctx, d, true); err != nil {
		t.Fatal(err)
	}
	out, err := e.api.ListFirewallRules(e.ctx, &r53r.ListFirewallRulesInput{FirewallRuleGroupId: aws.String(group)})
	if err != nil || len(out.FirewallRules) == 0 {
		t.Fatalf("keep_rules removed the rules: %v %v", out, err)
	}
	if _, err := e.store.DeviceByID(e.ctx, d.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the device is still there: %v", err)
	}
}
