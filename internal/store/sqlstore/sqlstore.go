// Package sqlstore implements store.Store on SQLite (one instance) and
// PostgreSQL (one or several instances sharing the work).
//
// One schema, in two migration directories kept in step (TestMigrationsInStep
// holds them to it): the dialects differ only in the types of generated IDs
// and byte strings. Migrations are applied by goose when the store opens,
// under a lock on PostgreSQL so that instances starting together do not race.
//
// Invariants the code keeps:
//   - every query a tenant can reach filters by org_id, so an object of
//     another organization is store.ErrNotFound;
//   - times are unix nanoseconds in UTC in a BIGINT, 0 for "never": both
//     databases compare them as integers, so a lease expiry is exact;
//   - a statement that must decide alone (a lease, an optimistic update)
//     is one statement whose affected rows say who won, never a read
//     followed by a write.
//
// SQL is written once with $N placeholders, which PostgreSQL takes as
// positional parameters and SQLite as parameters named $N, bound by position
// by the driver.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/rpzfw/rpzfw/internal/store"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

func (d dialect) String() string {
	if d == dialectPostgres {
		return "postgres"
	}
	return "sqlite"
}

// DB is a store.Store on a SQL database.
type DB struct {
	db      *sql.DB
	dialect dialect
	log     *slog.Logger
	// now is the clock of created_at, updated_at and the like (tests may
	// replace it).
	now func() time.Time
}

var _ store.Store = (*DB)(nil)

// busyTimeout is how long a SQLite statement waits for another process's
// write lock (an admin command beside the service) before failing.
const busyTimeout = 10 * time.Second

// Open opens the database dsn names and brings its schema up to date.
//
// dsn is a postgres:// or postgresql:// URL, or a SQLite file path,
// optionally written sqlite:PATH. A new SQLite file is created readable by
// its owner only, since it holds sealed secrets and token hashes.
func Open(ctx context.Context, dsn string, log *slog.Logger) (*DB, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var (
		d   = &DB{log: log, now: time.Now}
		err error
	)
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		d.dialect = dialectPostgres
		d.db, err = openPostgres(dsn)
		if err != nil {
			return nil, err
		}
		// Enough for the API, the scheduler and the log consumers at once;
		// PostgreSQL's default limit is 100 connections for all instances.
		d.db.SetMaxOpenConns(16)
		d.db.SetMaxIdleConns(4)
		d.db.SetConnMaxIdleTime(5 * time.Minute)
	default:
		d.dialect = dialectSQLite
		d.db, err = openSQLite(strings.TrimPrefix(dsn, "sqlite:"), log)
		if err != nil {
			return nil, err
		}
	}
	if err := d.db.PingContext(ctx); err != nil {
		d.db.Close()
		return nil, fmt.Errorf("connecting to the %s database: %w", d.dialect, err)
	}
	if err := d.migrate(ctx); err != nil {
		d.db.Close()
		return nil, err
	}
	return d, nil
}

// openPostgres opens a pool whose sessions plan without parallel workers
// unless the DSN says otherwise: rpzfw's queries read short ranges of
// rollups and indexes, and on the small machines it runs on starting
// workers cost more than they save (a month's timeline of one feed over
// 10 million hits: 220 ms with two workers, 25 ms without).
func openPostgres(dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("opening PostgreSQL: %w", err)
	}
	if _, set := cfg.RuntimeParams["max_parallel_workers_per_gather"]; !set {
		cfg.RuntimeParams["max_parallel_workers_per_gather"] = "0"
	}
	return stdlib.OpenDB(*cfg), nil
}

func openSQLite(path string, log *slog.Logger) (*sql.DB, error) {
	switch {
	case path == "":
		return nil, errors.New("opening SQLite: no database file given")
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return nil, fmt.Errorf("opening SQLite: %q: give the database as a file path", path)
	case strings.ContainsRune(path, '?'):
		// The driver reads what follows '?' as its options.
		return nil, fmt.Errorf("opening SQLite: the path %q contains '?'; choose another", path)
	}
	// Create the file ourselves so that it is 0600 from the start: SQLite
	// would create it with the umask's mode, and its -wal and -shm files
	// take the mode of the database file.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		f.Close()
	case errors.Is(err, os.ErrExist):
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			log.Warn("the database file can be read by others; it holds sealed secrets and token hashes: chmod 600 it", "file", path, "mode", fi.Mode().Perm().String())
		}
	default:
		return nil, fmt.Errorf("creating the SQLite database: %w (does its directory exist and is it writable?)", err)
	}
	// WAL lets readers go on while one writer writes; NORMAL synchronous is
	// safe in WAL mode (a power loss can only lose the last commits).
	// Transactions start IMMEDIATE so that two processes never deadlock
	// upgrading read locks to write locks.
	q := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate",
		busyTimeout.Milliseconds())
	db, err := sql.Open("sqlite", path+"?"+q)
	if err != nil {
		return nil, fmt.Errorf("opening SQLite: %w", err)
	}
	// SQLite has one writer at a time anyway; one connection makes writes
	// queue in Go instead of failing with SQLITE_BUSY, at the cost of
	// reads waiting for them, which at this scale is no cost.
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	return db, nil
}

