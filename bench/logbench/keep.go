package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// benchDB is the database of one backend's run: a fresh one, dropped
// afterwards, or one kept (-keep) and used again by later runs.
type benchDB struct {
	backend string
	dsn     string
	// kept says the database outlives the run: cleanup leaves it.
	kept bool
	// where names it for people: a file or a PostgreSQL schema.
	where   string
	cleanup func()
}

// driver is the database/sql driver of a backend.
func driver(backend string) string {
	if backend == "postgres" {
		return "pgx"
	}
	return "sqlite"
}

// openBenchDB makes the database of a run. With o.keep set, it is a
// SQLite file keep/rpzfw-HITS.db or the PostgreSQL schema logbench_HITS,
// left as it is when it holds a completed load (its mark, writeMark) and
// emptied otherwise, so that a load cut short is never timed; with
// o.onlyReports it must hold one.
func openBenchDB(ctx context.Context, backend string, o reportsOpts) (*benchDB, error) {
	if backend != "sqlite" && backend != "postgres" {
		return nil, fmt.Errorf("no backend %q (sqlite, postgres)", backend)
	}
	if o.keep == "" {
		return freshDB(ctx, backend, o.pg)
	}
	if err := os.MkdirAll(o.keep, 0o700); err != nil {
		return nil, fmt.Errorf("making the directory of kept databases: %w", err)
	}
	unlock, err := lockKept(o.keep, backend, o.hits)
	if err != nil {
		return nil, err
	}
	b, err := keptDB(ctx, backend, o)
	if err != nil {
		unlock()
		return nil, err
	}
	b.cleanup = unlock
	return b, nil
}

// keptDB names the kept database, emptied unless it holds a completed load.
func keptDB(ctx context.Context, backend string, o reportsOpts) (*benchDB, error) {
	b := &benchDB{backend: backend, kept: true}
	fresh := false
	if backend == "sqlite" {
		b.dsn = filepath.Join(o.keep, "rpzfw-"+strconv.Itoa(o.hits)+".db")
		b.where = b.dsn
		_, err := os.Stat(b.dsn)
		fresh = errors.Is(err, os.ErrNotExist)
	} else {
		dsn, err := schemaDSN(o.pg, "logbench_"+strconv.Itoa(o.hits))
		if err != nil {
			return nil, err
		}
		b.dsn, b.where = dsn, "schema logbench_"+strconv.Itoa(o.hits)
	}
	if !fresh {
		m, err := readMark(ctx, b)
		if err != nil {
			return nil, err
		}
		if m != nil {
			return b, nil
		}
	}
	if o.onlyReports {
		return nil, fmt.Errorf("no completed load of %d hits in %s: run once with -keep and without -only-reports", o.hits, b.where)
	}
	if err := b.empty(ctx, o.pg); err != nil {
		return nil, err
	}
	return b, nil
}

// lockKept keeps two runs from using one kept database at once (one
// would empty it under the other's load) until the function it returns
// is called. The lock is on a file in the kept directory: it holds for
// the runs on one machine.
func lockKept(dir, backend string, hits int) (func(), error) {
	p := filepath.Join(dir, "logbench-"+backend+"-"+strconv.Itoa(hits)+".lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking the kept database: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another run uses the kept %s database of %d hits (%s is locked): %w", backend, hits, p, err)
	}
	return func() { f.Close() }, nil
}

// empty deletes what a kept database holds (a load cut short).
func (b *benchDB) empty(ctx context.Context, pg string) error {
	if b.backend == "sqlite" {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(b.dsn + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("deleting an unfinished load: %w", err)
			}
		}
		return nil
	}
	u, _ := url.Parse(b.dsn)
	schema := u.Query().Get("search_path")
	if err := pgExec(ctx, pg, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
		return err
	}
	return pgExec(ctx, pg, "CREATE SCHEMA "+schema)
}

