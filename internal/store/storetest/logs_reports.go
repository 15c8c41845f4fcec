package storetest

import (
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

func testLogQueues(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mustOrg(t, s, "a"), mustOrg(t, s, "b")
	qa := store.LogQueue{URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/a", OrgID: a.ID, State: store.QueueError,
		Error: "access denied", Permission: "s3:GetObject", ErrorAt: hour0, LastReceive: hour0.Add(-time.Minute)}
	wantErr(t, "PutLogQueue", s.PutLogQueue(ctx, qa), nil)
	wantErr(t, "PutLogQueue b", s.PutLogQueue(ctx, store.LogQueue{URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/b", OrgID: b.ID, State: store.QueueOK}), nil)
	got, err := s.LogQueues(ctx, a.ID)
	wantErr(t, "LogQueues", err, nil)
	if len(got) != 1 || got[0].UpdatedAt.IsZero() {
		t.Fatalf("queues of a: %+v", got)
	}
	got[0].UpdatedAt = time.Time{}
	if !reflect.DeepEqual(got[0], qa) {
		t.Errorf("queue read back:\n got %+v\nwant %+v", got[0], qa)
	}
	qa.State, qa.Error, qa.Permission = store.QueueOK, "", ""
	wantErr(t, "PutLogQueue again", s.PutLogQueue(ctx, qa), nil)
	if all, _ := s.LogQueues(ctx, 0); len(all) != 2 || all[0].State != store.QueueOK {
		t.Errorf("all queues: %+v", all)
	}
	st, err := s.QueueStats(ctx, qa.URL, hour0)
	if err != nil || st.Objects != 0 || !st.Newest.IsZero() {
		t.Errorf("stats of a queue with no objects: %+v, %v", st, err)
	}
}

func testQuarantine(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mustOrg(t, s, "a"), mustOrg(t, s, "b")
	q := "https://sqs.eu-west-1.amazonaws.com/123456789012/q"
	m := store.QuarantinedMessage{Queue: q, OrgID: a.ID, MessageID: "m1", Body: `{"Records":[]}`, Receives: 5, Reason: "gzip: invalid header", At: hour0}
	wantErr(t, "Quarantine", s.Quarantine(ctx, m), nil)
	m2 := m
	m2.MessageID, m2.At = "m2", hour0.Add(time.Minute)
	wantErr(t, "Quarantine m2", s.Quarantine(ctx, m2), nil)
	wantErr(t, "Quarantine of b", s.Quarantine(ctx, store.QuarantinedMessage{Queue: q + "b", OrgID: b.ID, MessageID: "m1", Body: "{}", Receives: 5, Reason: "x"}), nil)
	got, err := s.ListQuarantined(ctx, a.ID, "")
	wantErr(t, "ListQuarantined", err, nil)
	if len(got) != 2 || got[0].MessageID != "m2" || got[1].ID == 0 {
		t.Fatalf("quarantined of a: %+v", got)
	}
	m.ID = got[1].ID
	if !reflect.DeepEqual(got[1], m) {
		t.Errorf("read back:\n got %+v\nwant %+v", got[1], m)
	}
	// Quarantined again (it failed after a retry): one row, new reason.
	m.Reason, m.Receives = "still bad", 6
	wantErr(t, "Quarantine again", s.Quarantine(ctx, m), nil)
	if got, _ := s.ListQuarantined(ctx, a.ID, q); len(got) != 2 || got[1].Reason != "still bad" {
		t.Errorf("after a second quarantine: %+v", got)
	}
	if _, err := s.RetryQuarantined(ctx, b.ID, m.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("retrying another organization's message: %v, want ErrNotFound", err)
	}
	if n, err := s.RetryQuarantined(ctx, a.ID, m.ID); err != nil || n != 1 {
		t.Fatalf("RetryQuarantined: %d, %v", n, err)
	}
	take, err := s.TakeRetries(ctx, q, 10)
	wantErr(t, "TakeRetries", err, nil)
	if len(take) != 1 || take[0].ID != m.ID || !take[0].RetryRequired {
		t.Fatalf("to retry: %+v", take)
	}
	if n, _ := s.RetryQuarantined(ctx, a.ID, 0); n != 2 {
		t.Errorf("retry all marked %d, want 2", n)
	}
	wantErr(t, "DeleteQuarantined", s.DeleteQuarantined(ctx, m.ID), nil)
	wantErr(t, "DeleteQuarantined twice", s.DeleteQuarantined(ctx, m.ID), store.ErrNotFound)
	if got, _ := s.ListQuarantined(ctx, a.ID, ""); len(got) != 1 {
		t.Errorf("after delete: %+v", got)
	}
}

func testPrune(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := deviceIn(t, s, "o")
	old, recent := hour0.Add(-40*24*time.Hour), hour0.Add(-time.Hour)
	o1 := obj("old", d.OrgID)
	o1.ProcessedAt = old
	ingest(t, s, o1, []store.Hit{hit(d.OrgID, d.ID, old, "a.", store.ActionBlock, "f")}, 0)
	o2 := obj("new", d.OrgID)
	o2.ProcessedAt = recent
	ingest(t, s, o2, []store.Hit{hit(d.OrgID, d.ID, recent, "b.", store.ActionBlock, "f")}, 0)
	dep := store.Deployment{Fingerprint: "1", Lists: []store.DeployedList{{ListID: "l", Rule: "r"}}, Entries: []store.PlanEntry{{Domain: "a", Rule: "r"}}}
	wantErr(t, "deploy", s.RecordDeployment(ctx, d.ID, old.Add(-time.Hour), dep), nil)
	dep.Fingerprint, dep.Entries = "2", []store.PlanEntry{{Domain: "b", Rule: "r"}}
	wantErr(t, "deploy", s.RecordDeployment(ctx, d.ID, old, dep), nil)

	for _, at := range []time.Time{old, recent} {
		for _, w := range []time.Duration{time.Hour, 24 * time.Hour} {
			wantErr(t, "MakeTops", s.MakeTops(ctx, store.TopsBucket{OrgID: d.OrgID, Width: w, At: at.Truncate(w)}, 10), nil)
		}
	}
	n, err := s.PruneLogs(ctx, store.DefaultRetention, hour0)
	wantErr(t, "PruneLogs", err, nil)
	if n == 0 {
		t.Fatal("nothing pruned")
	}
	all := store.LogFilter{OrgID: d.OrgID, From: old.Add(-24 * time.Hour), To: hour0}
	hits, _ := s.SearchHits(ctx, store.HitQuery{LogFilter: all})
	if len(hits) != 1 || hits[0].QueryName != "b." {
		t.Errorf("hits after pruning: %+v", hits)
	}
	if ok, _ := s.ObjectIngested(ctx, o1.Queue, o1.Bucket, o1.Key, o1.ETag); ok {
		t.Error("an object past retention was kept")
	}
	// Counts, daily rollups and tops are kept for a year; hourly ones are
	// not.
	sums, _ := s.SumCounts(ctx, all, []store.Span{{From: all.From, To: all.To, Width: time.Minute}})
	if sums[store.ActionBlock] != 2 {
		t.Errorf("counts after pruning: %v", sums)
	}
	days := []store.Span{{From: old.Truncate(24 * time.Hour), To: hour0.Truncate(24 * time.Hour).Add(24 * time.Hour), Width: 24 * time.Hour}}
	if top, _ := s.Top(ctx, all, store.DimDomain, days, 10); len(top) != 2 {
		t.Errorf("daily tops after pruning: %+v", top)
	}
	hours := []store.Span{{From: old.Truncate(time.Hour), To: hour0, Width: time.Hour}}
	if top, _ := s.Top(ctx, all, store.DimDomain, hours, 10); len(top) != 1 {
		t.Errorf("hourly tops after pruning: %+v", top)
	}
	// Client addresses: the old day's kept, the old hour's gone.
	oldHour := []store.Span{{From: old.Truncate(time.Hour), To: old.Truncate(time.Hour).Add(time.Hour), Width: time.Hour}}
	oldDay := []store.Span{{From: old.Truncate(24 * time.Hour), To: old.Truncate(24 * time.Hour).Add(24 * time.Hour), Width: 24 * time.Hour}}
	if n, err := s.DistinctClients(ctx, all, oldHour); err != nil || n != 0 {
		t.Errorf("clients of an hour past the hits' retention: %d (%v), want 0", n, err)
	}
	if n, err := s.DistinctClients(ctx, all, oldDay); err != nil || n != 1 {
		t.Errorf("clients of a day within the counts' retention: %d (%v), want 1", n, err)
	}
	got, _ := s.LookupEntries(ctx, d.ID, "l", []string{"a", "b"}, hour0)
	if len(got.Entries) != 1 || got.Entries[0].Domain != "b" {
		t.Errorf("plan entries after pruning: %+v", got)
	}
	if _, err := s.PruneLogs(ctx, store.Retention{}, hour0); err == nil {
		t.Error("a zero retention was accepted")
	}
}

// twoDevices ingests hits of two devices and another organization.
func twoDevices(t *testing.T, s store.Store) (d1, d2 store.Device) {
	o := mustOrg(t, s, "o")
	mustPolicy(t, s, o.ID, "p")
	d1, d2 = mustDevice(t, s, o.ID, "one", "p"), mustDevice(t, s, o.ID, "two", "p")
	other := deviceIn(t, s, "other")
	var hits []store.Hit
	for i := range 30 {
		at := hour0.Add(time.Duration(i) * 10 * time.Minute) // 5 hours
		h := hit(o.ID, d1.ID, at, "a"+strconv.Itoa(i%3)+".bad.example.", store.ActionBlock, "feed1")
		if i%5 == 0 {
			h.DeviceID, h.Action, h.Source, h.SrcAddr, h.Rule = d2.ID, store.ActionAlert, "allow-list", "10.0.0.2", "rpzfw-2-passthru"
		}
		hits = append(hits, h)
	}
	ingest(t, s, obj("o1", o.ID, d1.ID, d2.ID), hits, 100)
	ingest(t, s, obj("x", other.OrgID), []store.Hit{hit(other.OrgID, other.ID, hour0, "a0.bad.example.", store.ActionBlock, "feed1")}, 7)
	return d1, d2
}

func testReportSums(t *testing.T, s store.Store) {
	ctx := t.Context()
	d1, d2 := twoDevices(t, s)
	f := store.LogFilter{OrgID: d1.OrgID, From: hour0, To: hour0.Add(5 * time.Hour)}
	hours := []store.Span{{From: f.From, To: f.To, Width: time.Hour}}
	sums, err := s.SumCounts(ctx, f, hours)
	wantErr(t, "SumCounts", err, nil)
	if want := map[string]int64{store.ActionBlock: 24, store.ActionAlert: 6, store.ActionNone: 100}; !reflect.DeepEqual(sums, want) {
		t.Errorf("sums %v, want %v", sums, want)
	}
	f2 := f
	f2.Devices = []int64{d2.ID}
	if sums, _ := s.SumCounts(ctx, f2, hours); sums[store.ActionAlert] != 6 || sums[store.ActionBlock] != 0 {
		t.Errorf("sums of device two: %v", sums)
	}
	// Hits by source: one hour of rollups plus raw hits for the rest.
	f3 := f
	f3.Sources = []string{"allow-list"}
	mixed := []store.Span{{From: hour0, To: hour0.Add(time.Hour), Width: time.Hour}, {From: hour0.Add(time.Hour), To: f.To}}
	if sums, err := s.SumHits(ctx, f3, mixed); err != nil || sums[store.ActionAlert] != 6 || len(sums) != 1 {
		t.Errorf("hits of the allow list: %v, %v", sums, err)
	}
	series, err := s.CountSeries(ctx, f, time.Minute, time.Hour)
	wantErr(t, "CountSeries", err, nil)
	byHour := map[time.Time]int64{}
	for _, p := range series {
		if p.Action == store.ActionBlock {
			byHour[p.At] += p.N
		}
	}
	if len(byHour) != 5 || byHour[hour0] != 4 || byHour[hour0.Add(time.Hour)] != 5 {
		t.Errorf("blocked by hour: %v", byHour)
	}
	hs, err := s.HitSeries(ctx, f3, time.Minute, 2*time.Hour)
	wantErr(t, "HitSeries", err, nil)
	// Buckets start at multiples of their width since the epoch (UTC).
	if len(hs) != 3 || hs[0].N != 2 || hs[0].Action != store.ActionAlert || !hs[0].At.Equal(hour0.Add(-time.Hour)) {
		t.Errorf("allow-list series in 2h buckets: %+v", hs)
	}
	n, err := s.DistinctClients(ctx, f, hours)
	wantErr(t, "DistinctClients", err, nil)
	if n != 3 { // 10.0.0.1, 10.0.0.2 and the NONE client
		t.Errorf("distinct clients %d, want 3", n)
	}
	// Each device's own (the NONE client is device two's, rolled up by
	// the hour only here), and of a day.
	days := []store.Span{{From: hour0.Truncate(24 * time.Hour), To: hour0.Truncate(24 * time.Hour).Add(24 * time.Hour), Width: 24 * time.Hour}}
	for _, c := range []struct {
		devs  []int64
		spans []store.Span
		want  int64
	}{
		{[]int64{d1.ID}, hours, 1}, {[]int64{d2.ID}, hours, 2}, {[]int64{d1.ID, d2.ID}, hours, 3}, {nil, days, 2}, {[]int64{d2.ID}, days, 1},
	} {
		fd := f
		fd.Devices = c.devs
		if n, err := s.DistinctClients(ctx, fd, c.spans); err != nil || n != c.want {
			t.Errorf("distinct clients of devices %v over %v: %d (%v), want %d", c.devs, c.spans, n, err, c.want)
		}
	}
}

// makeTops makes the tops of the five hours of twoDevices and their day.
func makeTops(t *testing.T, s store.Store, org int64, k int) {
	t.Helper()
	for i := range 5 {
		wantErr(t, "MakeTops", s.MakeTops(t.Context(), store.TopsBucket{OrgID: org, Width: time.Hour, At: hour0.Add(time.Duration(i) * time.Hour)}, k), nil)
	}
	wantErr(t, "MakeTops", s.MakeTops(t.Context(), store.TopsBucket{OrgID: org, Width: 24 * time.Hour, At: hour0.Truncate(24 * time.Hour)}, k), nil)
}

func testReportTop(t *testing.T, s store.Store) {
	ctx := t.Context()
	d1, _ := twoDevices(t, s)
	makeTops(t, s, d1.OrgID, 100)
	f := store.LogFilter{OrgID: d1.OrgID, From: hour0, To: hour0.Add(5 * time.Hour)}
	spans := []store.Span{{From: hour0, To: hour0.Add(30 * time.Minute)}, {From: hour0.Add(time.Hour), To: hour0.Add(3 * time.Hour), Width: time.Hour},
		{From: hour0.Add(3 * time.Hour), To: f.To}}
	top, err := s.Top(ctx, f, store.DimDomain, spans, 2)
	wantErr(t, "Top", err, nil)
	// The spans cover 27 of the 30 hits; a0 has 9 of them.
	if len(top) != 2 || top[0].Value != "a0.bad.example." || top[0].Blocked+top[0].Alerted != 9 {
		t.Errorf("top domains: %+v", top)
	}
	whole := []store.Span{{From: f.From, To: f.To, Width: time.Hour}}
	bySource, err := s.Top(ctx, f, "source", whole, 10)
	wantErr(t, "Top by source", err, nil)
	if want := []store.TopRow{{Value: "feed1", Blocked: 24}, {Value: "allow-list", Alerted: 6}}; !reflect.DeepEqual(bySource, want) {
		t.Errorf("top sources %+v, want %+v", bySource, want)
	}
	raw := []store.Span{{From: f.From, To: f.To}}
	for _, dim := range []string{store.DimRule, store.DimClient, "source", store.DimDomain} {
		a, _ := s.Top(ctx, f, dim, whole, 10)
		b, _ := s.Top(ctx, f, dim, raw, 10)
		if !reflect.DeepEqual(a, b) || len(a) == 0 {
			t.Errorf("top by %s: rollups %+v, hits %+v", dim, a, b)
		}
	}
	if _, err := s.Top(ctx, f, "nonsense", whole, 10); err == nil {
		t.Error("a top by an unknown dimension was answered")
	}
}

func testSearchHits(t *testing.T, s store.Store) {
	ctx := t.Context()
	d1, d2 := twoDevices(t, s)
	f := store.LogFilter{OrgID: d1.OrgID, From: hour0, To: hour0.Add(5 * time.Hour)}
	var all []store.Hit
	q := store.HitQuery{LogFilter: f, Limit: 7}
	for range 10 {
		page, err := s.SearchHits(ctx, q)
		wantErr(t, "SearchHits", err, nil)
		all = append(all, page...)
		if len(page) < q.Limit {
			break
		}
		q.Before, q.BeforeID = page[len(page)-1].At, page[len(page)-1].ID
	}
	if len(all) != 30 {
		t.Fatalf("paged through %d hits, want 30", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].At.After(all[i-1].At) {
			t.Fatalf("hits not newest first at %d", i)
		}
	}
	for _, c := range []struct {
		q    store.HitQuery
		want int
	}{
		{store.HitQuery{LogFilter: f, Name: "a1.bad.example"}, 10},
		{store.HitQuery{LogFilter: f, Name: "A1.Bad.Example."}, 10},
		{store.HitQuery{LogFilter: f, Name: "*.bad.example"}, 30},
		{store.HitQuery{LogFilter: f, Name: "*.example."}, 30},
		{store.HitQuery{LogFilter: f, Name: "bad.example"}, 0},
		{store.HitQuery{LogFilter: f, Client: "10.0.0.2"}, 6},
		{store.HitQuery{LogFilter: store.LogFilter{OrgID: f.OrgID, From: f.From, To: f.To, Devices: []int64{d2.ID}}}, 6},
		{store.HitQuery{LogFilter: store.LogFilter{OrgID: f.OrgID, From: f.From, To: f.To, Actions: []string{store.ActionBlock}}}, 24},
		{store.HitQuery{LogFilter: store.LogFilter{OrgID: f.OrgID, From: f.From, To: f.To, Sources: []string{"feed1", "x"}}}, 24},
		{store.HitQuery{LogFilter: store.LogFilter{OrgID: f.OrgID, From: f.From, To: hour0.Add(time.Hour)}}, 6},
	} {
		got, err := s.SearchHits(ctx, c.q)
		wantErr(t, "SearchHits", err, nil)
		if len(got) != c.want {
			t.Errorf("%+v: %d hits, want %d", c.q, len(got), c.want)
		}
		for _, h := range got {
			if h.OrgID != f.OrgID {
				t.Fatalf("a hit of another organization: %+v", h)
			}
		}
	}
}

func testDeleteDeviceDropsHits(t *testing.T, s store.Store) {
	ctx := t.Context()
	d1, d2 := twoDevices(t, s)
	wantErr(t, "RecordDeployment", s.RecordDeployment(ctx, d2.ID, hour0, store.Deployment{Fingerprint: "x", Entries: []store.PlanEntry{{Domain: "a"}}}), nil)
	wantErr(t, "DeleteDevice", s.DeleteDevice(ctx, d2.ID), nil)
	f := store.LogFilter{OrgID: d1.OrgID, From: hour0, To: hour0.Add(5 * time.Hour)}
	hits, _ := s.SearchHits(ctx, store.HitQuery{LogFilter: f})
	if len(hits) != 24 {
		t.Errorf("%d hits after deleting device two, want device one's 24", len(hits))
	}
}

// testTops: tops are made for buckets with hits, keep the k most hit
// values per device and for all devices, and are made again after an
// object adds hits to their bucket.
func testTops(t *testing.T, s store.Store) {
	ctx := t.Context()
	d1, d2 := twoDevices(t, s)
	org := d1.OrgID
	// The other organization has a hit in the first hour too.
	todo, err := s.TopsToMake(ctx, time.Hour, hour0.Add(-time.Hour), hour0.Add(5*time.Hour), 100)
	wantErr(t, "TopsToMake", err, nil)
	if len(todo) != 6 || todo[0].OrgID != org || !todo[0].At.Equal(hour0) || todo[1].OrgID == org {
		t.Fatalf("hours to make: %+v", todo)
	}
	if todo, _ := s.TopsToMake(ctx, time.Hour, hour0, hour0.Add(2*time.Hour), 100); len(todo) != 3 {
		t.Errorf("hours over before hour0+2h: %+v", todo)
	}
	makeTops(t, s, org, 1)
	if todo, _ := s.TopsToMake(ctx, time.Hour, hour0, hour0.Add(5*time.Hour), 100); len(todo) != 1 || todo[0].OrgID == org {
		t.Errorf("hours still to make: %+v", todo)
	}
	made, err := s.TopsMade(ctx, org, time.Hour, hour0, hour0.Add(5*time.Hour))
	wantErr(t, "TopsMade", err, nil)
	if len(made) != 5 {
		t.Errorf("made: %v", made)
	}
	f := store.LogFilter{OrgID: org, From: hour0, To: hour0.Add(time.Hour)}
	span := []store.Span{{From: hour0, To: hour0.Add(time.Hour), Width: time.Hour}}
	// With k = 1, the first hour keeps one name (a0, a1 and a2 have 2
	// hits each: the least name wins the tie).
	top, err := s.Top(ctx, f, store.DimDomain, span, 10)
	wantErr(t, "Top", err, nil)
	if len(top) != 1 || top[0].Value != "a0.bad.example." || top[0].Blocked+top[0].Alerted != 2 {
		t.Errorf("top of an hour with k=1: %+v", top)
	}
	f.Devices = []int64{d2.ID}
	if top, _ := s.Top(ctx, f, store.DimClient, span, 10); len(top) != 1 || top[0].Value != "10.0.0.2" || top[0].Alerted != 2 {
		t.Errorf("top clients of device two: %+v", top)
	}
	// A late object with a hit in the first hour: made again.
	ingest(t, s, obj("late", org, d1.ID), []store.Hit{hit(org, d1.ID, hour0.Add(time.Minute), "late.example.", store.ActionBlock, "feed1")}, 0)
	if made, _ := s.TopsMade(ctx, org, time.Hour, hour0, hour0.Add(5*time.Hour)); len(made) != 4 {
		t.Errorf("made after a late object: %v", made)
	}
	todo, _ = s.TopsToMake(ctx, 24*time.Hour, hour0.Add(-24*time.Hour), hour0.Add(48*time.Hour), 100)
	if len(todo) != 2 || todo[0].OrgID != org && todo[1].OrgID != org {
		t.Errorf("days to make after a late object: %+v", todo)
	}
}
