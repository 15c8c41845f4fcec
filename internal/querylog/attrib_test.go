package querylog

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// countingDeps counts the lookups of candidate domains and their size.
type countingDeps struct {
	store.Deployments
	mu      sync.Mutex
	queries []int
}

func (c *countingDeps) LookupEntries(ctx context.Context, dev int64, listID string, domains []string, at time.Time) (store.EntryLookup, error) {
	if len(domains) > 0 {
		c.mu.Lock()
		c.queries = append(c.queries, len(domains))
		c.mu.Unlock()
	}
	return c.Deployments.LookupEntries(ctx, dev, listID, domains, at)
}

func (c *countingDeps) take() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queries
	c.queries = nil
	return q
}

// TestLookupManyInBatches: the sources of many hits are looked up in a
// few queries of bounded size, each name gets the entry that one lookup
// of its own would give (the most specific of the list's rule), and a
// second look at the same names in the same window asks nothing.
func TestLookupManyInBatches(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	d := testDevice(t, s, "o", "fw", "rslvr-frg-a", testQueue, "vpc-a")
	const entries = 1500
	dep := store.Deployment{Fingerprint: "f1", Lists: []store.DeployedList{{ListID: "list-block", Rule: "rpzfw-1-nxdomain"},
		{ListID: "list-allow", Rule: "rpzfw-2-passthru"}}}
	for i := range entries {
		dep.Entries = append(dep.Entries, store.PlanEntry{Domain: "*.bad" + strconv.Itoa(i) + ".example", Rule: "rpzfw-1-nxdomain", Source: "feed", Line: i + 5})
	}
	// A more specific entry of another rule: not the block list's source.
	dep.Entries = append(dep.Entries, store.PlanEntry{Domain: "h1.bad7.example", Rule: "rpzfw-2-passthru", Source: "allow-list", Line: 1})
	if err := s.RecordDeployment(ctx, d.ID, t0.Add(-time.Hour), dep); err != nil {
		t.Fatal(err)
	}
	var names []string
	for i := range entries {
		names = append(names, "h"+strconv.Itoa(i%3)+".bad"+strconv.Itoa(i)+".example.")
	}
	names = append(names, "clean.example.", "h1.bad7.example.")
	deps := &countingDeps{Deployments: s}
	c := newSourceCache(50_000)
	srcs, err := c.lookupMany(ctx, deps, d.ID, "list-block", t0, names)
	if err != nil {
		t.Fatal(err)
	}
	q := deps.take()
	if len(q) < 2 {
		t.Errorf("%d queries for %d names: want them split in batches", len(q), len(names))
	}
	for _, n := range q {
		if n > maxLookup {
			t.Errorf("a query of %d domains, over %d", n, maxLookup)
		}
	}
	for i, name := range names {
		cands := Candidates(name)
		one, err := s.LookupEntries(ctx, d.ID, "list-block", cands, t0)
		if err != nil {
			t.Fatal(err)
		}
		if want := pick(one, cands); srcs[i] != want {
			t.Errorf("%s: %+v, one by one %+v", name, srcs[i], want)
		}
	}
	if got := srcs[7]; got.Entry != "*.bad7.example" || got.Line != 12 || got.Source != "feed" || !got.Found {
		t.Errorf("h1.bad7.example on the block list: %+v", got)
	}
	if got := srcs[entries]; got.Found || got.Rule != "rpzfw-1-nxdomain" {
		t.Errorf("a name no entry holds: %+v", got)
	}
	again, err := c.lookupMany(ctx, deps, d.ID, "list-block", t0.Add(time.Second), names)
	if err != nil {
		t.Fatal(err)
	}
	if q := deps.take(); len(q) != 0 {
		t.Errorf("the same names again asked %d queries", len(q))
	}
	for i := range names {
		if again[i] != srcs[i] {
			t.Errorf("%s from the cache: %+v, first %+v", names[i], again[i], srcs[i])
		}
	}
}