// freshDB makes a fresh database: a SQLite file, or a PostgreSQL schema
// dropped afterwards.
func freshDB(ctx context.Context, backend, pg string) (*benchDB, error) {
	if backend == "sqlite" {
		dir, err := os.MkdirTemp("", "logbench-")
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, "rpzfw.db")
		return &benchDB{backend: backend, dsn: p, where: p, cleanup: func() { os.RemoveAll(dir) }}, nil
	}
	var r [6]byte
	rand.Read(r[:])
	schema := "logbench_" + hex.EncodeToString(r[:])
	dsn, err := schemaDSN(pg, schema)
	if err != nil {
		return nil, err
	}
	if err := pgExec(ctx, pg, "CREATE SCHEMA "+schema); err != nil {
		return nil, err
	}
	drop := func() { pgExec(context.Background(), pg, "DROP SCHEMA "+schema+" CASCADE") }
	return &benchDB{backend: backend, dsn: dsn, where: "schema " + schema, cleanup: drop}, nil
}

func schemaDSN(pg, schema string) (string, error) {
	u, err := url.Parse(pg)
	if err != nil {
		return "", fmt.Errorf("reading the PostgreSQL URL: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func pgExec(ctx context.Context, pg, q string) error {
	db, err := sql.Open("pgx", pg)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("PostgreSQL at %s: %s: %w", pg, q, err)
	}
	return nil
}

// loadMark says a kept database holds a completed load and its tops: it
// is written last, so a load cut short has none.
type loadMark struct {
	org int64
	// now is the load's present: the hits are the 30 days before it.
	now            time.Time
	loaded, topped time.Duration
	// version is the schema's migration then; a later migration calls
	// for fresh statistics.
	version int64
}

const markTable = "logbench_load"

// readMark reads the mark of a kept database, nil when it has none.
func readMark(ctx context.Context, b *benchDB) (*loadMark, error) {
	db, err := sql.Open(driver(b.backend), b.dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	q := `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $1`
	if b.backend == "postgres" {
		q = `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1`
	}
	var n int
	if err := db.QueryRowContext(ctx, q, markTable).Scan(&n); err != nil {
		return nil, fmt.Errorf("looking for the mark of a completed load in %s: %w", b.where, err)
	}
	if n == 0 {
		return nil, nil
	}
	var m loadMark
	var now, loaded, topped int64
	err = db.QueryRowContext(ctx, `SELECT org_id, now_ns, loaded_ns, topped_ns, version FROM `+markTable).Scan(&m.org, &now, &loaded, &topped, &m.version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the mark of a completed load in %s: %w", b.where, err)
	}
	m.now, m.loaded, m.topped = time.Unix(0, now).UTC(), time.Duration(loaded), time.Duration(topped)
	return &m, nil
}

// writeMark records a completed load (raw is the database's connection).
func writeMark(ctx context.Context, raw *sql.DB, m *loadMark) error {
	_, err := raw.ExecContext(ctx, `CREATE TABLE `+markTable+` (org_id BIGINT NOT NULL, now_ns BIGINT NOT NULL,
		loaded_ns BIGINT NOT NULL, topped_ns BIGINT NOT NULL, version BIGINT NOT NULL)`)
	if err == nil {
		_, err = raw.ExecContext(ctx, `INSERT INTO `+markTable+` VALUES ($1, $2, $3, $4, $5)`,
			m.org, m.now.UnixNano(), int64(m.loaded), int64(m.topped), m.version)
	}
	if err != nil {
		return fmt.Errorf("marking the load complete: %w", err)
	}
	return nil
}

// schemaVersion is the database's last migration.
func schemaVersion(ctx context.Context, raw *sql.DB) (int64, error) {
	var v int64
	if err := raw.QueryRowContext(ctx, `SELECT max(version_id) FROM goose_db_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("reading the schema's version: %w", err)
	}
	return v, nil
}

// reanalyze gathers statistics again when migrations ran since the mark
// (a new index has none), and moves the mark to the new version.
func reanalyze(ctx context.Context, raw *sql.DB, m *loadMark) error {
	v, err := schemaVersion(ctx, raw)
	if err != nil || v == m.version {
		return err
	}
	if _, err := raw.ExecContext(ctx, "ANALYZE"); err != nil {
		return fmt.Errorf("gathering statistics after a migration: %w", err)
	}
	if _, err := raw.ExecContext(ctx, `UPDATE `+markTable+` SET version = $1`, v); err != nil {
		return fmt.Errorf("recording the schema's version: %w", err)
	}
	m.version = v
	return nil
}
