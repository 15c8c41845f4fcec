package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"time"

	"github.com/rpzfw/rpzfw/internal/querylog"
	"github.com/rpzfw/rpzfw/internal/report"
	"github.com/rpzfw/rpzfw/internal/store"
	"github.com/rpzfw/rpzfw/internal/store/sqlstore"
)

// reportsOpts are the reports benchmark's flags.
type reportsOpts struct {
	hits     int
	backends []string
	pg       string
	// keep is the directory of kept SQLite databases; with it set, the
	// PostgreSQL schema is kept too (see openBenchDB).
	keep string
	// onlyReports times the reports of a kept load and fails without one.
	onlyReports bool
	// workers make tops at once (0: one a CPU).
	workers int
}

// reportsBench stores hits (30 days of them, five devices, Zipf-distributed
// names and clients) on each backend, then times the reports over the 30
// days and the same answers computed from the hits table alone.
func reportsBench(ctx context.Context, o reportsOpts) error {
	if o.onlyReports && o.keep == "" {
		return errors.New("-only-reports times a kept load: give -keep DIR")
	}
	for _, b := range o.backends {
		db, err := openBenchDB(ctx, b, o)
		if err != nil {
			return fmt.Errorf("%s: %w", b, err)
		}
		err = reportsOn(ctx, db, o)
		db.cleanup()
		if err != nil {
			return fmt.Errorf("%s: %w", b, err)
		}
	}
	return nil
}

func reportsOn(ctx context.Context, db *benchDB, o reportsOpts) error {
	st, err := sqlstore.Open(ctx, db.dsn, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	raw, err := sql.Open(driver(db.backend), db.dsn)
	if err != nil {
		return err
	}
	defer raw.Close()
	m, err := readMark(ctx, db)
	switch {
	case err != nil:
		return err
	case m != nil:
		if err := reanalyze(ctx, raw, m); err != nil {
			return err
		}
		// A migration may have had tops made again: make what is missing.
		t := time.Now()
		made, err := makeTops(ctx, db, st, topsWorkers(o), m.now)
		if err != nil {
			return err
		}
		fmt.Printf("%s: %d hits kept in %s (stored in %.0f s, tops made in %.0f s on %s; %d tops made now in %.0f s).\n\n",
			db.backend, o.hits, db.where, m.loaded.Seconds(), m.topped.Seconds(), m.now.Format(time.RFC3339), made, time.Since(t).Seconds())
	default:
		if m, err = loadAndTop(ctx, db, st, raw, o); err != nil {
			return err
		}
		kept := ""
		if db.kept {
			kept = " Kept in " + db.where + "."
		}
		fmt.Printf("%s: %d hits over 30 days (5 devices, 100,000 names, 5,000 clients, Zipf) stored in %.0f s; tops of every hour and day made in %.0f s.%s\n\n",
			db.backend, o.hits, m.loaded.Seconds(), m.topped.Seconds(), kept)
	}
	return timeReports(ctx, st, raw, m.org, m.now)
}

// loadAndTop stores the hits and makes their tops, as a kept database
// then holds them (with its mark, written last).
func loadAndTop(ctx context.Context, db *benchDB, st *sqlstore.DB, raw *sql.DB, o reportsOpts) (*loadMark, error) {
	m := &loadMark{now: time.Now().UTC()}
	w, err := setupWorld(ctx, st, benchQueue)
	if err != nil {
		return nil, err
	}
	m.org = w.org
	for i := range 3 { // five devices
		d, err := st.CreateDevice(ctx, store.Device{OrgID: w.org, Nickname: "fw-" + strconv.Itoa(i), Provider: "aws-dns-firewall", Policy: "p"})
		if err != nil {
			return nil, err
		}
		w.devices = append(w.devices, d)
	}
	t := time.Now()
	stop := startProf("")
	err = loadHits(ctx, st, w, o.hits, m.now)
	stop()
	if err != nil {
		return nil, err
	}
	m.loaded = time.Since(t)
	// Fresh statistics, as autovacuum would gather them after a load.
	if _, err := raw.ExecContext(ctx, "ANALYZE"); err != nil {
		return nil, err
	}
	t = time.Now()
	if _, err := makeTops(ctx, db, st, topsWorkers(o), m.now); err != nil {
		return nil, err
	}
	m.topped = time.Since(t)
	if !db.kept {
		return m, nil
	}
	if m.version, err = schemaVersion(ctx, raw); err != nil {
		return nil, err
	}
	return m, writeMark(ctx, raw, m)
}

func topsWorkers(o reportsOpts) int {
	if o.workers > 0 {
		return o.workers
	}
	return runtime.NumCPU()
}

// makeTops makes the tops of every hour and day that has none, as the
// pipeline does, workers buckets at once; it says how many it made.
func makeTops(ctx context.Context, db *benchDB, st *sqlstore.DB, workers int, now time.Time) (int, error) {
	tops, closeTops, err := topsStores(ctx, db, st, workers)
	if err != nil {
		return 0, err
	}
	defer closeTops()
	pt := newParallelTops(tops...)
	stop := startProf(".tops")
	defer stop()
	err = querylog.MakeTops(ctx, pt, now, 31*24*time.Hour, 1000)
	if werr := pt.wait(); err == nil {
		err = werr
	}
	return pt.made, err
}

// topsStores are the stores that make tops at once: on SQLite, workers
// connections to the database; on PostgreSQL, st as often.
func topsStores(ctx context.Context, db *benchDB, st *sqlstore.DB, workers int) ([]store.LogTops, func(), error) {
	stores := []store.LogTops{st}
	var opened []*sqlstore.DB
	closeAll := func() {
		for _, s := range opened {
			s.Close()
		}
	}
	for len(stores) < workers {
		if db.backend == "postgres" {
			stores = append(stores, st)
			continue
		}
		s, err := sqlstore.Open(ctx, db.dsn, nil)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		opened = append(opened, s)
		stores = append(stores, s)
	}
	return stores, closeAll, nil
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
