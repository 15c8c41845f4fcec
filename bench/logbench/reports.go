package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/rpzfw/rpzfw/internal/querylog"
	"github.com/rpzfw/rpzfw/internal/report"
	"github.com/rpzfw/rpzfw/internal/store"
	"github.com/rpzfw/rpzfw/internal/store/sqlstore"
)

// reportsBench stores hits (30 days of them, five devices, Zipf-distributed
// names and clients) on each backend, then times the reports over the 30
// days and the same answers computed from the hits table alone.
func reportsBench(ctx context.Context, hits int, backends []string, pg string) error {
	for _, b := range backends {
		dsn, cleanup, err := benchDSN(ctx, b, pg)
		if err != nil {
			return err
		}
		err = reportsOn(ctx, b, dsn, hits)
		cleanup()
		if err != nil {
			return fmt.Errorf("%s: %w", b, err)
		}
	}
	return nil
}

// benchDSN makes a fresh database: a SQLite file, or a PostgreSQL schema
// dropped afterwards.
func benchDSN(ctx context.Context, backend, pg string) (string, func(), error) {
	if backend == "sqlite" {
		dir, err := os.MkdirTemp("", "logbench-")
		if err != nil {
			return "", nil, err
		}
		return filepath.Join(dir, "rpzfw.db"), func() { os.RemoveAll(dir) }, nil
	}
	db, err := sql.Open("pgx", pg)
	if err != nil {
		return "", nil, err
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "logbench_" + hex.EncodeToString(b[:])
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		db.Close()
		return "", nil, fmt.Errorf("PostgreSQL at %s: %w", pg, err)
	}
	u, err := url.Parse(pg)
	if err != nil {
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() { db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); db.Close() }, nil
}

