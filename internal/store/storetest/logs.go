package storetest

import (
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// RunLogs runs the suite of the query-log tables (store.Logs). open
// returns a new empty store; RunLogs closes it.
func RunLogs(t *testing.T, open func(t *testing.T) store.Store) {
	groups := []struct {
		name string
		test func(t *testing.T, s store.Store)
	}{
		{"IngestOnce", testIngestOnce},
		{"IngestAllOrNothing", testIngestAllOrNothing},
		{"LastLogRetrieved", testLastLogRetrieved},
		{"Deployments", testDeployments},
		{"DeploymentLarge", testDeploymentLarge},
		{"LogQueues", testLogQueues},
		{"Quarantine", testQuarantine},
		{"Prune", testPrune},
		{"ReportSums", testReportSums},
		{"ReportTop", testReportTop},
		{"SearchHits", testSearchHits},
		{"DeleteDeviceDropsHits", testDeleteDeviceDropsHits},
		{"Tops", testTops},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("closing the store: %v", err)
				}
			})
			g.test(t, s)
		})
	}
}

// hour0 is a whole hour, so that buckets start at it.
var hour0 = time.Date(2030, 1, 2, 3, 0, 0, 0, time.UTC)

func obj(key string, orgID int64, devices ...int64) store.LogObject {
	return store.LogObject{Queue: "https://sqs.eu-west-1.amazonaws.com/123456789012/q", Bucket: "logs", Key: key, ETag: "e-" + key,
		OrgID: orgID, Size: 100, Lines: 10, BadLines: 1, Hits: 2, Newest: hour0.Add(time.Minute), ProcessedAt: hour0.Add(2 * time.Minute),
		Instance: "a", Devices: devices}
}

func hit(orgID, deviceID int64, at time.Time, name, action, source string) store.Hit {
	return store.Hit{OrgID: orgID, DeviceID: deviceID, At: at, QueryName: name, QueryType: "A", Rcode: "NXDOMAIN",
		SrcAddr: "10.0.0.1", SrcID: "i-0123", VPCID: "vpc-1", Action: action, Kind: store.KindBlock, Rule: "rpzfw-1-nxdomain",
		ListID: "rslvr-fdl-1", Entry: "*.bad.example", Source: source, Line: 7}
}

// ingest stores an object with hits, counts of each hit (and extra NONE),
// and the rollups the pipeline would make.
func ingest(t *testing.T, s store.Store, o store.LogObject, hits []store.Hit, none int64) bool {
	t.Helper()
	fresh, err := s.IngestObject(t.Context(), o, func(w store.IngestWriter) error {
		if err := w.AddHits(t.Context(), hits); err != nil {
			return err
		}
		var counts []store.Count
		var rolls []store.Rollup
		for _, h := range hits {
			for _, width := range []time.Duration{time.Minute, time.Hour} {
				counts = append(counts, store.Count{OrgID: h.OrgID, DeviceID: h.DeviceID, Width: width, At: h.At.Truncate(width), Action: h.Action, N: 1})
			}
			for _, r := range []struct {
				dim, value string
				widths     []time.Duration
			}{
				{store.DimRule, h.Rule, []time.Duration{time.Minute, time.Hour, 24 * time.Hour}},
				{store.DimClient, h.SrcAddr, []time.Duration{time.Hour, 24 * time.Hour}},
			} {
				for _, width := range r.widths {
					rolls = append(rolls, store.Rollup{OrgID: h.OrgID, DeviceID: h.DeviceID, Dim: r.dim, Width: width,
						At: h.At.Truncate(width), Action: h.Action, Source: h.Source, Value: r.value, N: 1})
				}
			}
		}
		if none > 0 && len(hits) > 0 {
			h := hits[0]
			counts = append(counts, store.Count{OrgID: h.OrgID, DeviceID: h.DeviceID, Width: time.Minute, At: h.At.Truncate(time.Minute), Action: store.ActionNone, N: none},
				store.Count{OrgID: h.OrgID, DeviceID: h.DeviceID, Width: time.Hour, At: h.At.Truncate(time.Hour), Action: store.ActionNone, N: none})
			rolls = append(rolls, store.Rollup{OrgID: h.OrgID, DeviceID: h.DeviceID, Dim: store.DimClient, Width: time.Hour,
				At: h.At.Truncate(time.Hour), Action: store.ActionNone, Value: "10.0.0.99", N: none})
		}
		if err := w.AddCounts(t.Context(), counts); err != nil {
			return err
		}
		return w.AddRollups(t.Context(), rolls)
	})
	wantErr(t, "ingesting "+o.Key, err, nil)
	return fresh
}

