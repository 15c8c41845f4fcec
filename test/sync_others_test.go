package test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver/types"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/emulator"
	"github.com/rpzfw/rpzfw/internal/fwsync"
)

// Syncs against what others do to the rule group: edits by hand, failed
// imports, a second host, and what a sync keeps between runs.

// TestSyncRereadsAListChangedBehindItsBack: someone adds to a list of
// rpzfw's; its count no longer matches the state, so the next sync reads it
// back in full and removes the stranger.
func TestSyncRereadsAListChangedBehindItsBack(t *testing.T) {
	ctx := context.Background()
	env := newSyncEnv(t, emulator.Config{})
	p := randomPolicy(21, "p0", 2)
	res := env.sync(t, p, syncOpts{})
	lists, _ := env.c.ListFirewallDomainLists(ctx, &r53r.ListFirewallDomainListsInput{})
	var victim string
	for _, l := range lists.FirewallDomainLists {
		if strings.HasPrefix(*l.Name, "rpzfw-test-") {
			victim = *l.Id
			break
		}
	}
	if _, err := env.c.UpdateFirewallDomains(ctx, &r53r.UpdateFirewallDomainsInput{FirewallDomainListId: &victim, Operation: types.FirewallDomainUpdateOperationAdd, Domains: []string{"intruder.example"}}); err != nil {
		t.Fatal(err)
	}
	waitComplete(t, env.c, victim)
	env.e.Advance(fwsync.DefaultVerifyEvery) // every list is due to be checked again
	again := env.sync(t, p, syncOpts{})
	if again.Calls["ListFirewallDomains"] == 0 || again.Plan.Removed != 1 {
		t.Fatalf("the changed list was not read back: calls %v, removed %d", again.Calls, again.Plan.Removed)
	}
	env.converged(t, res.Compile, append(p.names, "intruder.example"))
}

// TestSyncRefusesToWipe: a source that suddenly holds almost nothing would
// unblock most of the firewall; sync stops and changes nothing unless told.
func TestSyncRefusesToWipe(t *testing.T) {
	env := newSyncEnv(t, emulator.Config{})
	p := randomPolicy(31, "p0", 4)
	res := env.sync(t, p, syncOpts{strict: true})
	empty := testPolicy{texts: []string{zoneHeader, zoneHeader, zoneHeader}}
	_, err := env.syncer(t, syncOpts{strict: true}).Sync(context.Background(), empty.compileTo(t), compile.DefaultMaxDomains)
	if err == nil || !strings.Contains(err.Error(), "--allow-shrink") {
		t.Fatalf("want a refusal, got %v", err)
	}
	env.converged(t, res.Compile, p.names) // nothing changed
	if _, err := env.syncer(t, syncOpts{}).Sync(context.Background(), empty.compileTo(t), compile.DefaultMaxDomains); err != nil {
		t.Fatal(err)
	}
}

