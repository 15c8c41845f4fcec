package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// Plan versions are kept as intervals: each list and entry row holds
// [valid_from, valid_to) with valid_to 0 while deployed. A new deployment
// closes only what changed and opens only what is new, so a day of
// unchanged syncs costs no rows and a feed refresh costs its diff.

// RecordDeployment makes dep the device's deployment from at on.
func (d *DB) RecordDeployment(ctx context.Context, deviceID int64, at time.Time, dep store.Deployment) error {
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		var fp string
		err := tx.QueryRowContext(ctx, `SELECT fingerprint FROM plan_versions WHERE device_id = $1 AND valid_to = 0
			ORDER BY id DESC LIMIT 1`+d.forUpdate(), deviceID).Scan(&fp)
		switch {
		case err == nil && fp == dep.Fingerprint:
			return nil
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return err
		}
		t := nanos(at)
		if _, err := tx.ExecContext(ctx, `UPDATE plan_versions SET valid_to = $2 WHERE device_id = $1 AND valid_to = 0`, deviceID, t); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO plan_versions (device_id, plan_hash, fingerprint, valid_from)
			VALUES ($1, $2, $3, $4)`, deviceID, dep.PlanHash, dep.Fingerprint, t); err != nil {
			return err
		}
		if err := d.diffLists(ctx, tx, deviceID, t, dep.Lists); err != nil {
			return err
		}
		return d.diffEntries(ctx, tx, deviceID, t, dep.Entries)
	})
	if isForeignKey(err) {
		err = fmt.Errorf("device %d: %w", deviceID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("recording the deployment of device %d: %w", deviceID, err)
	}
	return nil
}

func (d *DB) diffLists(ctx context.Context, tx *sql.Tx, deviceID, t int64, lists []store.DeployedList) error {
	rows, err := tx.QueryContext(ctx, `SELECT list_id, rule_name FROM plan_lists WHERE device_id = $1 AND valid_to = 0`, deviceID)
	if err != nil {
		return err
	}
	open := map[string]string{}
	for rows.Next() {
		var id, rule string
		if err := rows.Scan(&id, &rule); err != nil {
			rows.Close()
			return err
		}
		open[id] = rule
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, l := range lists {
		if rule, ok := open[l.ListID]; ok && rule == l.Rule {
			delete(open, l.ListID)
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE plan_lists SET valid_to = $3 WHERE device_id = $1 AND list_id = $2 AND valid_to = 0`,
			deviceID, l.ListID, t); err != nil {
			return err
		}
		delete(open, l.ListID)
		if _, err := tx.ExecContext(ctx, `INSERT INTO plan_lists (device_id, list_id, rule_name, valid_from) VALUES ($1, $2, $3, $4)`,
			deviceID, l.ListID, l.Rule, t); err != nil {
			return err
		}
	}
	for id := range open {
		if _, err := tx.ExecContext(ctx, `UPDATE plan_lists SET valid_to = $3 WHERE device_id = $1 AND list_id = $2 AND valid_to = 0`,
			deviceID, id, t); err != nil {
			return err
		}
	}
	return nil
}

