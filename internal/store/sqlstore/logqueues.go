package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// PutLogQueue stores the health of a queue. UpdatedAt is set by the store.
func (d *DB) PutLogQueue(ctx context.Context, q store.LogQueue) error {
	_, err := d.db.ExecContext(ctx, `INSERT INTO log_queues (queue, org_id, state, error_reason, permission, error_at, last_receive, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (queue) DO UPDATE SET org_id = excluded.org_id, state = excluded.state, error_reason = excluded.error_reason,
		permission = excluded.permission, error_at = excluded.error_at, last_receive = excluded.last_receive,
		updated_at = excluded.updated_at`,
		q.URL, q.OrgID, q.State, q.Error, q.Permission, nanos(q.ErrorAt), nanos(q.LastReceive), d.nowNanos())
	if err != nil {
		return fmt.Errorf("storing the health of log queue %s: %w", q.URL, err)
	}
	return nil
}

// LogQueues lists the organization's queues (orgID 0: every queue).
func (d *DB) LogQueues(ctx context.Context, orgID int64) ([]store.LogQueue, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT queue, org_id, state, error_reason, permission, error_at, last_receive, updated_at
		FROM log_queues WHERE $1 = 0 OR org_id = $1 ORDER BY queue`, orgID)
	if err != nil {
		return nil, fmt.Errorf("listing log queues: %w", err)
	}
	defer rows.Close()
	var out []store.LogQueue
	for rows.Next() {
		var (
			q                    store.LogQueue
			errAt, recv, updated int64
		)
		if err := rows.Scan(&q.URL, &q.OrgID, &q.State, &q.Error, &q.Permission, &errAt, &recv, &updated); err != nil {
			return nil, fmt.Errorf("listing log queues: %w", err)
		}
		q.ErrorAt, q.LastReceive, q.UpdatedAt = fromNanos(errAt), fromNanos(recv), fromNanos(updated)
		out = append(out, q)
	}
	return out, rows.Err()
}

// QueueStats sums the queue's objects processed since since.
func (d *DB) QueueStats(ctx context.Context, queue string, since time.Time) (store.QueueStats, error) {
	var s store.QueueStats
	var newest, last int64
	err := d.db.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(lines), 0), coalesce(sum(bad_lines), 0), coalesce(sum(hits), 0),
		coalesce(max(newest), 0), coalesce(max(processed_at), 0)
		FROM log_objects WHERE queue = $1 AND processed_at >= $2`, queue, nanos(since)).Scan(
		&s.Objects, &s.Lines, &s.BadLines, &s.Hits, &newest, &last)
	if err != nil {
		return s, fmt.Errorf("reading the statistics of log queue %s: %w", queue, err)
	}
	if s.Objects == 0 {
		// Nothing recent: the newest object ever still tells its age.
		err = d.db.QueryRowContext(ctx, `SELECT coalesce(max(newest), 0), coalesce(max(processed_at), 0) FROM log_objects WHERE queue = $1`,
			queue).Scan(&newest, &last)
		if err != nil {
			return s, fmt.Errorf("reading the statistics of log queue %s: %w", queue, err)
		}
	}
	s.Newest, s.LastObject = fromNanos(newest), fromNanos(last)
	return s, nil
}

// Quarantine keeps a message that kept failing.
func (d *DB) Quarantine(ctx context.Context, m store.QuarantinedMessage) error {
	if m.At.IsZero() {
		m.At = d.now()
	}
	_, err := d.db.ExecContext(ctx, `INSERT INTO log_quarantine (queue, org_id, message_id, body, receives, reason, quarantined_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (queue, message_id) DO UPDATE SET receives = excluded.receives, reason = excluded.reason,
		quarantined_at = excluded.quarantined_at, retry_requested = FALSE`,
		m.Queue, m.OrgID, m.MessageID, m.Body, int64(m.Receives), m.Reason, nanos(m.At))
	if err != nil {
		return fmt.Errorf("quarantining message %s of %s: %w", m.MessageID, m.Queue, err)
	}
	return nil
}

const quarantineCols = `id, queue, org_id, message_id, body, receives, reason, quarantined_at, retry_requested`

func scanQuarantined(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}) ([]store.QuarantinedMessage, error) {
	var out []store.QuarantinedMessage
	for rows.Next() {
		var (
			m            store.QuarantinedMessage
			receives, at int64
		)
		if err := rows.Scan(&m.ID, &m.Queue, &m.OrgID, &m.MessageID, &m.Body, &receives, &m.Reason, &at, &m.RetryRequired); err != nil {
			return nil, err
		}
		m.Receives, m.At = int(receives), fromNanos(at)
		out = append(out, m)
	}
	return out, rows.Err()
}

