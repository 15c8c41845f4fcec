package querylog

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

const testQueue = "http://127.0.0.1:1/123456789012/logs"

var t0 = time.Date(2030, 5, 4, 10, 0, 0, 0, time.UTC)

// ingestText reads text as the object key and commits it as the consumer
// does.
func ingestText(t *testing.T, s store.Store, devs *devices, key string, body io.Reader) (bool, ObjectStats) {
	t.Helper()
	ctx := t.Context()
	ref := ObjectRef{Bucket: "logs", Key: key, ETag: "etag-" + key}
	oi := newObjectIngest(ref, devs, newSourceCache(100), s, slog.New(slog.DiscardHandler), t.TempDir())
	defer oi.agg.close()
	if err := oi.read(ctx, body); err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	fresh, err := s.IngestObject(ctx, store.LogObject{Queue: testQueue, Bucket: ref.Bucket, Key: ref.Key, ETag: ref.ETag, OrgID: devs.org,
		Lines: oi.stats.Lines, BadLines: oi.stats.BadLines, Hits: oi.stats.Hits, Newest: oi.stats.Newest, Devices: oi.devicesSeen()},
		func(w store.IngestWriter) error { return oi.agg.write(ctx, w) })
	if err != nil {
		t.Fatalf("storing %s: %v", key, err)
	}
	return fresh, oi.stats
}

