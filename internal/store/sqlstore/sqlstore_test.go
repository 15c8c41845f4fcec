package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
	"github.com/rpzfw/rpzfw/internal/store/storetest"
)

const pgDefault = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// sqlitePath is a new database file in the test's directory.
func sqlitePath(t *testing.T) string { return filepath.Join(t.TempDir(), "rpzfw.db") }

// pgDSN makes a schema of its own for the test, dropped when it ends, and
// returns a URL whose connections use it: tests run in parallel and again
// without seeing each other's rows. An unreachable server fails the test.
func pgDSN(t *testing.T) string {
	t.Helper()
	base := os.Getenv("RPZFW_TEST_POSTGRES")
	if base == "" {
		base = pgDefault
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("RPZFW_TEST_POSTGRES=%q: %v", base, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		t.Fatalf("PostgreSQL at %s is needed and does not answer: %v\n"+
			"Start the local one with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"+
			"(trust authentication, user postgres, a database named test: createdb -U postgres test),\n"+
			"or set RPZFW_TEST_POSTGRES to the URL of another server.", redact(base), err)
	}
	var b [8]byte
	rand.Read(b[:])
	schema := "rpzfw_test_" + hex.EncodeToString(b[:])
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		db.Close()
		t.Fatalf("creating schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		// The test's context is cancelled by now.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
		db.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("RPZFW_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil {
		return u.Redacted()
	}
	return "the configured server"
}

func mustOpen(t *testing.T, dsn string) *DB {
	t.Helper()
	db, err := Open(t.Context(), dsn, testLog(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

// backends are the two databases, each with a way to name a fresh one.
var backends = []struct {
	name string
	dsn  func(t *testing.T) string
}{
	{"SQLite", sqlitePath},
	{"PostgreSQL", pgDSN},
}

func TestStore(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T) store.Store { return mustOpen(t, b.dsn(t)) })
		})
	}
}

// TestLeaseRace races two separately opened stores, as two instances
// would, for one key per round: exactly one must win each.
func TestLeaseRace(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			dsn := b.dsn(t)
			s1, s2 := mustOpen(t, dsn), mustOpen(t, dsn)
			defer s1.Close()
			defer s2.Close()
			now := time.Now()
			for round := range 50 {
				key := fmt.Sprint("race-", round)
				var (
					wg    sync.WaitGroup
					start = make(chan struct{})
					won   [2]bool
					errs  [2]error
				)
				for i, s := range []*DB{s1, s2} {
					wg.Go(func() {
						<-start
						won[i], errs[i] = s.AcquireLease(t.Context(), key, []string{"one", "two"}[i], now, time.Minute)
					})
				}
				close(start)
				wg.Wait()
				if errs[0] != nil || errs[1] != nil {
					t.Fatalf("round %d: %v, %v", round, errs[0], errs[1])
				}
				if won[0] == won[1] {
					t.Fatalf("round %d: both won: %v", round, won[0])
				}
				holder, _, err := s1.LeaseHolder(t.Context(), key)
				if want := map[bool]string{true: "one", false: "two"}[won[0]]; err != nil || holder != want {
					t.Fatalf("round %d: holder %q (%v), want the winner %q", round, holder, err, want)
				}
			}
		})
	}
}

// TestMigrations opens a database twice (the second finds nothing to do)
// and checks goose's record of the newest migration.
func TestMigrations(t *testing.T) {
	newest := newestMigration(t)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			dsn := b.dsn(t)
			mustOpen(t, dsn).Close()
			db := mustOpen(t, dsn)
			defer db.Close()
			var version int64
			if err := db.db.QueryRowContext(t.Context(), `SELECT max(version_id) FROM `+migrationsTable).Scan(&version); err != nil {
				t.Fatalf("reading %s: %v", migrationsTable, err)
			}
			if version != newest {
				t.Errorf("the database is at version %d, want %d", version, newest)
			}
		})
	}
}

// TestConcurrentMigrations starts several instances on one new PostgreSQL
// schema at once: the migration lock must let exactly one migrate.
func TestConcurrentMigrations(t *testing.T) {
	dsn := pgDSN(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			var db *DB
			db, errs[i] = Open(t.Context(), dsn, testLog(t))
			if db != nil {
				db.Close()
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: %v", i, err)
		}
	}
}

func newestMigration(t *testing.T) int64 {
	t.Helper()
	names, err := fs.Glob(migrations, "migrations/sqlite/*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("no migrations: %v", err)
	}
	var newest int64
	for _, n := range names {
		var v int64
		for _, c := range filepath.Base(n) {
			if c < '0' || c > '9' {
				break
			}
			v = v*10 + int64(c-'0')
		}
		newest = max(newest, v)
	}
	return newest
}

// TestMigrationsInStep holds the two migration directories to one schema:
// the same files, differing only by the dialects' type names. A future
// migration that must differ more (SQLite's ALTER TABLE is limited) should
// add its exception here, next to the reason.
func TestMigrationsInStep(t *testing.T) {
	lite, _ := fs.Glob(migrations, "migrations/sqlite/*.sql")
	pg, _ := fs.Glob(migrations, "migrations/postgres/*.sql")
	if len(lite) != len(pg) {
		t.Fatalf("%d SQLite migrations, %d PostgreSQL ones", len(lite), len(pg))
	}
	toPG := strings.NewReplacer(
		"INTEGER PRIMARY KEY AUTOINCREMENT", "BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
		"BLOB ", "BYTEA", // keeps the columns aligned
		"BLOB,", "BYTEA,",
		"../postgres/", "../sqlite/",
	)
	// SQLite cannot change a primary key in place: it copies the table
	// into one with the new key, where PostgreSQL alters the key.
	rebuilt := map[string]bool{"00012_log_tops_by_device.sql": true}
	for i := range lite {
		if filepath.Base(lite[i]) != filepath.Base(pg[i]) {
			t.Fatalf("migration %d is %s for SQLite, %s for PostgreSQL", i, lite[i], pg[i])
		}
		if rebuilt[filepath.Base(lite[i])] {
			continue
		}
		l, _ := migrations.ReadFile(lite[i])
		p, _ := migrations.ReadFile(pg[i])
		if toPG.Replace(string(l)) != string(p) {
			t.Errorf("%s and %s differ by more than the dialects' types", lite[i], pg[i])
		}
	}
}

func TestSQLiteFileMode(t *testing.T) {
	// The file and the WAL files SQLite makes beside it are the owner's
	// alone, whatever the umask would give.
	path := sqlitePath(t)
	db := mustOpen(t, "sqlite:"+path)
	defer db.Close()
	o, err := db.CreateOrg(t.Context(), "a") // writes, so the WAL exists
	if err != nil || o.ID == 0 {
		t.Fatalf("CreateOrg: %v", err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
	// An existing database keeps its mode (only a warning is logged).
	db.Close()
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	again := mustOpen(t, path)
	defer again.Close()
	if _, err := again.OrgByName(t.Context(), "a"); err != nil {
		t.Errorf("reopening: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	for _, dsn := range []string{
		"",
		"sqlite:",
		":memory:",
		"file:x.db",
		filepath.Join(dir, "a?b.db"),
		filepath.Join(dir, "missing", "rpzfw.db"),
	} {
		if db, err := Open(t.Context(), dsn, nil); err == nil {
			db.Close()
			t.Errorf("Open(%q) gave no error", dsn)
		}
	}
}