// ListQuarantined lists the organization's quarantined messages, newest
// first, at most 1000.
func (d *DB) ListQuarantined(ctx context.Context, orgID int64, queue string) ([]store.QuarantinedMessage, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+quarantineCols+` FROM log_quarantine
		WHERE org_id = $1 AND ($2 = '' OR queue = $2) ORDER BY quarantined_at DESC, id DESC LIMIT 1000`, orgID, queue)
	if err != nil {
		return nil, fmt.Errorf("listing quarantined messages: %w", err)
	}
	defer rows.Close()
	out, err := scanQuarantined(rows)
	if err != nil {
		return nil, fmt.Errorf("listing quarantined messages: %w", err)
	}
	return out, nil
}

// RetryQuarantined marks one message (id 0: all of the organization's)
// for retry.
func (d *DB) RetryQuarantined(ctx context.Context, orgID, id int64) (int, error) {
	res, err := d.db.ExecContext(ctx, `UPDATE log_quarantine SET retry_requested = TRUE WHERE org_id = $1 AND ($2 = 0 OR id = $2)`, orgID, id)
	if err != nil {
		return 0, fmt.Errorf("asking for a retry of quarantined messages: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if n == 0 && id != 0 {
		return 0, fmt.Errorf("quarantined message %d: %w", id, store.ErrNotFound)
	}
	return int(n), nil
}

// TakeRetries returns messages of queue marked for retry.
func (d *DB) TakeRetries(ctx context.Context, queue string, limit int) ([]store.QuarantinedMessage, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+quarantineCols+` FROM log_quarantine
		WHERE queue = $1 AND retry_requested ORDER BY id LIMIT $2`, queue, int64(limit))
	if err != nil {
		return nil, fmt.Errorf("reading messages to retry: %w", err)
	}
	defer rows.Close()
	out, err := scanQuarantined(rows)
	if err != nil {
		return nil, fmt.Errorf("reading messages to retry: %w", err)
	}
	return out, nil
}

// DeleteQuarantined forgets a message (it was retried with success).
func (d *DB) DeleteQuarantined(ctx context.Context, id int64) error {
	res, err := d.db.ExecContext(ctx, `DELETE FROM log_quarantine WHERE id = $1`, id)
	if err == nil {
		err = checkAffected(res)
	}
	if err != nil {
		return fmt.Errorf("deleting quarantined message %d: %w", id, err)
	}
	return nil
}

// pruneBatch bounds one delete, so that a large prune never holds the
// database (SQLite's one writer) for long.
const pruneBatch = 5000

// PruneLogs deletes log data past its retention, in batches.
func (d *DB) PruneLogs(ctx context.Context, r store.Retention, now time.Time) (int64, error) {
	if r.Hits <= 0 || r.Counts <= 0 {
		return 0, fmt.Errorf("pruning logs: retention must be positive (%v, %v)", r.Hits, r.Counts)
	}
	hits, counts := nanos(now.Add(-r.Hits)), nanos(now.Add(-r.Counts))
	fine := `width < 86400`
	steps := []struct{ table, key, where string }{
		{"log_hits", "id", `at < $1`},
		{"log_objects", "id", `processed_at < $1`},
		{"plan_entries", "", `valid_to <> 0 AND valid_to < $1`},
		{"plan_lists", "", `valid_to <> 0 AND valid_to < $1`},
		{"plan_versions", "id", `valid_to <> 0 AND valid_to < $1`},
		{"log_rollups", "", fine + ` AND at < $1`},
		{"log_tops", "", fine + ` AND at < $1`},
		{"log_clients", "", fine + ` AND at < $1`},
		{"log_tops_done", "", fine + ` AND at < $1`},
	}
	var total int64
	for _, s := range steps {
		n, err := d.pruneTable(ctx, s.table, s.key, s.where, hits)
		total += n
		if err != nil {
			return total, err
		}
	}
	for _, table := range []string{"log_rollups", "log_counts", "log_tops", "log_tops_done", "log_clients"} {
		n, err := d.pruneTable(ctx, table, "", `at < $1`, counts)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// pruneTable deletes rows matching where, pruneBatch at a time: by key
// when the table has one, else by the rowid (SQLite) or ctid (PostgreSQL).
func (d *DB) pruneTable(ctx context.Context, table, key, where string, arg int64) (int64, error) {
	if key == "" {
		key = "rowid"
		if d.dialect == dialectPostgres {
			key = "ctid"
		}
	}
	q := fmt.Sprintf(`DELETE FROM %s WHERE %s IN (SELECT %s FROM %s WHERE %s LIMIT %d)`, table, key, key, table, where, pruneBatch)
	var total int64
	for {
		res, err := d.db.ExecContext(ctx, q, arg)
		if err != nil {
			return total, fmt.Errorf("pruning %s: %w", table, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("pruning %s: %w", table, err)
		}
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}