func reportsOn(ctx context.Context, backend, dsn string, n int) error {
	st, err := sqlstore.Open(ctx, dsn, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now().UTC()
	w, err := setupWorld(ctx, st, benchQueue)
	if err != nil {
		return err
	}
	for i := range 3 { // five devices
		d, err := st.CreateDevice(ctx, store.Device{OrgID: w.org, Nickname: "fw-" + strconv.Itoa(i), Provider: "aws-dns-firewall", Policy: "p"})
		if err != nil {
			return err
		}
		w.devices = append(w.devices, d)
	}
	t := time.Now()
	stop := startProf()
	err = loadHits(ctx, st, w, n, now)
	stop()
	if err != nil {
		return err
	}
	loaded := time.Since(t)
	// Fresh statistics, as autovacuum would gather them after a load.
	raw, err := sql.Open(map[string]string{"sqlite": "sqlite", "postgres": "pgx"}[backend], dsn)
	if err != nil {
		return err
	}
	defer raw.Close()
	if _, err := raw.ExecContext(ctx, "ANALYZE"); err != nil {
		return err
	}
	t = time.Now()
	if err := querylog.MakeTops(ctx, st, now, 31*24*time.Hour, 1000); err != nil {
		return err
	}
	fmt.Printf("%s: %d hits over 30 days (5 devices, 100,000 names, 5,000 clients, Zipf) stored in %.0f s; tops of every hour and day made in %.0f s.\n\n",
		backend, n, loaded.Seconds(), time.Since(t).Seconds())
	return timeReports(ctx, st, raw, w.org, now)
}

// loadHits stores n hits over the 30 days before now, with the counts
// and rollups the pipeline makes (and 20 resolutions without a hit for
// each). The hits go in objects of 200,000; the counts and rollups are
// summed over all of them and written last in key order, which stores
// the same rows as the pipeline would, many times faster than one
// object's upserts after another's.
func loadHits(ctx context.Context, st store.Store, w *world, n int, now time.Time) error {
	rng := mrand.New(mrand.NewPCG(7, 8))
	names, clients := newZipf(rng, 1.2, 100_000), newZipf(rng, 1.1, 5_000)
	from := now.Add(-30 * 24 * time.Hour)
	step := 30 * 24 * time.Hour / time.Duration(n)
	agg := newBenchAgg()
	const chunk = 200_000
	for done := 0; done < n; done += chunk {
		var hits []store.Hit
		for i := done; i < min(done+chunk, n); i++ {
			dom := names.next()
			d := w.devices[rng.IntN(len(w.devices))]
			action := store.ActionBlock
			if dom%7 == 0 {
				action = store.ActionAlert
			}
			c := clients.next()
			h := store.Hit{OrgID: w.org, DeviceID: d.ID, At: from.Add(time.Duration(i) * step), QueryName: "d" + strconv.Itoa(dom) + ".bad.example.",
				QueryType: "A", Rcode: "NXDOMAIN", SrcAddr: "10.1." + strconv.Itoa(c/250) + "." + strconv.Itoa(c%250), SrcID: "i-0123", VPCID: "vpc-a",
				Action: action, Kind: store.KindBlock, Rule: "rpzfw-" + strconv.Itoa(dom%8+1) + "-nxdomain", ListID: listID,
				Entry: "*.bad.example", Source: "feed" + strconv.Itoa(dom%5), Line: dom}
			hits = append(hits, h)
			agg.add(h)
		}
		if err := ingestRows(ctx, st, "h"+strconv.Itoa(done), now, w.org, hits, nil, nil); err != nil {
			return err
		}
	}
	counts, rolls := agg.rows(w.org)
	return ingestRows(ctx, st, "rollups", now, w.org, nil, counts, rolls)
}

func ingestRows(ctx context.Context, st store.Store, key string, now time.Time, org int64, hits []store.Hit, counts []store.Count, rolls []store.Rollup) error {
	obj := store.LogObject{Queue: benchQueue, Bucket: "b", Key: key, ETag: "e", OrgID: org, Lines: int64(len(hits)), ProcessedAt: now}
	_, err := st.IngestObject(ctx, obj, func(iw store.IngestWriter) error {
		if err := iw.AddHits(ctx, hits); err != nil {
			return err
		}
		for len(counts) > 0 {
			n := min(len(counts), 100_000)
			if err := iw.AddCounts(ctx, counts[:n]); err != nil {
				return err
			}
			counts = counts[n:]
		}
		for len(rolls) > 0 {
			n := min(len(rolls), 100_000)
			if err := iw.AddRollups(ctx, rolls[:n]); err != nil {
				return err
			}
			rolls = rolls[n:]
		}
		return nil
	})
	return err
}

// benchAgg sums the counts and rollups of hits as the pipeline does.
type benchAgg struct {
	counts map[countKey]int64
	rolls  map[rollKey]int64
}

type countKey struct {
	w      time.Duration
	at     time.Time
	dev    int64
	action string
}

type rollKey struct {
	dim                   string
	w                     time.Duration
	at                    time.Time
	dev                   int64
	action, source, value string
}

func newBenchAgg() *benchAgg {
	return &benchAgg{counts: map[countKey]int64{}, rolls: map[rollKey]int64{}}
}

func (a *benchAgg) add(h store.Hit) {
	for _, w := range []time.Duration{time.Minute, time.Hour} {
		a.counts[countKey{w, h.At.Truncate(w), h.DeviceID, h.Action}]++
		a.counts[countKey{w, h.At.Truncate(w), h.DeviceID, store.ActionNone}] += 20
	}
	for _, w := range []time.Duration{time.Minute, time.Hour, 24 * time.Hour} {
		a.rolls[rollKey{store.DimRule, w, h.At.Truncate(w), h.DeviceID, h.Action, h.Source, h.Rule}]++
	}
	for _, w := range []time.Duration{time.Hour, 24 * time.Hour} {
		a.rolls[rollKey{store.DimClient, w, h.At.Truncate(w), h.DeviceID, "", "", h.SrcAddr}]++
	}
}

// rows lists the sums in the order of the tables' keys.
func (a *benchAgg) rows(org int64) ([]store.Count, []store.Rollup) {
	var cs []store.Count
	for k, n := range a.counts {
		cs = append(cs, store.Count{OrgID: org, DeviceID: k.dev, Width: k.w, At: k.at, Action: k.action, N: n})
	}
	slices.SortFunc(cs, func(x, y store.Count) int {
		return cmp.Or(cmp.Compare(x.Width, y.Width), x.At.Compare(y.At), cmp.Compare(x.DeviceID, y.DeviceID), cmp.Compare(x.Action, y.Action))
	})
	var rs []store.Rollup
	for k, n := range a.rolls {
		rs = append(rs, store.Rollup{OrgID: org, DeviceID: k.dev, Dim: k.dim, Width: k.w, At: k.at, Action: k.action, Source: k.source, Value: k.value, N: n})
	}
	slices.SortFunc(rs, func(x, y store.Rollup) int {
		return cmp.Or(cmp.Compare(x.Dim, y.Dim), cmp.Compare(x.Width, y.Width), x.At.Compare(y.At), cmp.Compare(x.DeviceID, y.DeviceID),
			cmp.Compare(x.Action, y.Action), cmp.Compare(x.Source, y.Source), cmp.Compare(x.Value, y.Value))
	})
	return cs, rs
}

// timeReports times each report (median of 5) and its baseline from the
// hits table.
func timeReports(ctx context.Context, st store.Store, raw *sql.DB, org int64, now time.Time) error {
	r := &report.Reporter{Store: st, Now: func() time.Time { return now }}
	month := store.LogFilter{OrgID: org, From: now.Add(-30 * 24 * time.Hour), To: now}
	day := store.LogFilter{OrgID: org, From: now.Add(-24 * time.Hour), To: now}
	feed := month
	feed.Sources = []string{"feed3"}
	from, to := month.From.UnixNano(), month.To.UnixNano()
	cases := []struct {
		name string
		run  func() error
	}{
		{"top 10 domains, 30 days", func() error { _, err := r.Top(ctx, month, report.ByDomain, 10); return err }},
		{"baseline: top 10 domains from the hits", func() error {
			return drain(raw.QueryContext(ctx, `SELECT query_name, count(*) FROM log_hits WHERE org_id = $1 AND at >= $2 AND at < $3 GROUP BY query_name ORDER BY 2 DESC LIMIT 10`, org, from, to))
		}},
		{"top 10 clients, 30 days", func() error { _, err := r.Top(ctx, month, report.ByClient, 10); return err }},
		{"top feeds, 30 days", func() error { _, err := r.Top(ctx, month, report.BySource, 10); return err }},
		{"timeline, 30 days (6 h buckets)", func() error { _, err := r.Timeline(ctx, month); return err }},
		{"timeline of one feed, 30 days", func() error { _, err := r.Timeline(ctx, feed); return err }},
		{"baseline: timeline from the hits, 30 days", func() error {
			return drain(raw.QueryContext(ctx, `SELECT at - (at % 21600000000000) AS b, action, count(*) FROM log_hits WHERE org_id = $1 AND at >= $2 AND at < $3 GROUP BY b, action`, org, from, to))
		}},
		{"timeline, 24 hours (15 min buckets)", func() error { _, err := r.Timeline(ctx, day); return err }},
		{"top 10 domains, 24 hours", func() error { _, err := r.Top(ctx, day, report.ByDomain, 10); return err }},
		{"summary, 30 days", func() error { _, err := r.Summary(ctx, month); return err }},
		{"hits, newest 100", func() error { _, err := r.Hits(ctx, store.HitQuery{LogFilter: month, Limit: 100}); return err }},
	}
	fmt.Println("| report | median of 5 (ms) |")
	fmt.Println("|---|---|")
	for _, c := range cases {
		var ds []time.Duration
		for range 5 {
			t := time.Now()
			if err := c.run(); err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			ds = append(ds, time.Since(t))
		}
		fmt.Printf("| %s | %.0f |\n", c.name, float64(median(ds).Microseconds())/1000)
	}
	fmt.Println()
	return nil
}

func drain(rows *sql.Rows, err error) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
	}
	return rows.Err()
}
