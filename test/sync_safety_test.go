package test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver/types"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/dnsfw"
	"github.com/rpzfw/rpzfw/internal/emulator"
	"github.com/rpzfw/rpzfw/internal/fwsync"
)

// crashCase is a variant of the crash-anywhere loop: what the rule group
// runs on, and what someone else does at the moment the sync stops.
type crashCase struct {
	// setup makes the emulator and the options of both syncs.
	setup func(t *testing.T) (*syncEnv, syncOpts)
	// during runs at the crash point, in the middle of the sync's work,
	// and returns the query names it made matter.
	during func(t *testing.T, env *syncEnv) []string
	// rerun adjusts the options of the sync after the crash.
	rerun func(o syncOpts) syncOpts
}

// crashAnywhere stops the sync a->b after each of its API calls in turn
// and runs c.during at that moment; the rerun must converge with no
// orphans and every name as the plan says. It returns the number of
// crash points.
func crashAnywhere(t *testing.T, a, b testPolicy, c crashCase) int {
	t.Helper()
	crash := errors.New("crash")
	crashed := 0
	planA, _ := compileZones(t, compile.Settings{}, bindZones, a.texts)
	planB, _ := compileZones(t, compile.Settings{}, bindZones, b.texts)
	oldM, newM := dnsfw.NewMatcher(planA.Rules), dnsfw.NewMatcher(planB.Rules)
	names := union(a.names, b.names)
	for k := 1; ; k++ {
		env, o := c.setup(t)
		env.sync(t, a, o)
		n := 0
		var extra []string
		crashing := o
		crashing.after = func(string, error) error {
			if n++; n == k {
				if c.during != nil {
					extra = c.during(t, env)
				}
				return crash
			}
			return nil
		}
		_, err := env.syncer(t, crashing).Sync(context.Background(), b.compileTo(t), compile.DefaultMaxDomains)
		if err == nil && n < k {
			return crashed // this run made fewer calls: every call was covered
		}
		if !errors.Is(err, crash) {
			t.Fatalf("crash at call %d did not stop the sync: %v", k, err)
		}
		crashed++
		rerun := o
		if c.rerun != nil {
			rerun = c.rerun(o)
		}
		// The rerun, too, keeps every name at its old or its new outcome
		// after each of its calls (names someone else edited aside).
		calls := 0
		rerun.after = func(op string, _ error) error {
			calls++
			for _, q := range names {
				if touched(q, extra) {
					continue
				}
				got := env.dp.Verdict(q, "A").Outcome(true)
				if old, new := oldM.Match(q).Outcome(true), newM.Match(q).Outcome(true); got != old && got != new {
					return fmt.Errorf("rerun after a crash at call %d, after its call %d (%s): %s answers %s, neither old %s nor new %s", k, calls, op, q, got, old, new)
				}
			}
			return nil
		}
		res := env.sync(t, b, rerun)
		env.converged(t, res.Compile, union(union(a.names, b.names), extra))
		if t.Failed() {
			t.Fatalf("after a crash at call %d", k)
		}
	}
}

// plainSetup is an emulator with no faults.
func plainSetup(t *testing.T) (*syncEnv, syncOpts) {
	return newSyncEnv(t, emulator.Config{}), syncOpts{}
}

// unattached lists the rpzfw lists no rule uses.
func (env *syncEnv) unattached(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	rules, err := env.c.ListFirewallRules(ctx, &r53r.ListFirewallRulesInput{FirewallRuleGroupId: &env.group})
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, r := range rules.FirewallRules {
		used[*r.FirewallDomainListId] = true
	}
	var out []string
	for _, id := range env.listIDs(t) {
		if !used[id] {
			out = append(out, id)
		}
	}
	return out
}

