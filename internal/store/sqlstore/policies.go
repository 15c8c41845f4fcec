package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/rpzfw/rpzfw/internal/store"
)

const policyColumns = `org_id, name, doc, secrets, predefined, version, updated_at`

func scanPolicy(s scanner) (store.Policy, error) {
	var (
		p   store.Policy
		doc string
		at  int64
	)
	if err := s.Scan(&p.OrgID, &p.Name, &doc, &p.Secrets, &p.Predefined, &p.Version, &at); err != nil {
		return store.Policy{}, err
	}
	p.Doc = []byte(doc)
	p.UpdatedAt = fromNanos(at)
	return p, nil
}

// ListPolicies lists an organization's policies by name.
func (d *DB) ListPolicies(ctx context.Context, orgID int64) ([]store.Policy, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+policyColumns+` FROM policies WHERE org_id = $1 ORDER BY name`, orgID)
	if err != nil {
		return nil, fmt.Errorf("listing policies: %w", err)
	}
	defer rows.Close()
	var out []store.Policy
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			return nil, fmt.Errorf("listing policies: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing policies: %w", err)
	}
	return out, nil
}

// GetPolicy reads a policy of the organization.
func (d *DB) GetPolicy(ctx context.Context, orgID int64, name string) (store.Policy, error) {
	p, err := scanPolicy(d.db.QueryRowContext(ctx,
		`SELECT `+policyColumns+` FROM policies WHERE org_id = $1 AND name = $2`, orgID, name))
	if err != nil {
		return store.Policy{}, fmt.Errorf("reading policy %q: %w", name, notFound(err))
	}
	return p, nil
}

// CreatePolicy stores a new policy at version 1.
func (d *DB) CreatePolicy(ctx context.Context, p store.Policy) (store.Policy, error) {
	now := d.nowNanos()
	_, err := d.db.ExecContext(ctx,
		`INSERT INTO policies (org_id, name, doc, secrets, predefined, version, updated_at)
		 VALUES ($1, $2, $3, $4, $5, 1, $6)`,
		p.OrgID, p.Name, string(p.Doc), nullBytes(p.Secrets), p.Predefined, now)
	switch {
	case isUnique(err):
		return store.Policy{}, fmt.Errorf("creating policy %q: a policy of that name exists: %w", p.Name, store.ErrConflict)
	case isForeignKey(err):
		return store.Policy{}, fmt.Errorf("creating policy %q: organization %d: %w", p.Name, p.OrgID, store.ErrNotFound)
	case err != nil:
		return store.Policy{}, fmt.Errorf("creating policy %q: %w", p.Name, err)
	}
	p.Version = 1
	p.UpdatedAt = fromNanos(now)
	return p, nil
}

// UpdatePolicy replaces a policy's document, secrets and predefined flag
// and bumps its version. With p.Version > 0 the update happens only if that
// is still the stored version.
func (d *DB) UpdatePolicy(ctx context.Context, p store.Policy) (store.Policy, error) {
	now := d.nowNanos()
	q := `UPDATE policies SET doc = $3, secrets = $4, predefined = $5, version = version + 1, updated_at = $6
	      WHERE org_id = $1 AND name = $2`
	args := []any{p.OrgID, p.Name, string(p.Doc), nullBytes(p.Secrets), p.Predefined, now}
	if p.Version > 0 {
		q += ` AND version = $7`
		args = append(args, p.Version)
	}
	err := d.db.QueryRowContext(ctx, q+` RETURNING version`, args...).Scan(&p.Version)
	if errors.Is(err, sql.ErrNoRows) {
		// Either there is no such policy or its version moved on: tell
		// which, since the caller does different things.
		if _, gerr := d.GetPolicy(ctx, p.OrgID, p.Name); gerr != nil {
			return store.Policy{}, fmt.Errorf("updating policy %q: %w", p.Name, store.ErrNotFound)
		}
		return store.Policy{}, fmt.Errorf("updating policy %q: it was changed since version %d was read: %w", p.Name, p.Version, store.ErrConflict)
	}
	if err != nil {
		return store.Policy{}, fmt.Errorf("updating policy %q: %w", p.Name, err)
	}
	p.UpdatedAt = fromNanos(now)
	return p, nil
}

// DeletePolicy deletes a policy that no device uses.
func (d *DB) DeletePolicy(ctx context.Context, orgID int64, name string) error {
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		var n int
		err := tx.QueryRowContext(ctx, `SELECT count(*) FROM devices WHERE org_id = $1 AND policy = $2`, orgID, name).Scan(&n)
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%d device(s) use it: %w", n, store.ErrInUse)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM policies WHERE org_id = $1 AND name = $2`, orgID, name)
		if isForeignKey(err) {
			// A device took the policy between the count and the delete.
			return fmt.Errorf("a device uses it: %w", store.ErrInUse)
		}
		if err != nil {
			return err
		}
		return checkAffected(res)
	})
	if err != nil {
		return fmt.Errorf("deleting policy %q: %w", name, err)
	}
	return nil
}