// TestSyncSurvivesAFailedImport: an import that ends in
// COMPLETE_IMPORT_FAILED is repaired by updates within the sync; one left
// behind by a sync that stopped right after the import call blocks
// neither the next sync (even without the staging bucket) nor unsync.
func TestSyncSurvivesAFailedImport(t *testing.T) {
	ctx := context.Background()
	moto, s3c := startStaging(t)
	env := newSyncEnv(t, stagedEmulator(t, moto))
	env.e.SetFaults(emulator.Faults{Ops: map[string]emulator.OpFault{"ImportFirewallDomains": {FailImport: true}}})
	// big is a policy of 6000 names; with extra, 6000 more under another
	// action: a new rule whose list is imported.
	big := func(tag, extra string) testPolicy {
		var zone, more strings.Builder
		zone.WriteString(zoneHeader)
		more.WriteString(zoneHeader)
		for i := range 6000 {
			fmt.Fprintf(&zone, "d%05d.%s CNAME .\n", i, tag)
			if extra != "" {
				fmt.Fprintf(&more, "d%05d.%s CNAME *.\n", i, extra)
			}
		}
		zone.WriteString("ok.d00001." + tag + " CNAME rpz-passthru.\n")
		names := []string{"d00000." + tag, "d05999." + tag, "ok.d00001." + tag, "x.ok.d00001." + tag}
		if extra != "" {
			names = append(names, "d00000."+extra, "d05999."+extra)
		}
		return testPolicy{texts: []string{zone.String(), more.String(), zoneHeader}, names: names}
	}
	staged := func(after func(string, error) error) *fwsync.Syncer {
		s, err := fwsync.New(env.c, fwsync.FileStore{Dir: env.dir}, fwsync.S3Staging{API: s3c, Bucket: "staging"}, nil, fwsync.Config{
			RuleGroupID: env.group, Device: "test", RateLimit: -1, AllowShrink: true, PollInitial: 2 * time.Millisecond, PollMax: 20 * time.Millisecond,
			Progress: quietProgress{}, AfterCall: after,
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// The import fails; the sync fills the list by updates and succeeds.
	a := big("a", "")
	res, err := staged(nil).Sync(ctx, a.compileTo(t), compile.DefaultMaxDomains)
	if err != nil {
		t.Fatalf("a failed import stopped the sync: %v", err)
	}
	if res.Calls["ImportFirewallDomains"] != 1 {
		t.Fatalf("calls: %v", res.Calls)
	}
	env.converged(t, res.Compile, a.names)
	// A sync stops right after its import call; the import then fails.
	crash := errors.New("crash")
	b := big("a", "b")
	_, err = staged(func(op string, err error) error {
		if op == "ImportFirewallDomains" {
			return crash
		}
		return nil
	}).Sync(ctx, b.compileTo(t), compile.DefaultMaxDomains)
	if !errors.Is(err, crash) {
		t.Fatalf("want the crash, got %v", err)
	}
	failed := 0
	lists, _ := env.c.ListFirewallDomainLists(ctx, &r53r.ListFirewallDomainListsInput{})
	for _, l := range lists.FirewallDomainLists {
		waitComplete(t, env.c, *l.Id)
		out, _ := env.c.GetFirewallDomainList(ctx, &r53r.GetFirewallDomainListInput{FirewallDomainListId: l.Id})
		if out.FirewallDomainList.Status == types.FirewallDomainListStatusCompleteImportFailed {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("no list was left in COMPLETE_IMPORT_FAILED")
	}
	// Without the staging bucket, the next sync gets on with it.
	res = env.sync(t, b, syncOpts{})
	env.converged(t, res.Compile, b.names)
	// Leave another failed list behind, then unsync.
	env.sync(t, a, syncOpts{})
	_, err = staged(func(op string, err error) error {
		if op == "ImportFirewallDomains" {
			return crash
		}
		return nil
	}).Sync(ctx, big("a", "c").compileTo(t), compile.DefaultMaxDomains)
	if !errors.Is(err, crash) {
		t.Fatalf("want the crash, got %v", err)
	}
	if _, err := env.syncer(t, syncOpts{}).Unsync(ctx); err != nil {
		t.Fatalf("unsync after a failed import: %v", err)
	}
	lists, _ = env.c.ListFirewallDomainLists(ctx, &r53r.ListFirewallDomainListsInput{})
	if len(lists.FirewallDomainLists) != 0 {
		t.Fatalf("unsync left %d lists", len(lists.FirewallDomainLists))
	}
}

// TestSyncRepairsAnEditThatKeepsTheCount: someone swaps one domain of a
// list of rpzfw's for another, so its count stays the same. The list's
// ModificationTime moved: the next sync reads that list back (and no
// other) and repairs it; the sync after that reads nothing back.
func TestSyncRepairsAnEditThatKeepsTheCount(t *testing.T) {
	ctx := context.Background()
	env := newSyncEnv(t, emulator.Config{})
	p := randomPolicy(22, "p0", 2)
	res := env.sync(t, p, syncOpts{})
	lists, _ := env.c.ListFirewallDomainLists(ctx, &r53r.ListFirewallDomainListsInput{})
	var victim, gone string
	for _, l := range lists.FirewallDomainLists {
		doms, err := env.c.ListFirewallDomains(ctx, &r53r.ListFirewallDomainsInput{FirewallDomainListId: l.Id})
		if err != nil {
			t.Fatal(err)
		}
		if len(doms.Domains) > 0 {
			victim, gone = *l.Id, strings.TrimSuffix(doms.Domains[0], ".")
			break
		}
	}
	before, _ := env.c.GetFirewallDomainList(ctx, &r53r.GetFirewallDomainListInput{FirewallDomainListId: &victim})
	for _, u := range []struct {
		op  types.FirewallDomainUpdateOperation
		dom string
	}{{types.FirewallDomainUpdateOperationRemove, gone}, {types.FirewallDomainUpdateOperationAdd, "intruder.example"}} {
		if _, err := env.c.UpdateFirewallDomains(ctx, &r53r.UpdateFirewallDomainsInput{FirewallDomainListId: &victim, Operation: u.op, Domains: []string{u.dom}}); err != nil {
			t.Fatal(err)
		}
		waitComplete(t, env.c, victim)
	}
	after, _ := env.c.GetFirewallDomainList(ctx, &r53r.GetFirewallDomainListInput{FirewallDomainListId: &victim})
	if *after.FirewallDomainList.DomainCount != *before.FirewallDomainList.DomainCount || *after.FirewallDomainList.ModificationTime == *before.FirewallDomainList.ModificationTime {
		t.Fatalf("the edit should keep the count (%d -> %d) and move the modification time (%s -> %s)", *before.FirewallDomainList.DomainCount,
			*after.FirewallDomainList.DomainCount, *before.FirewallDomainList.ModificationTime, *after.FirewallDomainList.ModificationTime)
	}
	env.e.Advance(fwsync.DefaultVerifyEvery) // every list is due to be checked again
	again := env.sync(t, p, syncOpts{})
	if again.Calls["ListFirewallDomains"] != 1 || again.Plan.Added != 1 || again.Plan.Removed != 1 {
		t.Fatalf("the edited list was not read back and repaired alone: calls %v, added %d, removed %d", again.Calls, again.Plan.Added, again.Plan.Removed)
	}
	env.converged(t, res.Compile, append(p.names, "intruder.example", gone))
	quiet := env.sync(t, p, syncOpts{})
	if quiet.Calls["ListFirewallDomains"] != 0 || !quiet.Plan.Unchanged {
		t.Fatalf("an unchanged rule group was read back: calls %v", quiet.Calls)
	}
}

// TestSyncUnchangedIsCheapAndStillNoticesEdits: an unchanged policy costs
// at most 4 calls (the rules, the lists, and the status of the one list
// confirmed longest ago); an edit by someone else to a list the state
// trusts is still noticed and repaired within as many syncs as there are
// lists, with no clock moving.
func TestSyncUnchangedIsCheapAndStillNoticesEdits(t *testing.T) {
	ctx := context.Background()
	env := newSyncEnv(t, emulator.Config{})
	p := randomPolicy(23, "p0", 2)
	res := env.sync(t, p, syncOpts{})
	lists, _ := env.c.ListFirewallDomainLists(ctx, &r53r.ListFirewallDomainListsInput{})
	n := len(lists.FirewallDomainLists)
	if n < 2 {
		t.Fatalf("want several lists, got %d", n)
	}
	quiet := env.sync(t, p, syncOpts{})
	if !quiet.Plan.Unchanged || quiet.TotalCalls() > 4 || quiet.Calls["GetFirewallDomainList"] != 1 {
		t.Fatalf("an unchanged policy cost %d calls: %v", quiet.TotalCalls(), quiet.Calls)
	}
	victim := *lists.FirewallDomainLists[n-1].Id
	if _, err := env.c.UpdateFirewallDomains(ctx, &r53r.UpdateFirewallDomainsInput{FirewallDomainListId: &victim, Operation: types.FirewallDomainUpdateOperationAdd, Domains: []string{"intruder.example"}}); err != nil {
		t.Fatal(err)
	}
	waitComplete(t, env.c, victim)
	repaired := false
	for range n {
		r := env.sync(t, p, syncOpts{})
		if r.Plan.Removed == 1 {
			repaired = true
			break
		}
		if !r.Plan.Unchanged || r.TotalCalls() > 4 {
			t.Fatalf("before the edited list's turn: %d calls %v", r.TotalCalls(), r.Calls)
		}
	}
	if !repaired {
		t.Fatalf("the edit was not noticed within %d syncs", n)
	}
	env.converged(t, res.Compile, append(p.names, "intruder.example"))
}

// TestSyncAcrossHostsSparesYoungLists: two hosts sync one device with
// their own state directories. While host A fills a new list, host B
// syncs: it must leave A's list alone (no rule uses it yet, but it is
// young). A then dies; B leaves the list alone until it is older than the
// orphan grace by the emulator's clock, and then deletes it.
func TestSyncAcrossHostsSparesYoungLists(t *testing.T) {
	ctx := context.Background()
	env := newSyncEnv(t, emulator.Config{})
	hostB := *env
	hostB.dir = t.TempDir()
	host := func(e *syncEnv, after func(string, error) error) *fwsync.Syncer {
		s, err := fwsync.New(e.c, fwsync.FileStore{Dir: e.dir}, nil, nil, fwsync.Config{
			RuleGroupID: e.group, Device: "test", RateLimit: -1, AllowShrink: true, PollInitial: 2 * time.Millisecond, PollMax: 20 * time.Millisecond,
			Progress: quietProgress{}, AfterCall: after, Now: e.e.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	p := randomPolicy(41, "p0", 2)
	q := randomPolicy(42, "p1", 2)
	listIDs := func() map[string]bool {
		out := map[string]bool{}
		lists, _ := env.c.ListFirewallDomainLists(ctx, &r53r.ListFirewallDomainListsInput{})
		for _, l := range lists.FirewallDomainLists {
			out[*l.Id] = true
		}
		return out
	}
	var filling string
	crash := errors.New("host A dies")
	before := listIDs()
	_, err := host(env, func(op string, err error) error {
		if op != "UpdateFirewallDomains" || filling != "" {
			return nil
		}
		for id := range listIDs() {
			if !before[id] {
				filling = id
			}
		}
		// Host B syncs another policy while A is filling its list.
		if _, err := host(&hostB, nil).Sync(ctx, q.compileTo(t), compile.DefaultMaxDomains); err != nil {
			t.Errorf("host B: %v", err)
		}
		if !listIDs()[filling] {
			t.Errorf("host B deleted the list host A is filling")
		}
		return crash
	}).Sync(ctx, p.compileTo(t), compile.DefaultMaxDomains)
	if !errors.Is(err, crash) || filling == "" {
		t.Fatalf("host A: %v (filling %q)", err, filling)
	}
	// Still young by the emulator's clock: B leaves it.
	env.e.Advance(fwsync.OrphanGrace - time.Minute)
	res, err := host(&hostB, nil).Sync(ctx, q.compileTo(t), compile.DefaultMaxDomains)
	if err != nil || !listIDs()[filling] {
		t.Fatalf("host B, before the grace period ended: %v; list left: %v", err, listIDs()[filling])
	}
	// Past the grace period, B deletes the leftover.
	env.e.Advance(2 * time.Minute)
	if _, err := host(&hostB, nil).Sync(ctx, q.compileTo(t), compile.DefaultMaxDomains); err != nil {
		t.Fatal(err)
	}
	if listIDs()[filling] {
		t.Fatal("the leftover list outlived the grace period")
	}
	hostB.converged(t, res.Compile, union(p.names, q.names))
}

// TestSyncKeepsTheLearnedSettleDelay: the delay a sync learned to wait
// after a change is kept in the device's state for the next run.
func TestSyncKeepsTheLearnedSettleDelay(t *testing.T) {
	env := newSyncEnv(t, emulator.Config{})
	env.sync(t, randomPolicy(51, "p0", 1), syncOpts{})
	st, err := fwsync.FileStore{Dir: env.dir}.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.SettleNanos <= 0 {
		t.Fatalf("no settle delay saved: %+v", st)
	}
}
