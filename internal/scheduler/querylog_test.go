package scheduler

import (
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/querylog"
	"github.com/rpzfw/rpzfw/internal/store"
)

// TestSyncRecordsTheDeployment: after a sync, the store knows which list
// holds which rule and where each entry came from, so that the log
// pipeline can say which feed and line caused a hit; a feed change is
// recorded as a new version.
func TestSyncRecordsTheDeployment(t *testing.T) {
	e := newEnv(t)
	e.writeFile("zone.rpz", zone)
	e.createPolicy("p", policyDoc)
	e.start(nil)
	d := e.createDevice("edge", "p", e.ruleGroup("g"))
	e.sched.Wake()
	e.waitStatus(d, "added", inSync)
	lookup := func(name string) store.EntryLookup {
		t.Helper()
		st, err := e.store.SyncState(d.ID).Load(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for id := range st.Lists {
			res, err := e.store.LookupEntries(e.ctx, d.ID, id, querylog.Candidates(name), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Entries) > 0 && res.ListKnown && res.Entries[0].Rule == res.ListRule {
				return res
			}
		}
		return store.EntryLookup{}
	}
	if res := lookup("deep.x.botnet.example."); len(res.Entries) != 1 || res.Entries[0].Domain != "*.botnet.example" ||
		res.Entries[0].Source != "feed" || res.Entries[0].Line != 5 {
		t.Fatalf("the entry behind deep.x.botnet.example: %+v", res)
	}
	if res := lookup("blocked.example."); len(res.Entries) != 1 || res.Entries[0].Source != "block-list" {
		t.Errorf("the entry behind blocked.example: %+v", res)
	}
	fp, err := e.store.CurrentFingerprint(e.ctx, d.ID)
	if err != nil || fp == "" {
		t.Fatalf("fingerprint %q, %v", fp, err)
	}
	e.writeFile("zone.rpz", zone+"feed.example CNAME .\n")
	e.waitStatus(d, "feed changed", func(st store.Status) bool { return inSync(st) && st.PlanDomains == 6 })
	if res := lookup("feed.example."); len(res.Entries) != 1 || res.Entries[0].Line != 8 {
		t.Errorf("the entry behind feed.example: %+v", res)
	}
	if now, _ := e.store.CurrentFingerprint(e.ctx, d.ID); now == fp {
		t.Error("the feed change recorded no new version")
	}
}
