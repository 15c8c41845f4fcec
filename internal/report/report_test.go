package report

import (
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
	"github.com/rpzfw/rpzfw/internal/store/sqlstore"
)

var day0 = time.Date(2030, 3, 1, 0, 0, 0, 0, time.UTC)

// TestSpans: spans cover the range exactly, without overlap, each
// aligned to its width, coarsest rows where they fit.
func TestSpans(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		from := day0.Add(time.Duration(rng.Int64N(int64(5 * Day))))
		to := from.Add(time.Duration(rng.Int64N(int64(4 * Day))))
		widths := [][]time.Duration{{Day, Hour, 0}, {Hour, 0}, {Day, Hour, Minute}}[i%3]
		if widths[len(widths)-1] == Minute {
			from, to = floor(from, Minute), ceil(to, Minute)
		}
		spans := Spans(from, to, widths, time.Time{})
		at := from
		for _, s := range spans {
			if !s.From.Equal(at) || !s.From.Before(s.To) {
				t.Fatalf("[%v, %v) by %v: spans %v: gap or overlap at %v", from, to, widths, spans, at)
			}
			if s.Width > 0 && (!floor(s.From, s.Width).Equal(s.From) || !floor(s.To, s.Width).Equal(s.To)) {
				t.Fatalf("span %v not aligned", s)
			}
			at = s.To
		}
		if from.Before(to) && !at.Equal(to) {
			t.Fatalf("[%v, %v): spans end at %v", from, to, at)
		}
		if len(spans) > 2*len(widths) {
			t.Fatalf("[%v, %v): %d spans", from, to, len(spans))
		}
	}
	// Before the fine rows' retention, whole days.
	fine := day0.Add(10 * Day).Add(5 * Hour)
	spans := Spans(day0.Add(3*Hour), day0.Add(12*Day).Add(30*time.Minute), []time.Duration{Day, Hour, 0}, fine)
	want := []store.Span{{From: day0, To: day0.Add(11 * Day), Width: Day}, {From: day0.Add(11 * Day), To: day0.Add(12 * Day), Width: Day},
		{From: day0.Add(12 * Day), To: day0.Add(12 * Day).Add(30 * time.Minute)}}
	if len(spans) != len(want) {
		t.Fatalf("spans %v, want %v", spans, want)
	}
	for i := range want {
		if spans[i] != want[i] {
			t.Errorf("span %d: %v, want %v", i, spans[i], want[i])
		}
	}
}

func TestBucketFor(t *testing.T) {
	for r, want := range map[time.Duration]time.Duration{time.Hour: Minute, 6 * Hour: 5 * Minute, Day: 15 * Minute, 7 * Day: Hour, 30 * Day: 6 * Hour, 365 * Day: Day} {
		if got := BucketFor(day0, day0.Add(r)); got != want {
			t.Errorf("range %v: bucket %v, want %v", r, got, want)
		}
		if n := r / BucketFor(day0, day0.Add(r)); n > 400 {
			t.Errorf("range %v: %d points", r, n)
		}
	}
}