// migrationsTable is goose's version table (its default name).
const migrationsTable = "goose_db_version"

func (d *DB) migrate(ctx context.Context) error {
	var (
		gd   goose.Dialect
		opts []goose.ProviderOption
	)
	switch d.dialect {
	case dialectPostgres:
		gd = goose.DialectPostgres
		opts = append(opts, goose.WithSessionLocker(&pgMigrationLock{}))
	default:
		gd = goose.DialectSQLite3
	}
	fsys, err := fs.Sub(migrations, "migrations/"+d.dialect.String())
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(gd, d.db, fsys, append(opts, goose.WithTableName(migrationsTable))...)
	if err != nil {
		return fmt.Errorf("preparing the database migrations: %w", err)
	}
	if err := checkNotNewer(ctx, p); err != nil {
		return err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrating the %s database: %w", d.dialect, err)
	}
	for _, r := range res {
		d.log.Info("applied a database migration", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
	}
	return nil
}

// ErrSchemaTooNew is returned by Open when the database was migrated by a
// newer rpzfw than this one: writing to it could lose what that version
// keeps, so the older binary stops instead.
var ErrSchemaTooNew = errors.New("the database schema is newer than this rpzfw knows")

// checkNotNewer refuses a database whose schema version is past the
// newest migration this binary holds (a downgrade, or an old instance
// beside a new one).
func checkNotNewer(ctx context.Context, p *goose.Provider) error {
	have, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("reading the database schema version: %w", err)
	}
	var known int64
	for _, src := range p.ListSources() {
		known = max(known, src.Version)
	}
	if have > known {
		return fmt.Errorf("%w: the database is at version %d, this binary knows up to %d; run the newer rpzfw (see docs/deploy.md, Upgrades)", ErrSchemaTooNew, have, known)
	}
	return nil
}

// pgMigrationLock serializes migrations across instances with a session
// advisory lock. Unlike goose's own locker it waits on the lock instead of
// polling it, and its key depends on the schema, so that databases in
// different schemas (tests, side-by-side installations) do not wait for
// each other.
type pgMigrationLock struct{ key int64 }

func (l *pgMigrationLock) SessionLock(ctx context.Context, conn *sql.Conn) error {
	err := conn.QueryRowContext(ctx,
		`SELECT hashtextextended('rpzfw migrations ' || coalesce(current_schema(), ''), 0)`).Scan(&l.key)
	if err != nil {
		return fmt.Errorf("naming the migration lock: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, l.key); err != nil {
		return fmt.Errorf("waiting for the migration lock: %w", err)
	}
	return nil
}

func (l *pgMigrationLock) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, l.key); err != nil {
		return fmt.Errorf("releasing the migration lock: %w", err)
	}
	return nil
}

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.db.PingContext(ctx); err != nil {
		return fmt.Errorf("pinging the %s database: %w", d.dialect, err)
	}
	return nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// inTx runs f in a transaction, committed when f returns nil.
func (d *DB) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback() // the error of f is the one worth reporting
		return err
	}
	return tx.Commit()
}

// forUpdate locks the rows a transaction reads and then rewrites. SQLite
// needs no such clause: an IMMEDIATE transaction already holds the
// database's write lock.
func (d *DB) forUpdate() string {
	if d.dialect == dialectPostgres {
		return " FOR UPDATE"
	}
	return ""
}

// isUnique says whether err is a unique constraint violation.
func isUnique(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// isForeignKey says whether err is a foreign key violation: a row refers
// to one that does not exist, or a referenced row was to be deleted.
func isForeignKey(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	}
	return false
}

// notFound turns sql.ErrNoRows into store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// nanos is how a time is stored: unix nanoseconds, 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos reads a stored time back, in UTC.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// nowNanos is the store's clock, rounded as it will read back.
func (d *DB) nowNanos() int64 { return d.now().UnixNano() }

// checkAffected turns "no row changed" into store.ErrNotFound.
func checkAffected(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// deviceExists answers whether the device id exists, for the methods that
// take a device ID and must tell "no such device" from "nothing stored".
func deviceExists(ctx context.Context, q queryer, id int64) error {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM devices WHERE id = $1`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("device %d: %w", id, store.ErrNotFound)
	}
	return err
}

// queryer is what *sql.DB and *sql.Tx share.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// scanner is what *sql.Row and *sql.Rows share.
type scanner interface{ Scan(...any) error }

// nullBytes stores nil as NULL and anything else, even empty, as bytes.
func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}
