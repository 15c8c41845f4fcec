package sqlstore

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/rpzfw/rpzfw/internal/store"
)

// TestOlderBinaryRefusesNewerSchema: a database migrated past what this
// binary knows is not written to (a downgrade, or an old instance beside a
// new one during an upgrade).
func TestOlderBinaryRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	path := filepath.Join(t.TempDir(), "rpzfw.db")
	db, err := Open(ctx, path, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.db.ExecContext(ctx, "INSERT INTO "+migrationsTable+" (version_id, is_applied) VALUES (999999, 1)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(ctx, path, log); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("opening a newer schema: %v, want ErrSchemaTooNew", err)
	}
}

// TestSyncRunBoundsMigration: migration 00011 goes down and up again, and
// a run recorded before it reads 0 for both bounds (unknown) with the rest
// of the run intact.
func TestSyncRunBoundsMigration(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			dsn := b.dsn(t)
			db := mustOpen(t, dsn)
			o, err := db.CreateOrg(ctx, "a")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.CreatePolicy(ctx, store.Policy{OrgID: o.ID, Name: "p", Doc: []byte(`{"name":"p"}`)}); err != nil {
				t.Fatal(err)
			}
			d, err := db.CreateDevice(ctx, store.Device{OrgID: o.ID, Nickname: "fw", Provider: "aws", Policy: "p",
				Region: "eu-west-1", RuleGroupID: "rslvr-frg-0123456789abcdef", CredKind: store.CredAmbient})
			if err != nil {
				t.Fatal(err)
			}
			run := store.SyncRun{DeviceID: d.ID, Trigger: "policy", Result: store.ResultOK, Added: 1500,
				Calls: map[string]int{"UpdateFirewallDomains": 2}, UpdatesLowerBound: 2, CallsFloor: 5}
			if _, err := db.AddRun(ctx, run); err != nil {
				t.Fatal(err)
			}
			downTo(t, db, 10)
			if _, err := db.ListRuns(ctx, d.ID, 0); err == nil {
				t.Error("the runs read their bounds after the migration went down")
			}
			db.Close()

			db = mustOpen(t, dsn)
			defer db.Close()
			runs, err := db.ListRuns(ctx, d.ID, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != 1 || runs[0].Added != 1500 || runs[0].Calls["UpdateFirewallDomains"] != 2 ||
				runs[0].UpdatesLowerBound != 0 || runs[0].CallsFloor != 0 {
				t.Errorf("a run kept through the migration: %+v, want its bounds 0 and the rest as it was", runs)
			}
		})
	}
}

// downTo migrates db down to version v.
func downTo(t *testing.T, db *DB, v int64) {
	t.Helper()
	gd := goose.DialectSQLite3
	if db.dialect == dialectPostgres {
		gd = goose.DialectPostgres
	}
	fsys, err := fs.Sub(migrations, "migrations/"+db.dialect.String())
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(gd, db.db, fsys, goose.WithTableName(migrationsTable))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(t.Context(), v); err != nil {
		t.Fatalf("migrating down to %d: %v", v, err)
	}
}

