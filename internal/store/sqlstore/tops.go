package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// Tops of completed hours and days (migration 00003): the K most hit
// query names and clients of each, per device and for all devices
// (device 0), made from the hits once a bucket is over. An object that
// adds hits to a bucket deletes its log_tops_done row (in the object's
// transaction), so the bucket is made again.

// TopsToMake lists buckets with hits and no tops, oldest first. It asks
// organization by organization: org_id leads the rollups' key, so each
// question is one range of it.
func (d *DB) TopsToMake(ctx context.Context, width time.Duration, since, before time.Time, limit int) ([]store.TopsBucket, error) {
	orgs, err := d.ListOrgs(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.TopsBucket
	for _, o := range orgs {
		bs, err := d.orgTopsToMake(ctx, o.ID, width, since, before, limit)
		if err != nil {
			return nil, err
		}
		out = append(out, bs...)
	}
	slices.SortStableFunc(out, func(a, b store.TopsBucket) int { return a.At.Compare(b.At) })
	return out[:min(len(out), limit)], nil
}

func (d *DB) orgTopsToMake(ctx context.Context, org int64, width time.Duration, since, before time.Time, limit int) ([]store.TopsBucket, error) {
	w := int64(width / time.Second)
	rows, err := d.db.QueryContext(ctx, `SELECT DISTINCT r.at FROM log_rollups r
		WHERE r.org_id = $1 AND r.dim = $2 AND r.width = $3 AND r.at >= $4 AND r.at <= $5
		AND NOT EXISTS (SELECT 1 FROM log_tops_done t WHERE t.org_id = r.org_id AND t.width = r.width AND t.at = r.at)
		ORDER BY r.at LIMIT $6`, org, store.DimRule, w, nanos(since), nanos(before)-int64(width), int64(limit))
	if err != nil {
		return nil, fmt.Errorf("listing the tops to make: %w", err)
	}
	defer rows.Close()
	var out []store.TopsBucket
	for rows.Next() {
		var at int64
		if err := rows.Scan(&at); err != nil {
			return nil, fmt.Errorf("listing the tops to make: %w", err)
		}
		out = append(out, store.TopsBucket{OrgID: org, Width: width, At: fromNanos(at)})
	}
	return out, rows.Err()
}

// topCount is one value's hits in a bucket.
type topCount struct {
	dim            string
	device         int64
	value          string
	blocked, alert int64
}

// MakeTops makes one bucket's tops from its hits.
func (d *DB) MakeTops(ctx context.Context, b store.TopsBucket, k int) error {
	from, to := nanos(b.At), nanos(b.At.Add(b.Width))
	w := int64(b.Width / time.Second)
	var rows []topCount
	for _, dim := range []struct{ name, col string }{{store.DimDomain, "query_name"}, {store.DimClient, "src_addr"}} {
		counts, err := d.bucketCounts(ctx, dim.col, b.OrgID, from, to)
		if err != nil {
			return err
		}
		for _, t := range topK(counts, k) {
			t.dim = dim.name
			rows = append(rows, t)
		}
	}
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM log_tops WHERE org_id = $1 AND dim IN ($2, $3) AND width = $4 AND at = $5`,
			b.OrgID, store.DimDomain, store.DimClient, w, from); err != nil {
			return err
		}
		const cols = 8
		for len(rows) > 0 {
			n := min(len(rows), maxParams/cols)
			args := make([]any, 0, n*cols)
			for _, r := range rows[:n] {
				args = append(args, b.OrgID, r.dim, w, from, r.device, r.value, r.blocked, r.alert)
			}
			q := `INSERT INTO log_tops (org_id, dim, width, at, device_id, value, blocked, alerted) VALUES ` + d.placeholders(n, cols)
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
			rows = rows[n:]
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO log_tops_done (org_id, width, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, b.OrgID, w, from)
		return err
	})
	if err != nil {
		return fmt.Errorf("making the tops of %v from %s: %w", b.Width, b.At.Format(time.RFC3339), err)
	}
	return nil
}

// bucketCounts sums a bucket's hits by device and value of col.
func (d *DB) bucketCounts(ctx context.Context, col string, org, from, to int64) ([]topCount, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT device_id, `+col+`,
		sum(CASE WHEN action = 'BLOCK' THEN 1 ELSE 0 END), sum(CASE WHEN action = 'ALERT' THEN 1 ELSE 0 END)
		FROM log_hits WHERE org_id = $1 AND at >= $2 AND at < $3 GROUP BY device_id, `+col, org, from, to)
	if err != nil {
		return nil, fmt.Errorf("counting a bucket's hits: %w", err)
	}
	defer rows.Close()
	var out []topCount
	for rows.Next() {
		var t topCount
		if err := rows.Scan(&t.device, &t.value, &t.blocked, &t.alert); err != nil {
			return nil, fmt.Errorf("counting a bucket's hits: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// topK keeps the k most hit values of each device and of all devices
// together (device 0).
func topK(counts []topCount, k int) []topCount {
	all := map[string]*topCount{}
	byDev := map[int64][]topCount{}
	for _, c := range counts {
		byDev[c.device] = append(byDev[c.device], c)
		a := all[c.value]
		if a == nil {
			a = &topCount{value: c.value}
			all[c.value] = a
		}
		a.blocked += c.blocked
		a.alert += c.alert
	}
	for _, a := range all {
		byDev[0] = append(byDev[0], *a)
	}
	var out []topCount
	for _, cs := range byDev {
		slices.SortFunc(cs, func(a, b topCount) int {
			return cmp.Or(cmp.Compare(b.blocked+b.alert, a.blocked+a.alert), cmp.Compare(a.value, b.value))
		})
		out = append(out, cs[:min(k, len(cs))]...)
	}
	return out
}

// TopsMade lists the buckets whose tops are made.
func (d *DB) TopsMade(ctx context.Context, orgID int64, width time.Duration, from, to time.Time) ([]time.Time, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT at FROM log_tops_done WHERE org_id = $1 AND width = $2 AND at >= $3 AND at < $4 ORDER BY at`,
		orgID, int64(width/time.Second), nanos(from), nanos(to))
	if err != nil {
		return nil, fmt.Errorf("listing made tops: %w", err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var at int64
		if err := rows.Scan(&at); err != nil {
			return nil, fmt.Errorf("listing made tops: %w", err)
		}
		out = append(out, fromNanos(at))
	}
	return out, rows.Err()
}

// untop deletes the done marks of the hours and days hits fall in (in
// their object's transaction), so their tops are made again.
func untop(ctx context.Context, tx *sql.Tx, buckets map[store.TopsBucket]bool) error {
	for b := range buckets {
		if _, err := tx.ExecContext(ctx, `DELETE FROM log_tops_done WHERE org_id = $1 AND width = $2 AND at = $3`,
			b.OrgID, int64(b.Width/time.Second), nanos(b.At)); err != nil {
			return err
		}
	}
	return nil
}
