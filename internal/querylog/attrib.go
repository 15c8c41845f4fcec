package querylog

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// Attribution: a hit belongs to the device whose rule group the log
// names; a resolution no rule matched belongs to every device whose rule
// group is associated with its VPC (the scheduler reads the associations
// at every sync); a line of no device is counted for the queue's
// organization as unattributed (device 0), never dropped.

// deviceRef is what attribution needs of a device.
type deviceRef struct {
	ID, OrgID int64
}

// devices is one queue's view of its devices, swapped whole when devices
// change.
type devices struct {
	// org takes the lines of no device.
	org     int64
	byGroup map[string]deviceRef
	byVPC   map[string][]deviceRef
	// orgs maps each device (and 0, for no device) to its organization.
	orgs map[int64]int64
}

// newDevices indexes devs (with the VPCs each device's rule group is
// associated with); org is the queue's organization.
func newDevices(org int64, devs []deviceRef, rgOf map[int64]string, vpcsOf map[int64][]string) *devices {
	d := &devices{org: org, byGroup: map[string]deviceRef{}, byVPC: map[string][]deviceRef{}, orgs: map[int64]int64{0: org}}
	for _, dev := range devs {
		d.orgs[dev.ID] = dev.OrgID
		if rg := rgOf[dev.ID]; rg != "" {
			d.byGroup[rg] = dev
		}
		for _, v := range vpcsOf[dev.ID] {
			d.byVPC[v] = append(d.byVPC[v], dev)
		}
	}
	return d
}

// source is what the plan deployed at a hit's time says caused it.
type source struct {
	Rule, Entry, Source string
	Line                int
	// Found says an entry of the plan matched.
	Found bool
}

// Candidates lists the domain list entries that match a query name, in
// DNS Firewall's order of specificity: the name, then *.parent up to *.
func Candidates(qname string) []string {
	n := strings.TrimSuffix(strings.ToLower(qname), ".")
	out := []string{n}
	for n != "" {
		i := strings.IndexByte(n, '.')
		if i < 0 {
			break
		}
		n = n[i+1:]
		out = append(out, "*."+n)
	}
	return append(out, "*")
}

// sourceCache remembers lookups of recent hits: a name hit once is
// usually hit again soon, and one list holds many of the names hit. Both
// are keyed by a ten-minute window of the hit's time, so a plan change
// reaches the hits after it within that window; a map is emptied when it
// reaches its bound (no eviction order is worth its cost here).
type sourceCache struct {
	mu      sync.Mutex
	max     int
	lists   map[sourceKey]store.EntryLookup
	entries map[sourceKey][]store.PlanEntry
}

type sourceKey struct {
	device int64
	name   string // a list ID, or a query name
	window int64
}

const cacheWindow = 10 * time.Minute

func newSourceCache(max int) *sourceCache {
	return &sourceCache{max: max, lists: make(map[sourceKey]store.EntryLookup), entries: make(map[sourceKey][]store.PlanEntry)}
}

// lookupMany finds the sources of hits of one device and list in one
// cache window (at is any time in it): the entry among each name's
// candidates that the list's rule held, preferring the most specific;
// with a list no deployment names, the most specific entry of any rule.
// The names the cache does not know are looked up together, a few
// queries for many hits rather than one each.
func (c *sourceCache) lookupMany(ctx context.Context, s store.Deployments, dev int64, listID string, at time.Time, qnames []string) ([]source, error) {
	w := at.UnixNano() / int64(cacheWindow)
	lk := sourceKey{dev, listID, w}
	c.mu.Lock()
	list, haveList := c.lists[lk]
	entries := make([][]store.PlanEntry, len(qnames))
	var missing []int
	for i, q := range qnames {
		e, ok := c.entries[sourceKey{dev, q, w}]
		if !ok {
			missing = append(missing, i)
		}
		entries[i] = e
	}
	c.mu.Unlock()
	var err error
	if !haveList {
		if list, err = s.LookupEntries(ctx, dev, listID, nil, at); err != nil {
			return nil, err
		}
	}
	if len(missing) > 0 {
		if err := c.fetch(ctx, s, dev, at, qnames, missing, entries); err != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	if len(c.lists)+len(c.entries)+len(missing) >= c.max {
		clear(c.lists)
		clear(c.entries)
	}
	c.lists[lk] = list
	for _, i := range missing {
		c.entries[sourceKey{dev, qnames[i], w}] = entries[i]
	}
	c.mu.Unlock()
	out := make([]source, len(qnames))
	for i, q := range qnames {
		l := list
		l.Entries = entries[i]
		out[i] = pick(l, Candidates(q))
	}
	return out, nil
}

// maxLookup bounds the domains of one lookup query (well under the bind
// parameters SQLite and PostgreSQL allow).
const maxLookup = 2000

// fetch looks up the candidates of the names at the indexes missing,
// every distinct candidate once, and sets each name's entries in the
// order of its candidates.
func (c *sourceCache) fetch(ctx context.Context, s store.Deployments, dev int64, at time.Time, qnames []string, missing []int, entries [][]store.PlanEntry) error {
	found := map[string]store.PlanEntry{}
	seen := map[string]bool{}
	var batch []string
	query := func() error {
		if len(batch) == 0 {
			return nil
		}
		res, err := s.LookupEntries(ctx, dev, "", batch, at)
		if err != nil {
			return err
		}
		for _, e := range res.Entries {
			found[e.Domain] = e
		}
		batch = batch[:0]
		return nil
	}
	for _, i := range missing {
		for _, cand := range Candidates(qnames[i]) {
			if seen[cand] {
				continue
			}
			seen[cand] = true
			if batch = append(batch, cand); len(batch) == maxLookup {
				if err := query(); err != nil {
					return err
				}
			}
		}
	}
	if err := query(); err != nil {
		return err
	}
	for _, i := range missing {
		var es []store.PlanEntry
		for _, cand := range Candidates(qnames[i]) {
			if e, ok := found[cand]; ok {
				es = append(es, e)
			}
		}
		entries[i] = es
	}
	return nil
}

func pick(res store.EntryLookup, cands []string) source {
	by := make(map[string]store.PlanEntry, len(res.Entries))
	for _, e := range res.Entries {
		by[e.Domain] = e
	}
	for _, c := range cands {
		e, ok := by[c]
		if !ok || (res.ListKnown && e.Rule != res.ListRule) {
			continue
		}
		return source{Rule: e.Rule, Entry: e.Domain, Source: e.Source, Line: e.Line, Found: true}
	}
	if res.ListKnown {
		return source{Rule: res.ListRule}
	}
	return source{}
}

// hitKind says why a rule matched: BLOCK is a block; ALERT is a PASSTHRU
// (the allow list's, or a feed's), or on a monitor-only device a rule that
// would have blocked. A hit no deployed entry explains is "other".
func hitKind(action string, src source) string {
	if !src.Found {
		return store.KindOther
	}
	if action == store.ActionBlock {
		return store.KindBlock
	}
	switch ruleSuffix(src.Rule) {
	case "passthru":
		if src.Source == "allow-list" {
			return store.KindAllowList
		}
		return store.KindPassthru
	case "nxdomain", "nodata", "garden":
		return store.KindMonitor
	}
	return store.KindOther
}

// ruleSuffix is what a plan rule's name says it does: rpzfw-3-nxdomain.
func ruleSuffix(rule string) string {
	if i := strings.LastIndexByte(rule, '-'); i >= 0 {
		return rule[i+1:]
	}
	return ""
}