// TestLogTopsKeyedByDevice: migration 12 puts the device before the time
// in the tops' key (so a report over all devices reads device 0's rows
// alone), keeping every row both ways.
func TestLogTopsKeyedByDevice(t *testing.T) {
	keyQuery := map[string]string{
		"sqlite": `SELECT name FROM pragma_index_info((SELECT name FROM sqlite_master
			WHERE type = 'index' AND tbl_name = 'log_tops' AND name LIKE 'sqlite_autoindex%')) ORDER BY seqno`,
		"postgres": `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
			WHERE i.indrelid = 'log_tops'::regclass AND i.indisprimary ORDER BY array_position(i.indkey::int[], a.attnum::int)`,
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			dsn := b.dsn(t)
			db := mustOpen(t, dsn)
			for i, dev := range []int64{0, 1, 0} {
				if _, err := db.db.ExecContext(ctx, `INSERT INTO log_tops (org_id, dim, width, at, device_id, value, blocked, alerted)
					VALUES (1, 'domain', 3600, $1, $2, 'a.example.', 3, 0)`, int64(i)*3600e9, dev); err != nil {
					t.Fatal(err)
				}
			}
			key := func(db *DB) string {
				rows, err := db.db.QueryContext(ctx, keyQuery[db.dialect.String()])
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				var cols []string
				for rows.Next() {
					var c string
					if err := rows.Scan(&c); err != nil {
						t.Fatal(err)
					}
					cols = append(cols, c)
				}
				return strings.Join(cols, ",")
			}
			count := func(db *DB) (n int) {
				if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM log_tops`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			const byDevice, byTime = "org_id,dim,width,device_id,at,value", "org_id,dim,width,at,device_id,value"
			if k := key(db); k != byDevice {
				t.Errorf("tops keyed by %s, want %s", k, byDevice)
			}
			downTo(t, db, 11)
			if k, n := key(db), count(db); k != byTime || n != 3 {
				t.Errorf("after going down: keyed by %s with %d rows, want %s with 3", k, n, byTime)
			}
			db.Close()
			db = mustOpen(t, dsn)
			defer db.Close()
			if k, n := key(db), count(db); k != byDevice || n != 3 {
				t.Errorf("after going up again: keyed by %s with %d rows, want %s with 3", k, n, byDevice)
			}
		})
	}
}

// TestLogClientsMigration: migration 13 moves the client rollups to
// log_clients, each device's addresses and all of them under device 0,
// and back.
func TestLogClientsMigration(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			dsn := b.dsn(t)
			db := mustOpen(t, dsn)
			downTo(t, db, 12)
			hour := int64(3600e9) * 500000
			for _, r := range []struct {
				dev  int64
				addr string
			}{{1, "10.0.0.1"}, {1, "10.0.0.2"}, {2, "10.0.0.2"}, {2, "10.0.0.3"}, {0, "10.0.0.4"}} {
				if _, err := db.db.ExecContext(ctx, `INSERT INTO log_rollups (org_id, dim, width, at, device_id, action, source, value, n)
					VALUES (1, 'client', 3600, $1, $2, '', '', $3, 5)`, hour, r.dev, r.addr); err != nil {
					t.Fatal(err)
				}
			}
			db.Close()
			db = mustOpen(t, dsn)
			at := time.Unix(0, hour).UTC()
			span := []store.Span{{From: at, To: at.Add(time.Hour), Width: time.Hour}}
			for _, c := range []struct {
				devs []int64
				want int64
			}{{nil, 4}, {[]int64{1}, 2}, {[]int64{2}, 2}, {[]int64{1, 2}, 3}} {
				n, err := db.DistinctClients(ctx, store.LogFilter{OrgID: 1, Devices: c.devs}, span)
				if err != nil || n != c.want {
					t.Errorf("after the migration, distinct clients of %v: %d (%v), want %d", c.devs, n, err, c.want)
				}
			}
			count := func() (n int) {
				if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM log_rollups WHERE dim = 'client'`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			if n := count(); n != 0 {
				t.Errorf("%d client rollups left behind", n)
			}
			downTo(t, db, 12)
			if n := count(); n != 4 {
				t.Errorf("after going down, %d client rollups, want each device's 4", n)
			}
			db.Close()
		})
	}
}

// TestPostgresPlansWithoutParallelWorkers: sessions plan without
// parallel workers unless the DSN sets max_parallel_workers_per_gather.
func TestPostgresPlansWithoutParallelWorkers(t *testing.T) {
	dsn := pgDSN(t)
	for _, c := range []struct{ dsn, want string }{
		{dsn, "0"},
		{dsn + "&max_parallel_workers_per_gather=3", "3"},
	} {
		db := mustOpen(t, c.dsn)
		var got string
		if err := db.db.QueryRowContext(t.Context(), `SHOW max_parallel_workers_per_gather`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s: max_parallel_workers_per_gather %s, want %s", redact(c.dsn), got, c.want)
		}
		db.Close()
	}
}

// TestTopsDeleteUsesBucketIndex: making a bucket's tops deletes its rows
// through the bucket index, even with no statistics gathered (SQLite
// gathers none unless asked); a plan through the key's first columns
// reads every bucket of the width.
func TestTopsDeleteUsesBucketIndex(t *testing.T) {
	db := mustOpen(t, "sqlite:"+sqlitePath(t))
	defer db.Close()
	rows, err := db.db.QueryContext(t.Context(), `EXPLAIN QUERY PLAN DELETE FROM log_tops WHERE org_id = 1 AND dim IN ('domain', 'client') AND width = 3600 AND at = 5`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if got := strings.Join(plan, "; "); !strings.Contains(got, "log_tops_bucket (org_id=? AND width=? AND at=? AND dim=?)") {
		t.Errorf("deleting a bucket's tops: %s", got)
	}
}