func (d *DB) diffEntries(ctx context.Context, tx *sql.Tx, deviceID, t int64, entries []store.PlanEntry) error {
	rows, err := tx.QueryContext(ctx, `SELECT domain, rule_name, source, line FROM plan_entries WHERE device_id = $1 AND valid_to = 0`, deviceID)
	if err != nil {
		return err
	}
	open := map[string]store.PlanEntry{}
	for rows.Next() {
		var (
			e    store.PlanEntry
			line int64
		)
		if err := rows.Scan(&e.Domain, &e.Rule, &e.Source, &line); err != nil {
			rows.Close()
			return err
		}
		e.Line = int(line)
		open[e.Domain] = e
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var closing []string
	var adding []store.PlanEntry
	for _, e := range entries {
		old, ok := open[e.Domain]
		if ok && old == e {
			delete(open, e.Domain)
			continue
		}
		if ok {
			closing = append(closing, e.Domain)
			delete(open, e.Domain)
		}
		adding = append(adding, e)
	}
	for dom := range open {
		closing = append(closing, dom)
	}
	if err := closeEntries(ctx, tx, deviceID, t, closing); err != nil {
		return err
	}
	return d.addEntries(ctx, tx, deviceID, t, adding)
}

func closeEntries(ctx context.Context, tx *sql.Tx, deviceID, t int64, domains []string) error {
	for len(domains) > 0 {
		n := min(len(domains), 500) // numbered parameters: SQLite looks them up in a list
		args := []any{deviceID, t}
		for _, dom := range domains[:n] {
			args = append(args, dom)
		}
		q := `UPDATE plan_entries SET valid_to = $2 WHERE device_id = $1 AND valid_to = 0 AND domain IN (` + paramList(3, n) + `)`
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
		domains = domains[n:]
	}
	return nil
}

func (d *DB) addEntries(ctx context.Context, tx *sql.Tx, deviceID, t int64, entries []store.PlanEntry) error {
	const cols = 6
	for len(entries) > 0 {
		n := min(len(entries), maxParams/cols)
		args := make([]any, 0, n*cols)
		for _, e := range entries[:n] {
			args = append(args, deviceID, e.Domain, e.Rule, e.Source, int64(e.Line), t)
		}
		q := `INSERT INTO plan_entries (device_id, domain, rule_name, source, line, valid_from) VALUES ` + d.placeholders(n, cols)
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
		entries = entries[n:]
	}
	return nil
}

// paramList writes n parameters from $first: $3, $4, $5.
func paramList(first, n int) string {
	b := make([]byte, 0, n*6)
	for i := range n {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = fmt.Appendf(b, "$%d", first+i)
	}
	return string(b)
}

// CurrentFingerprint is the fingerprint of the device's open deployment.
func (d *DB) CurrentFingerprint(ctx context.Context, deviceID int64) (string, error) {
	var fp string
	err := d.db.QueryRowContext(ctx, `SELECT fingerprint FROM plan_versions WHERE device_id = $1 AND valid_to = 0
		ORDER BY id DESC LIMIT 1`, deviceID).Scan(&fp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the deployment of device %d: %w", deviceID, err)
	}
	return fp, nil
}

// distance is how far at lies from [from, to) (to 0: open), in nanoseconds.
func distance(at, from, to int64) int64 {
	switch {
	case at < from:
		return from - at
	case to != 0 && at >= to:
		return at - to + 1
	}
	return 0
}

// LookupEntries answers for a list and candidate entries of the device, as
// deployed at at or, when nothing was deployed then (a hit logged while a
// sync ran), in the version nearest to it.
func (d *DB) LookupEntries(ctx context.Context, deviceID int64, listID string, domains []string, at time.Time) (store.EntryLookup, error) {
	var out store.EntryLookup
	t := nanos(at)
	if listID != "" {
		var err error
		if out.ListKnown, out.ListRule, err = d.listRule(ctx, deviceID, listID, t); err != nil {
			return out, err
		}
	}
	if len(domains) == 0 {
		return out, nil
	}
	return d.lookupDomains(ctx, out, deviceID, domains, t)
}

// listRule is the rule a list held nearest to t.
func (d *DB) listRule(ctx context.Context, deviceID int64, listID string, t int64) (known bool, rule string, err error) {
	rows, err := d.db.QueryContext(ctx, `SELECT rule_name, valid_from, valid_to FROM plan_lists WHERE device_id = $1 AND list_id = $2`, deviceID, listID)
	if err != nil {
		return false, "", fmt.Errorf("looking up list %s: %w", listID, err)
	}
	defer rows.Close()
	best := int64(-1)
	for rows.Next() {
		var (
			r        string
			from, to int64
		)
		if err := rows.Scan(&r, &from, &to); err != nil {
			return false, "", fmt.Errorf("looking up list %s: %w", listID, err)
		}
		if dist := distance(t, from, to); best < 0 || dist < best {
			best, known, rule = dist, true, r
		}
	}
	return known, rule, rows.Err()
}

// lookupDomains adds to out the version nearest t of each of domains.
func (d *DB) lookupDomains(ctx context.Context, out store.EntryLookup, deviceID int64, domains []string, t int64) (store.EntryLookup, error) {
	args := []any{deviceID}
	for _, dom := range domains {
		args = append(args, dom)
	}
	rows, err := d.db.QueryContext(ctx, `SELECT domain, rule_name, source, line, valid_from, valid_to FROM plan_entries
		WHERE device_id = $1 AND domain IN (`+paramList(2, len(domains))+`)`, args...)
	if err != nil {
		return out, fmt.Errorf("looking up plan entries: %w", err)
	}
	defer rows.Close()
	type found struct {
		e    store.PlanEntry
		dist int64
	}
	nearest := map[string]found{}
	for rows.Next() {
		var (
			e              store.PlanEntry
			line, from, to int64
		)
		if err := rows.Scan(&e.Domain, &e.Rule, &e.Source, &line, &from, &to); err != nil {
			return out, fmt.Errorf("looking up plan entries: %w", err)
		}
		e.Line = int(line)
		dist := distance(t, from, to)
		if f, ok := nearest[e.Domain]; !ok || dist < f.dist {
			nearest[e.Domain] = found{e, dist}
		}
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("looking up plan entries: %w", err)
	}
	for _, dom := range domains {
		if f, ok := nearest[dom]; ok {
			out.Entries = append(out.Entries, f.e)
		}
	}
	return out, nil
}