func testIngestOnce(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := deviceIn(t, s, "o")
	hits := []store.Hit{hit(d.OrgID, d.ID, hour0, "x.bad.example.", store.ActionBlock, "feed")}
	if !ingest(t, s, obj("k1", d.OrgID, d.ID), hits, 5) {
		t.Fatal("a new object was reported as recorded before")
	}
	if ingest(t, s, obj("k1", d.OrgID, d.ID), hits, 5) {
		t.Fatal("the same object was counted twice")
	}
	other := obj("k1", d.OrgID)
	other.ETag = "changed"
	if !ingest(t, s, other, nil, 0) {
		t.Fatal("an object with a new ETag is new")
	}
	ok, err := s.ObjectIngested(ctx, obj("k1", 0).Queue, "logs", "k1", "e-k1")
	wantErr(t, "ObjectIngested", err, nil)
	if !ok {
		t.Error("ObjectIngested: false for a recorded object")
	}
	if ok, _ := s.ObjectIngested(ctx, obj("k1", 0).Queue, "logs", "k2", "e-k2"); ok {
		t.Error("ObjectIngested: true for an unknown object")
	}
	f := store.LogFilter{OrgID: d.OrgID, From: hour0, To: hour0.Add(time.Hour)}
	sums, err := s.SumCounts(ctx, f, []store.Span{{From: hour0, To: hour0.Add(time.Hour), Width: time.Minute}})
	wantErr(t, "SumCounts", err, nil)
	if want := map[string]int64{store.ActionBlock: 1, store.ActionNone: 5}; !reflect.DeepEqual(sums, want) {
		t.Errorf("counts after a redelivery: %v, want %v", sums, want)
	}
	got, err := s.SearchHits(ctx, store.HitQuery{LogFilter: f})
	wantErr(t, "SearchHits", err, nil)
	if len(got) != 1 {
		t.Fatalf("%d hits stored, want 1", len(got))
	}
	h := got[0]
	if h.ID == 0 || !h.At.Equal(hour0) {
		t.Errorf("hit ID %d at %v", h.ID, h.At)
	}
	h.ID, h.At = 0, hits[0].At
	if !reflect.DeepEqual(h, hits[0]) {
		t.Errorf("hit read back:\n got %+v\nwant %+v", h, hits[0])
	}
	st, err := s.QueueStats(ctx, obj("k1", 0).Queue, hour0)
	wantErr(t, "QueueStats", err, nil)
	if st.Objects != 2 || st.Lines != 20 || st.BadLines != 2 || !st.Newest.Equal(hour0.Add(time.Minute)) || !st.LastObject.Equal(hour0.Add(2*time.Minute)) {
		t.Errorf("queue stats %+v", st)
	}
}

var errBoom = errors.New("boom")