func devicesOf(t *testing.T, s store.Store, ds ...store.Device) *devices {
	t.Helper()
	var refs []deviceRef
	rg, vpcs := map[int64]string{}, map[int64][]string{}
	for _, d := range ds {
		st, err := s.GetStatus(t.Context(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, deviceRef{ID: d.ID, OrgID: d.OrgID})
		rg[d.ID], vpcs[d.ID] = d.RuleGroupID, st.VPCs
	}
	return newDevices(ds[0].OrgID, refs, rg, vpcs)
}

// TestAttribution: each hit gets its device, rule, entry, source and
// line, and the kind of ALERT; resolutions without a hit count for the
// devices of their VPC; everything else is unattributed, not dropped.
func TestAttribution(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	blocking := testDevice(t, s, "o", "blocking", "rslvr-frg-block", testQueue, "vpc-a", "vpc-shared")
	monitor := testDevice(t, s, "o", "monitor", "rslvr-frg-mon", testQueue, "vpc-b", "vpc-shared")
	pb, pm := testPlan(t, false), testPlan(t, true)
	for d, p := range map[int64]bool{blocking.ID: false, monitor.ID: true} {
		plan := pb
		if p {
			plan = pm
		}
		st, doms := deployed(plan)
		if err := s.RecordDeployment(ctx, d, t0.Add(-time.Hour), BuildDeployment("h", plan, st, doms)); err != nil {
			t.Fatal(err)
		}
	}
	at := t0.Add(90 * time.Second)
	lines := []string{
		logLine(at, "vpc-a", "X.Bad.Example.", "10.0.0.1", "rslvr-frg-block", "BLOCK", listOf(t, pb, "*.bad.example")),
		logLine(at, "vpc-a", "ok.bad.example.", "10.0.0.1", "rslvr-frg-block", "ALERT", listOf(t, pb, "ok.bad.example")),
		logLine(at, "vpc-a", "pass.bad.example.", "10.0.0.2", "rslvr-frg-block", "ALERT", listOf(t, pb, "pass.bad.example")),
		logLine(at, "vpc-a", "blocked.example.", "10.0.0.2", "rslvr-frg-block", "BLOCK", listOf(t, pb, "blocked.example")),
		logLine(at, "vpc-b", "deep.x.bad.example.", "10.0.1.1", "rslvr-frg-mon", "ALERT", listOf(t, pm, "*.bad.example")),
		logLine(at, "vpc-a", "foreign.example.", "10.0.0.3", "rslvr-frg-block", "BLOCK", "rslvr-fdl-notours"),
		logLine(at, "vpc-x", "x.bad.example.", "10.9.0.1", "rslvr-frg-unknown", "BLOCK", "rslvr-fdl-1"),
		logLine(at, "vpc-a", "clean.example.", "10.0.0.1", "", "", ""),
		logLine(at, "vpc-shared", "clean.example.", "10.0.2.1", "", "", ""),
		logLine(at, "vpc-x", "clean.example.", "10.9.0.1", "", "", ""),
		`{"query_name":`,
		"",
	}
	fresh, stats := ingestText(t, s, devicesOf(t, s, blocking, monitor), "k", strings.NewReader(strings.Join(lines, "\n")))
	if !fresh || stats.Lines != 11 || stats.BadLines != 1 || stats.Hits != 6 || stats.Unattributed != 2 || !stats.Newest.Equal(at) {
		t.Fatalf("fresh %v, stats %+v", fresh, stats)
	}
	hits, err := s.SearchHits(ctx, store.HitQuery{LogFilter: store.LogFilter{OrgID: blocking.OrgID, From: t0, To: t0.Add(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	type view struct{ dev, name, kind, rule, entry, source string }
	got := map[string]view{}
	nick := map[int64]string{blocking.ID: "blocking", monitor.ID: "monitor"}
	for _, h := range hits {
		got[h.QueryName] = view{nick[h.DeviceID], h.QueryName, h.Kind, ruleSuffix(h.Rule), h.Entry, h.Source}
	}
	want := map[string]view{
		"x.bad.example.":      {"blocking", "x.bad.example.", store.KindBlock, "nxdomain", "*.bad.example", "feed"},
		"ok.bad.example.":     {"blocking", "ok.bad.example.", store.KindAllowList, "passthru", "ok.bad.example", "allow-list"},
		"pass.bad.example.":   {"blocking", "pass.bad.example.", store.KindPassthru, "passthru", "pass.bad.example", "feed"},
		"blocked.example.":    {"blocking", "blocked.example.", store.KindBlock, "nxdomain", "blocked.example", "block-list"},
		"deep.x.bad.example.": {"monitor", "deep.x.bad.example.", store.KindMonitor, "nxdomain", "*.bad.example", "feed"},
		"foreign.example.":    {"blocking", "foreign.example.", store.KindOther, "", "", ""},
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got[name], w)
		}
	}
	if len(hits) != len(want) {
		t.Errorf("%d hits, want %d", len(hits), len(want))
	}
	for _, h := range hits {
		if h.QueryName == "x.bad.example." && h.Line != 5 {
			t.Errorf("x.bad.example: line %d of the feed, want 5", h.Line)
		}
	}
	checkCounts(t, s, blocking, monitor)
}

// checkCounts: resolutions by device, no-match ones by VPC (vpc-shared
// counts for both), the rest unattributed.
func checkCounts(t *testing.T, s store.Store, blocking, monitor store.Device) {
	t.Helper()
	counts := func(devs []int64) map[string]int64 {
		f := store.LogFilter{OrgID: blocking.OrgID, From: t0, To: t0.Add(time.Hour), Devices: devs}
		c, err := s.SumCounts(t.Context(), f, []store.Span{{From: f.From, To: f.To, Width: time.Minute}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := counts([]int64{blocking.ID}); c[store.ActionBlock] != 3 || c[store.ActionAlert] != 2 || c[store.ActionNone] != 2 {
		t.Errorf("counts of the blocking device: %v", c)
	}
	if c := counts([]int64{monitor.ID}); c[store.ActionAlert] != 1 || c[store.ActionNone] != 1 {
		t.Errorf("counts of the monitor device: %v", c)
	}
	if c := counts([]int64{0}); c[store.ActionBlock] != 1 || c[store.ActionNone] != 1 {
		t.Errorf("unattributed counts: %v", c)
	}
	if st, _ := s.GetStatus(t.Context(), monitor.ID); st.LastLogRetrieved.IsZero() {
		t.Error("last_log_retrieved not set")
	}
}

// TestLargeObject: an object with more hits and keys than memory holds
// spills to disk and is stored whole, once.
func TestLargeObject(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	d := testDevice(t, s, "o", "fw", "rslvr-frg-block", testQueue, "vpc-a")
	p := testPlan(t, false)
	st, doms := deployed(p)
	if err := s.RecordDeployment(ctx, d.ID, t0.Add(-time.Hour), BuildDeployment("h", p, st, doms)); err != nil {
		t.Fatal(err)
	}
	list := listOf(t, p, "*.bad.example")
	const n = 3 * maxHits
	pr, pw := io.Pipe()
	go func() {
		for i := range n {
			at := t0.Add(time.Duration(i) * time.Second)
			io.WriteString(pw, logLine(at, "vpc-a", "h"+strconv.Itoa(i)+".bad.example.", "10.1."+strconv.Itoa(i%250)+"."+strconv.Itoa(i/250%250), "rslvr-frg-block", "BLOCK", list)+"\n")
			io.WriteString(pw, logLine(at, "vpc-a", "clean.example.", "10.2."+strconv.Itoa(i%250)+"."+strconv.Itoa(i/250%250), "", "", "")+"\n")
		}
		pw.Close()
	}()
	fresh, stats := ingestText(t, s, devicesOf(t, s, d), "big", pr)
	if !fresh || stats.Hits != n || stats.Lines != 2*n {
		t.Fatalf("fresh %v stats %+v", fresh, stats)
	}
	f := store.LogFilter{OrgID: d.OrgID, From: t0, To: t0.Add(24 * time.Hour)}
	sums, err := s.SumHits(ctx, f, []store.Span{{From: t0, To: f.To, Width: time.Hour}})
	if err != nil || sums[store.ActionBlock] != n {
		t.Errorf("hits by rollup: %v, %v", sums, err)
	}
	clients, err := s.DistinctClients(ctx, f, []store.Span{{From: t0, To: f.To, Width: time.Hour}})
	if err != nil || clients != 2*n {
		t.Errorf("distinct clients %d (%v), want %d", clients, err, 2*n)
	}
	var all int
	q := store.HitQuery{LogFilter: f, Limit: 1000}
	for {
		page, err := s.SearchHits(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		all += len(page)
		if len(page) < q.Limit {
			break
		}
		q.Before, q.BeforeID = page[len(page)-1].At, page[len(page)-1].ID
	}
	if all != n {
		t.Errorf("%d hits stored, want %d", all, n)
	}
}
