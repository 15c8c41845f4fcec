package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// The query-log tables (migrations 00002): objects counted once, hits,
// counts and rollups. See store/logs.go for the contract.

var _ store.Logs = (*DB)(nil)

// maxParams bounds the parameters of one statement: SQLite allows 32766,
// PostgreSQL 65535; a few thousand keep statements quick to parse.
const maxParams = 4000

// IngestObject records obj and what write adds in one transaction; false
// when the object was recorded before (nothing is written then).
func (d *DB) IngestObject(ctx context.Context, obj store.LogObject, write func(store.IngestWriter) error) (bool, error) {
	if obj.ProcessedAt.IsZero() {
		obj.ProcessedAt = d.now()
	}
	fresh := false
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		if d.dialect == dialectSQLite {
			// SQLite's default page cache (2 MB) makes the rollups'
			// upserts read their index from disk again and again; a
			// connection's cache size is its own, so it is set here,
			// where it matters, at the cost of one statement.
			if _, err := tx.ExecContext(ctx, `PRAGMA cache_size = -65536`); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO log_objects (queue, bucket, object_key, etag, org_id, size, lines,
			bad_lines, hits, unattributed, newest, processed_at, instance)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
			ON CONFLICT (queue, bucket, object_key, etag) DO NOTHING`,
			obj.Queue, obj.Bucket, obj.Key, obj.ETag, obj.OrgID, obj.Size, obj.Lines,
			obj.BadLines, obj.Hits, obj.Unattributed, nanos(obj.Newest), nanos(obj.ProcessedAt), obj.Instance)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // recorded before: add nothing
		}
		fresh = true
		w := &ingestWriter{tx: tx, d: d, buckets: map[store.TopsBucket]bool{}}
		if err := write(w); err != nil {
			return err
		}
		if err := untop(ctx, tx, w.buckets); err != nil {
			return err
		}
		return d.touchDevices(ctx, tx, obj.Devices, obj.ProcessedAt)
	})
	if err != nil {
		return false, fmt.Errorf("recording log object s3://%s/%s: %w", obj.Bucket, obj.Key, err)
	}
	return fresh, nil
}

// touchDevices moves the devices' last_log_retrieved forward (never
// back), making a pending status row for a device that has none. A device
// deleted meanwhile is skipped (checked first: on PostgreSQL a failed
// statement would abort the transaction).
func (d *DB) touchDevices(ctx context.Context, tx *sql.Tx, ids []int64, at time.Time) error {
	for _, id := range ids {
		_, err := tx.ExecContext(ctx, `INSERT INTO device_status (device_id, state, last_log_retrieved, updated_at)
			SELECT CAST($1 AS BIGINT), CAST($2 AS TEXT), CAST($3 AS BIGINT), CAST($4 AS BIGINT)
			WHERE EXISTS (SELECT 1 FROM devices WHERE id = $1)
			ON CONFLICT (device_id) DO UPDATE SET last_log_retrieved = CASE
				WHEN device_status.last_log_retrieved < excluded.last_log_retrieved THEN excluded.last_log_retrieved
				ELSE device_status.last_log_retrieved END`,
			id, store.StatePending, nanos(at), d.nowNanos())
		if err != nil {
			return fmt.Errorf("recording the last log of device %d: %w", id, err)
		}
	}
	return nil
}

// ObjectIngested says whether the object was recorded.
func (d *DB) ObjectIngested(ctx context.Context, queue, bucket, key, etag string) (bool, error) {
	var one int
	err := d.db.QueryRowContext(ctx, `SELECT 1 FROM log_objects WHERE queue = $1 AND bucket = $2 AND object_key = $3 AND etag = $4`,
		queue, bucket, key, etag).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("looking up log object s3://%s/%s: %w", bucket, key, err)
	}
	return true, nil
}

// ingestWriter writes an object's rows in its transaction, in batches of
// multi-row statements.
type ingestWriter struct {
	tx *sql.Tx
	d  *DB
	// buckets are the hours and days the hits fall in.
	buckets map[store.TopsBucket]bool
	// stmts are the full-batch statements prepared in tx (closed with
	// it): SQLite parses a statement again for every Exec with its text,
	// an eighth of a big object's CPU; PostgreSQL's driver caches them
	// itself.
	stmts map[string]*sql.Stmt
}

const hitCols = 16

func (w *ingestWriter) AddHits(ctx context.Context, hits []store.Hit) error {
	for _, h := range hits {
		for _, width := range []time.Duration{time.Hour, 24 * time.Hour} {
			w.buckets[store.TopsBucket{OrgID: h.OrgID, Width: width, At: h.At.Truncate(width)}] = true
		}
	}
	err := insertRows(ctx, w, hits, hitCols, `INSERT INTO log_hits (org_id, device_id, at, query_name, query_type, rcode, src_addr, src_id, vpc_id,
			action, kind, rule_name, list_id, entry, source, line) VALUES `, ``, func(args []any, h store.Hit) []any {
		return append(args, h.OrgID, h.DeviceID, nanos(h.At), h.QueryName, h.QueryType, h.Rcode, h.SrcAddr, h.SrcID,
			h.VPCID, h.Action, h.Kind, h.Rule, h.ListID, h.Entry, h.Source, int64(h.Line))
	})
	if err != nil {
		return fmt.Errorf("storing hits: %w", err)
	}
	return nil
}

// insertRows writes rows in statements of up to maxParams parameters:
// head, a tuple of cols placeholders a row, tail; row appends a row's
// values to args.
func insertRows[T any](ctx context.Context, w *ingestWriter, rows []T, cols int, head, tail string, row func(args []any, r T) []any) error {
	for len(rows) > 0 {
		n := min(len(rows), maxParams/cols)
		args := make([]any, 0, n*cols)
		for _, r := range rows[:n] {
			args = row(args, r)
		}
		if err := w.exec(ctx, head+w.d.placeholders(n, cols)+tail, n == maxParams/cols, args); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// exec runs q; a full batch's statement (reuse) is prepared once per
// object and run again for every full batch after it.
func (w *ingestWriter) exec(ctx context.Context, q string, reuse bool, args []any) error {
	if !reuse || w.d.dialect != dialectSQLite {
		_, err := w.tx.ExecContext(ctx, q, args...)
		return err
	}
	st := w.stmts[q]
	if st == nil {
		var err error
		if st, err = w.tx.PrepareContext(ctx, q); err != nil {
			return err
		}
		if w.stmts == nil {
			w.stmts = map[string]*sql.Stmt{}
		}
		w.stmts[q] = st
	}
	_, err := st.ExecContext(ctx, args...)
	return err
}

func (w *ingestWriter) AddCounts(ctx context.Context, counts []store.Count) error {
	type key struct {
		org, dev, width, at int64
		action              string
	}
	merged, order := map[key]int64{}, []key(nil)
	for _, c := range counts {
		k := key{c.OrgID, c.DeviceID, int64(c.Width / time.Second), nanos(c.At), c.Action}
		if _, ok := merged[k]; !ok {
			order = append(order, k)
		}
		merged[k] += c.N
	}
	err := insertRows(ctx, w, order, 6, `INSERT INTO log_counts (org_id, width, at, device_id, action, n) VALUES `,
		` ON CONFLICT (org_id, width, at, device_id, action) DO UPDATE SET n = log_counts.n + excluded.n`,
		func(args []any, k key) []any { return append(args, k.org, k.width, k.at, k.dev, k.action, merged[k]) })
	if err != nil {
		return fmt.Errorf("storing counts: %w", err)
	}
	return nil
}

// AddRollups adds rule rollups to log_rollups; client rollups record the
// addresses seen in log_clients (see addClients).
func (w *ingestWriter) AddRollups(ctx context.Context, rollups []store.Rollup) error {
	type key struct {
		org                  int64
		dim                  string
		width, at, dev       int64
		action, source, valu string
	}
	merged, order := map[key]int64{}, []key(nil)
	var clients []store.Rollup
	for _, r := range rollups {
		if r.Dim == store.DimClient {
			clients = append(clients, r)
			continue
		}
		k := key{r.OrgID, r.Dim, int64(r.Width / time.Second), nanos(r.At), r.DeviceID, r.Action, r.Source, r.Value}
		if _, ok := merged[k]; !ok {
			order = append(order, k)
		}
		merged[k] += r.N
	}
	if err := w.addClients(ctx, clients); err != nil {
		return err
	}
	err := insertRows(ctx, w, order, 9, `INSERT INTO log_rollups (org_id, dim, width, at, device_id, action, source, value, n) VALUES `,
		` ON CONFLICT (org_id, dim, width, at, device_id, action, source, value) DO UPDATE SET n = log_rollups.n + excluded.n`,
		func(args []any, k key) []any {
			return append(args, k.org, k.dim, k.width, k.at, k.dev, k.action, k.source, k.valu, merged[k])
		})
	if err != nil {
		return fmt.Errorf("storing rollups: %w", err)
	}
	return nil
}

// addClients records each client rollup's address for its device and for
// device 0, every address of the organization (migration 00013): a count
// of distinct clients reads one row per address and bucket.
func (w *ingestWriter) addClients(ctx context.Context, rollups []store.Rollup) error {
	type key struct {
		org, width, dev, at int64
		value               string
	}
	seen, order := map[key]bool{}, []key(nil)
	for _, r := range rollups {
		for _, dev := range []int64{r.DeviceID, 0} {
			k := key{r.OrgID, int64(r.Width / time.Second), dev, nanos(r.At), r.Value}
			if !seen[k] {
				seen[k] = true
				order = append(order, k)
			}
		}
	}
	err := insertRows(ctx, w, order, 5, `INSERT INTO log_clients (org_id, width, device_id, at, value) VALUES `, ` ON CONFLICT DO NOTHING`,
		func(args []any, k key) []any { return append(args, k.org, k.width, k.dev, k.at, k.value) })
	if err != nil {
		return fmt.Errorf("storing client addresses: %w", err)
	}
	return nil
}

// placeholders writes rows of cols parameters: ($1, $2), ($3, $4), ...
// on PostgreSQL, (?, ?), (?, ?) on SQLite, which looks numbered
// parameters up in a list: thousands of them would cost it quadratic time.
func (d *DB) placeholders(rows, cols int) string {
	var b strings.Builder
	b.Grow(rows * cols * 5)
	p := 1
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			if d.dialect == dialectSQLite {
				b.WriteByte('?')
			} else {
				fmt.Fprintf(&b, "$%d", p)
			}
			p++
		}
		b.WriteByte(')')
	}
	return b.String()
}