func (env *syncEnv) listIDs(t *testing.T) []string {
	t.Helper()
	lists, err := env.c.ListFirewallDomainLists(context.Background(), &r53r.ListFirewallDomainListsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range lists.FirewallDomainLists {
		if strings.HasPrefix(*l.Name, "rpzfw-test-") {
			out = append(out, *l.Id)
		}
	}
	return out
}

// TestSyncCrashAnywhereAcrossHosts: at every call of a sync on host A,
// host B (its own state directory) syncs the same device to the same
// policy, then A stops. B must leave alone every list no rule uses (A may
// be filling it, and B may not take it for its own rules either). A's
// rerun (which asks about every list, since B changed lists A's state
// trusts) converges with no orphans.
func TestSyncCrashAnywhereAcrossHosts(t *testing.T) {
	a, b := randomPolicy(11, "p0", 2), randomPolicy(12, "p0", 2)
	n := crashAnywhere(t, a, b, crashCase{
		setup: plainSetup,
		during: func(t *testing.T, env *syncEnv) []string {
			hostB := *env
			hostB.dir = t.TempDir()
			filling := hostB.unattached(t)
			if _, err := hostB.syncer(t, syncOpts{}).Sync(context.Background(), b.compileTo(t), compile.DefaultMaxDomains); err != nil {
				t.Errorf("host B: %v", err)
			}
			left := map[string]bool{}
			for _, id := range hostB.listIDs(t) {
				left[id] = true
			}
			for _, id := range filling {
				if !left[id] {
					t.Errorf("host B deleted list %s, which host A may be filling", id)
				}
			}
			for _, id := range hostB.unattached(t) {
				if !contains(filling, id) {
					t.Errorf("host B left an unattached list %s of its own", id)
				}
			}
			return nil
		},
		rerun: func(o syncOpts) syncOpts { o.verifyAll = true; return o },
	})
	t.Logf("host B synced at each of %d crash points of host A; every rerun converged", n)
}

// touched says whether name is one of edited or under one of them.
func touched(name string, edited []string) bool {
	for _, e := range edited {
		if name == e || strings.HasSuffix(name, "."+e) {
			return true
		}
	}
	return false
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

// TestSyncCrashAnywhereWithDrift: at every call of a sync, someone edits
// one of rpzfw's lists by hand, keeping its domain count (one domain out,
// another in), and the sync stops. Once the list is due to be checked,
// the rerun notices the edit by its ModificationTime, reads that list
// back and repairs it: both names answer as the plan says.
func TestSyncCrashAnywhereWithDrift(t *testing.T) {
	a, b := randomPolicy(13, "p0", 2), randomPolicy(14, "p0", 2)
	edits := 0
	n := crashAnywhere(t, a, b, crashCase{
		setup: plainSetup,
		during: func(t *testing.T, env *syncEnv) []string {
			ctx := context.Background()
			for _, id := range env.listIDs(t) {
				waitComplete(t, env.c, id)
				doms, err := env.c.ListFirewallDomains(ctx, &r53r.ListFirewallDomainsInput{FirewallDomainListId: &id})
				if err != nil {
					t.Fatal(err)
				}
				if len(doms.Domains) == 0 {
					continue
				}
				gone := doms.Domains[0]
				intruder := fmt.Sprintf("intruder%d.p0.", edits)
				edits++
				for _, u := range []struct {
					op  types.FirewallDomainUpdateOperation
					dom string
				}{{types.FirewallDomainUpdateOperationRemove, gone}, {types.FirewallDomainUpdateOperationAdd, intruder}} {
					if _, err := env.c.UpdateFirewallDomains(ctx, &r53r.UpdateFirewallDomainsInput{FirewallDomainListId: &id, Operation: u.op, Domains: []string{u.dom}}); err != nil {
						t.Fatal(err)
					}
					waitComplete(t, env.c, id)
				}
				// Every list is due to be asked about at the rerun.
				env.e.Advance(fwsync.DefaultVerifyEvery)
				name := strings.TrimSuffix(strings.TrimPrefix(gone, "*."), ".")
				return []string{name, "x." + name, strings.TrimSuffix(intruder, ".")}
			}
			return nil
		},
	})
	if edits == 0 {
		t.Fatal("no list was edited")
	}
	t.Logf("a list was edited at %d of %d crash points; every rerun repaired it", edits, n)
}

// notes records what a sync reports.
type notes struct {
	mu   sync.Mutex
	msgs []string
}

func (n *notes) Step(int, int, fwsync.Step) {}
func (n *notes) Note(msg string, _ ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.msgs = append(n.msgs, msg)
}

func (n *notes) count(sub string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := 0
	for _, m := range n.msgs {
		if strings.Contains(m, sub) {
			c++
		}
	}
	return c
}

// TestSyncCrashAnywhereWithFailedImports: every new list is imported from
// the staging bucket, and every import ends in COMPLETE_IMPORT_FAILED. A
// sync stopped after any of its calls leaves lists in that state at some
// points; the rerun reports them, repairs or replaces them, and
// converges: a failed import never blocks a later sync, nor an unsync.
func TestSyncCrashAnywhereWithFailedImports(t *testing.T) {
	ctx := context.Background()
	moto, s3c := startStaging(t)
	rec := &notes{}
	var last *syncEnv
	a, b := randomPolicy(15, "p0", 2), randomPolicy(16, "p0", 2)
	n := crashAnywhere(t, a, b, crashCase{
		setup: func(t *testing.T) (*syncEnv, syncOpts) {
			env := newSyncEnv(t, stagedEmulator(t, moto))
			env.e.SetFaults(emulator.Faults{Ops: map[string]emulator.OpFault{"ImportFirewallDomains": {FailImport: true}}})
			last = env
			return env, syncOpts{staging: fwsync.S3Staging{API: s3c, Bucket: "staging"}, importMin: 1, progress: rec}
		},
	})
	if st := last.e.Stats(); st["ImportFirewallDomains"].Calls == 0 {
		t.Fatal("no list was imported")
	}
	if rec.count("import failed") == 0 || rec.count("failed import") == 0 {
		t.Fatalf("failed imports were not reported, within a sync and after a crash: %q", rec.msgs)
	}
	// Unsync after the last crash and rerun: nothing of rpzfw's is left.
	if _, err := last.syncer(t, syncOpts{}).Unsync(ctx); err != nil {
		t.Fatalf("unsync: %v", err)
	}
	if ids := last.listIDs(t); len(ids) != 0 {
		t.Fatalf("unsync left %d lists", len(ids))
	}
	t.Logf("crashed at each of %d calls with every import failing; every rerun converged", n)
}

// TestSyncReusesAListACrashLeft: a sync stops once its new lists are
// filled, before any rule uses them. The rerun takes those lists for the
// new rules (they are this state's, and hold what the rules need) instead
// of deleting them and filling new ones.
func TestSyncReusesAListACrashLeft(t *testing.T) {
	env := newSyncEnv(t, emulator.Config{})
	p := randomPolicy(17, "p0", 2)
	crash := errors.New("crash")
	updates := 0
	_, err := env.syncer(t, syncOpts{after: func(op string, _ error) error {
		if op == "UpdateFirewallDomains" {
			updates++
		}
		if op == "GetFirewallDomainList" && updates > 0 {
			return crash // the first wait before a rule is made
		}
		return nil
	}}).Sync(context.Background(), p.compileTo(t), compile.DefaultMaxDomains)
	if !errors.Is(err, crash) {
		t.Fatalf("want the crash, got %v", err)
	}
	left := env.unattached(t)
	if len(left) == 0 {
		t.Fatal("the crash left no list behind")
	}
	res := env.sync(t, p, syncOpts{})
	env.converged(t, res.Compile, p.names)
	if res.Calls["DeleteFirewallDomainList"] != 0 || res.Calls["UpdateFirewallDomains"] != 0 {
		t.Fatalf("the lists left behind were not reused: calls %v", res.Calls)
	}
	if res.Calls["CreateFirewallDomainList"] != len(res.Plan.Rules)-len(left) {
		t.Fatalf("%d lists made for %d rules with %d left behind: calls %v", res.Calls["CreateFirewallDomainList"], len(res.Plan.Rules), len(left), res.Calls)
	}
	for _, id := range left {
		if !contains(env.listIDs(t), id) {
			t.Errorf("list %s was deleted", id)
		}
	}
}