// world is a store with random hits of two devices over three days, and
// the hits themselves to check reports against.
type world struct {
	s    *sqlstore.DB
	org  int64
	devs []int64
	hits []store.Hit
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := t.Context()
	s, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "r.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	o, _ := s.CreateOrg(ctx, "o")
	if _, err := s.CreatePolicy(ctx, store.Policy{OrgID: o.ID, Name: "p", Doc: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	w := &world{s: s, org: o.ID}
	for _, n := range []string{"a", "b"} {
		d, err := s.CreateDevice(ctx, store.Device{OrgID: o.ID, Nickname: n, Provider: "aws-dns-firewall", Policy: "p"})
		if err != nil {
			t.Fatal(err)
		}
		w.devs = append(w.devs, d.ID)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 3000 {
		action, source := store.ActionBlock, "feed"+strconv.Itoa(rng.IntN(3))
		if rng.IntN(4) == 0 {
			action, source = store.ActionAlert, "allow-list"
		}
		w.hits = append(w.hits, store.Hit{OrgID: o.ID, DeviceID: w.devs[rng.IntN(2)], At: day0.Add(time.Duration(rng.Int64N(int64(3 * Day)))),
			QueryName: "d" + strconv.Itoa(int(rng.ExpFloat64()*5)) + ".example.", SrcAddr: "10.0.0." + strconv.Itoa(rng.IntN(20)),
			Action: action, Source: source, Rule: "rpzfw-" + strconv.Itoa(rng.IntN(3)) + "-nxdomain", Kind: store.KindBlock})
	}
	w.ingest(t)
	return w
}

// ingest stores the hits with the counts and rollups the pipeline makes.
func (w *world) ingest(t *testing.T) {
	var counts []store.Count
	var rolls []store.Rollup
	for _, h := range w.hits {
		for _, width := range []time.Duration{Minute, Hour} {
			counts = append(counts, store.Count{OrgID: h.OrgID, DeviceID: h.DeviceID, Width: width, At: h.At.Truncate(width), Action: h.Action, N: 1})
		}
		add := func(dim, value string, widths ...time.Duration) {
			for _, width := range widths {
				rolls = append(rolls, store.Rollup{OrgID: h.OrgID, DeviceID: h.DeviceID, Dim: dim, Width: width, At: h.At.Truncate(width),
					Action: h.Action, Source: h.Source, Value: value, N: 1})
			}
		}
		add(store.DimRule, h.Rule, Minute, Hour, Day)
		add(store.DimClient, h.SrcAddr, Hour, Day)
	}
	_, err := w.s.IngestObject(t.Context(), store.LogObject{Queue: "q", Bucket: "b", Key: "k", ETag: "e", OrgID: w.org}, func(iw store.IngestWriter) error {
		if err := iw.AddHits(t.Context(), w.hits); err != nil {
			return err
		}
		if err := iw.AddCounts(t.Context(), counts); err != nil {
			return err
		}
		return iw.AddRollups(t.Context(), rolls)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, width := range []time.Duration{Hour, Day} {
		todo, err := w.s.TopsToMake(t.Context(), width, day0.Add(-Day), day0.Add(5*Day), 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range todo[:len(todo)-len(todo)/4] { // leave some hours to the hits
			if err := w.s.MakeTops(t.Context(), b, 100); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// brute ranks the hits in [from, to) by a field, as Top should.
func (w *world) brute(from, to time.Time, field func(store.Hit) string, sources map[string]bool) []store.TopRow {
	by := map[string]*store.TopRow{}
	for _, h := range w.hits {
		if h.At.Before(from) || !h.At.Before(to) || (len(sources) > 0 && !sources[h.Source]) {
			continue
		}
		v := field(h)
		if by[v] == nil {
			by[v] = &store.TopRow{Value: v}
		}
		if h.Action == store.ActionBlock {
			by[v].Blocked++
		} else {
			by[v].Alerted++
		}
	}
	var out []store.TopRow
	for _, r := range by {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Blocked+out[i].Alerted, out[j].Blocked+out[j].Alerted
		return a > b || a == b && out[i].Value < out[j].Value
	})
	return out
}

// TestTopMatchesHits: tops read from rollups and edges of hits rank
// exactly as the hits themselves, over random ranges.
func TestTopMatchesHits(t *testing.T) {
	w := newWorld(t)
	r := &Reporter{Store: w.s, Now: func() time.Time { return day0.Add(4 * Day) }}
	rng := rand.New(rand.NewPCG(5, 6))
	fields := map[string]func(store.Hit) string{
		ByDomain: func(h store.Hit) string { return h.QueryName }, ByClient: func(h store.Hit) string { return h.SrcAddr },
		ByRule: func(h store.Hit) string { return h.Rule }, BySource: func(h store.Hit) string { return h.Source },
	}
	for i := range 60 {
		from := day0.Add(-Hour).Add(time.Duration(rng.Int64N(int64(3 * Day))))
		to := from.Add(time.Duration(rng.Int64N(int64(2*Day)) + 1))
		for by, field := range fields {
			f := store.LogFilter{OrgID: w.org, From: from, To: to}
			var sources map[string]bool
			if i%3 == 0 {
				f.Sources, sources = []string{"feed1", "allow-list"}, map[string]bool{"feed1": true, "allow-list": true}
			}
			top, err := r.Top(t.Context(), f, by, 5)
			if err != nil {
				t.Fatal(err)
			}
			want := w.brute(top.From, top.To, field, sources)
			if len(want) > 5 {
				want = want[:5]
			}
			if len(top.Rows) != len(want) {
				t.Fatalf("top by %s over [%v, %v): %v, want %v", by, from, to, top.Rows, want)
			}
			for j := range want {
				if top.Rows[j] != want[j] {
					t.Fatalf("top by %s over [%v, %v): row %d: %v, want %v", by, from, to, j, top.Rows[j], want[j])
				}
			}
		}
	}
}

// TestSummaryAndTimeline: sums and buckets agree with the hits.
func TestSummaryAndTimeline(t *testing.T) {
	w := newWorld(t)
	r := &Reporter{Store: w.s, Now: func() time.Time { return day0.Add(4 * Day) }}
	from, to := day0.Add(5*Hour+7*time.Minute), day0.Add(2*Day+3*time.Minute)
	s, err := r.Summary(t.Context(), store.LogFilter{OrgID: w.org, From: from, To: to, Devices: []int64{w.devs[0]}})
	if err != nil {
		t.Fatal(err)
	}
	var blocked, alerted int64
	for _, h := range w.hits {
		if h.DeviceID == w.devs[0] && !h.At.Before(s.From) && h.At.Before(s.To) {
			if h.Action == store.ActionBlock {
				blocked++
			} else {
				alerted++
			}
		}
	}
	if s.Blocked != blocked || s.Alerted != alerted || s.Resolutions != blocked+alerted || s.DistinctClients != 20 || s.Note == "" {
		t.Errorf("summary %+v, want %d blocked, %d alerted", s, blocked, alerted)
	}
	if want := float64(blocked) * 100 / float64(blocked+alerted); s.PercentBlocked != want {
		t.Errorf("percent blocked %v, want %v", s.PercentBlocked, want)
	}
	tl, err := r.Timeline(t.Context(), store.LogFilter{OrgID: w.org, From: from, To: to, Sources: []string{"feed2"}})
	if err != nil {
		t.Fatal(err)
	}
	if tl.Bucket != 15*Minute || len(tl.Points) != int(tl.To.Sub(tl.From)/tl.Bucket) {
		t.Fatalf("timeline of %d points by %v over [%v, %v)", len(tl.Points), tl.Bucket, tl.From, tl.To)
	}
	for _, p := range tl.Points {
		var n int64
		for _, h := range w.hits {
			if h.Source == "feed2" && !h.At.Before(p.At) && h.At.Before(p.At.Add(tl.Bucket)) {
				n++
			}
		}
		if p.Blocked != n || p.Alerted != 0 {
			t.Fatalf("bucket %v: %+v, want %d blocked", p.At, p, n)
		}
	}
	if _, err := r.Summary(t.Context(), store.LogFilter{OrgID: w.org, From: to, To: from}); err == nil {
		t.Error("a range that ends before it starts was answered")
	}
}