func testIngestAllOrNothing(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := deviceIn(t, s, "o")
	o := obj("k", d.OrgID, d.ID)
	_, err := s.IngestObject(ctx, o, func(w store.IngestWriter) error {
		if err := w.AddHits(ctx, []store.Hit{hit(d.OrgID, d.ID, hour0, "a.", store.ActionBlock, "f")}); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("IngestObject gave %v, want the writer's error", err)
	}
	if ok, _ := s.ObjectIngested(ctx, o.Queue, o.Bucket, o.Key, o.ETag); ok {
		t.Fatal("a failed object was recorded: its redelivery would be lost")
	}
	f := store.LogFilter{OrgID: d.OrgID, From: hour0, To: hour0.Add(time.Hour)}
	if got, _ := s.SearchHits(ctx, store.HitQuery{LogFilter: f}); len(got) != 0 {
		t.Fatalf("a failed object left %d hits", len(got))
	}
	if st, _ := s.GetStatus(ctx, d.ID); !st.LastLogRetrieved.IsZero() {
		t.Errorf("a failed object moved last_log_retrieved to %v", st.LastLogRetrieved)
	}
	if !ingest(t, s, o, []store.Hit{hit(d.OrgID, d.ID, hour0, "a.", store.ActionBlock, "f")}, 0) {
		t.Fatal("the retry of a failed object was refused")
	}
	// A hit of a device that does not exist fails the object.
	_, err = s.IngestObject(ctx, obj("k2", d.OrgID), func(w store.IngestWriter) error {
		return w.AddHits(ctx, []store.Hit{hit(d.OrgID, d.ID+1000, hour0, "a.", store.ActionBlock, "f")})
	})
	if err == nil {
		t.Error("a hit of no device was stored")
	}
}

func testLastLogRetrieved(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := deviceIn(t, s, "o")
	o := obj("k1", d.OrgID, d.ID, d.ID+1000) // a deleted device is skipped
	ingest(t, s, o, nil, 0)
	st, err := s.GetStatus(ctx, d.ID)
	wantErr(t, "GetStatus", err, nil)
	if !st.LastLogRetrieved.Equal(o.ProcessedAt) || st.State != store.StatePending {
		t.Fatalf("status after a first object: %+v", st)
	}
	older := obj("k0", d.OrgID, d.ID)
	older.ProcessedAt = o.ProcessedAt.Add(-time.Hour)
	ingest(t, s, older, nil, 0)
	if st, _ := s.GetStatus(ctx, d.ID); !st.LastLogRetrieved.Equal(o.ProcessedAt) {
		t.Errorf("an object processed earlier moved last_log_retrieved back to %v", st.LastLogRetrieved)
	}
	// The scheduler's status survives.
	st.State, st.PlanHash = store.StateInSync, "h"
	wantErr(t, "PutStatus", s.PutStatus(ctx, st), nil)
	newer := obj("k2", d.OrgID, d.ID)
	newer.ProcessedAt = o.ProcessedAt.Add(time.Hour)
	ingest(t, s, newer, nil, 0)
	st, _ = s.GetStatus(ctx, d.ID)
	if st.State != store.StateInSync || st.PlanHash != "h" || !st.LastLogRetrieved.Equal(newer.ProcessedAt) {
		t.Errorf("status after a newer object: %+v", st)
	}
}

func testDeployments(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := deviceIn(t, s, "o")
	fp, err := s.CurrentFingerprint(ctx, d.ID)
	if err != nil || fp != "" {
		t.Fatalf("fingerprint before any deployment: %q, %v", fp, err)
	}
	v1 := store.Deployment{PlanHash: "p1", Fingerprint: "f1",
		Lists: []store.DeployedList{{ListID: "l1", Rule: "r-1-nxdomain"}, {ListID: "l2", Rule: "r-2-passthru"}},
		Entries: []store.PlanEntry{
			{Domain: "*.bad.example", Rule: "r-1-nxdomain", Source: "feed", Line: 3},
			{Domain: "ok.bad.example", Rule: "r-2-passthru", Source: "allow-list", Line: 1},
			{Domain: "gone.example", Rule: "r-1-nxdomain", Source: "feed", Line: 9},
		}}
	t1, t2 := hour0, hour0.Add(time.Hour)
	wantErr(t, "recording v1", s.RecordDeployment(ctx, d.ID, t1, v1), nil)
	wantErr(t, "recording v1 again", s.RecordDeployment(ctx, d.ID, t1.Add(time.Minute), v1), nil)
	v2 := store.Deployment{PlanHash: "p2", Fingerprint: "f2",
		Lists: []store.DeployedList{{ListID: "l1", Rule: "r-1-nxdomain"}, {ListID: "l3", Rule: "r-2-passthru"}},
		Entries: []store.PlanEntry{
			{Domain: "*.bad.example", Rule: "r-1-nxdomain", Source: "feed", Line: 4}, // moved in its feed
			{Domain: "ok.bad.example", Rule: "r-2-passthru", Source: "allow-list", Line: 1},
		}}
	wantErr(t, "recording v2", s.RecordDeployment(ctx, d.ID, t2, v2), nil)
	if fp, _ := s.CurrentFingerprint(ctx, d.ID); fp != "f2" {
		t.Errorf("fingerprint %q, want f2", fp)
	}
	cands := []string{"x.bad.example", "*.bad.example", "*.example", "*"}
	for _, c := range []struct {
		list      string
		at        time.Time
		known     bool
		rule      string
		wantLine  int
		wantFound int
	}{
		{"l1", t1.Add(30 * time.Minute), true, "r-1-nxdomain", 3, 1},
		{"l1", t2.Add(30 * time.Minute), true, "r-1-nxdomain", 4, 1},
		{"l1", t1.Add(-time.Hour), true, "r-1-nxdomain", 3, 1}, // before any: the nearest
		{"l2", t2.Add(time.Hour), true, "r-2-passthru", 4, 1},  // a list gone since: the nearest
		{"l9", t2, false, "", 4, 1},
	} {
		got, err := s.LookupEntries(ctx, d.ID, c.list, cands, c.at)
		wantErr(t, "LookupEntries", err, nil)
		if got.ListKnown != c.known || got.ListRule != c.rule || len(got.Entries) != c.wantFound {
			t.Errorf("%s at %v: %+v", c.list, c.at, got)
			continue
		}
		if e := got.Entries[0]; e.Domain != "*.bad.example" || e.Line != c.wantLine || e.Source != "feed" {
			t.Errorf("%s at %v: entry %+v, want line %d", c.list, c.at, e, c.wantLine)
		}
	}
	got, _ := s.LookupEntries(ctx, d.ID, "l1", []string{"gone.example"}, t2.Add(time.Hour))
	if len(got.Entries) != 1 || got.Entries[0].Line != 9 {
		t.Errorf("an entry removed since is found in its last version: %+v", got)
	}
	if err := s.RecordDeployment(ctx, d.ID+1000, t1, v1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deployment of no device: %v, want ErrNotFound", err)
	}
}

func testDeploymentLarge(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := deviceIn(t, s, "o")
	mk := func(n, line int) store.Deployment {
		dep := store.Deployment{PlanHash: "p", Fingerprint: string(rune('a' + line)), Lists: []store.DeployedList{{ListID: "l", Rule: "r"}}}
		for i := range n {
			dep.Entries = append(dep.Entries, store.PlanEntry{Domain: "d" + strconv.Itoa(i) + ".example", Rule: "r", Source: "f", Line: i + line})
		}
		return dep
	}
	wantErr(t, "first", s.RecordDeployment(ctx, d.ID, hour0, mk(12000, 0)), nil)
	wantErr(t, "every line moved", s.RecordDeployment(ctx, d.ID, hour0.Add(time.Hour), mk(9000, 1)), nil)
	got, err := s.LookupEntries(ctx, d.ID, "l", []string{"d8999.example", "d11999.example"}, hour0.Add(2*time.Hour))
	wantErr(t, "lookup", err, nil)
	if len(got.Entries) != 2 || got.Entries[0].Line != 9000 || got.Entries[1].Line != 11999 {
		t.Errorf("entries %+v", got.Entries)
	}
}
