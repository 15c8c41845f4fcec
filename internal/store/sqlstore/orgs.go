package sqlstore

import (
	"context"
	"fmt"

	"github.com/rpzfw/rpzfw/internal/store"
)

// CreateOrg creates an organization; the name must be new.
func (d *DB) CreateOrg(ctx context.Context, name string) (store.Org, error) {
	o := store.Org{Name: name}
	now := d.nowNanos()
	err := d.db.QueryRowContext(ctx,
		`INSERT INTO orgs (name, created_at) VALUES ($1, $2) RETURNING id`, name, now).Scan(&o.ID)
	if isUnique(err) {
		return store.Org{}, fmt.Errorf("creating organization %q: one of that name exists: %w", name, store.ErrConflict)
	}
	if err != nil {
		return store.Org{}, fmt.Errorf("creating organization %q: %w", name, err)
	}
	o.CreatedAt = fromNanos(now)
	return o, nil
}

// OrgByName finds an organization.
func (d *DB) OrgByName(ctx context.Context, name string) (store.Org, error) {
	var (
		o  store.Org
		at int64
	)
	err := d.db.QueryRowContext(ctx, `SELECT id, name, created_at FROM orgs WHERE name = $1`, name).Scan(&o.ID, &o.Name, &at)
	if err != nil {
		return store.Org{}, fmt.Errorf("reading organization %q: %w", name, notFound(err))
	}
	o.CreatedAt = fromNanos(at)
	return o, nil
}

// ListOrgs lists the organizations in the order they were created.
func (d *DB) ListOrgs(ctx context.Context) ([]store.Org, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, name, created_at FROM orgs ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("listing organizations: %w", err)
	}
	defer rows.Close()
	var out []store.Org
	for rows.Next() {
		var (
			o  store.Org
			at int64
		)
		if err := rows.Scan(&o.ID, &o.Name, &at); err != nil {
			return nil, fmt.Errorf("listing organizations: %w", err)
		}
		o.CreatedAt = fromNanos(at)
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing organizations: %w", err)
	}
	return out, nil
}

// CreateToken stores a token's hash; the hash must be new.
func (d *DB) CreateToken(ctx context.Context, t store.Token) (store.Token, error) {
	now := d.nowNanos()
	err := d.db.QueryRowContext(ctx,
		`INSERT INTO tokens (org_id, name, role, hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		t.OrgID, t.Name, t.Role, t.Hash, now).Scan(&t.ID)
	switch {
	case isUnique(err):
		return store.Token{}, fmt.Errorf("creating token %q: a token of that hash exists: %w", t.Name, store.ErrConflict)
	case isForeignKey(err):
		return store.Token{}, fmt.Errorf("creating token %q: organization %d: %w", t.Name, t.OrgID, store.ErrNotFound)
	case err != nil:
		return store.Token{}, fmt.Errorf("creating token %q: %w", t.Name, err)
	}
	t.CreatedAt = fromNanos(now)
	return t, nil
}

const tokenColumns = `id, org_id, name, role, hash, created_at`

func scanToken(s scanner) (store.Token, error) {
	var (
		t  store.Token
		at int64
	)
	if err := s.Scan(&t.ID, &t.OrgID, &t.Name, &t.Role, &t.Hash, &at); err != nil {
		return store.Token{}, err
	}
	t.CreatedAt = fromNanos(at)
	return t, nil
}

// TokenByHash finds a token of any organization by its hash.
func (d *DB) TokenByHash(ctx context.Context, hash []byte) (store.Token, error) {
	t, err := scanToken(d.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = $1`, hash))
	if err != nil {
		// The hash stays out of the message: it identifies a credential.
		return store.Token{}, fmt.Errorf("reading token: %w", notFound(err))
	}
	return t, nil
}

// ListTokens lists an organization's tokens in the order they were created.
func (d *DB) ListTokens(ctx context.Context, orgID int64) ([]store.Token, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE org_id = $1 ORDER BY id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	defer rows.Close()
	var out []store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("listing tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing tokens: %w", err)
	}
	return out, nil
}

// DeleteToken deletes a token of the organization.
func (d *DB) DeleteToken(ctx context.Context, orgID, id int64) error {
	res, err := d.db.ExecContext(ctx, `DELETE FROM tokens WHERE org_id = $1 AND id = $2`, orgID, id)
	if err == nil {
		err = checkAffected(res)
	}
	if err != nil {
		return fmt.Errorf("deleting token %d: %w", id, err)
	}
	return nil
}

// CreateUser creates a portal user; the name must be new in every
// organization, since a login names no organization.
func (d *DB) CreateUser(ctx context.Context, u store.User) (store.User, error) {
	now := d.nowNanos()
	err := d.db.QueryRowContext(ctx,
		`INSERT INTO users (org_id, name, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		u.OrgID, u.Name, u.Role, u.PasswordHash, now).Scan(&u.ID)
	switch {
	case isUnique(err):
		return store.User{}, fmt.Errorf("creating user %q: a user of that name exists: %w", u.Name, store.ErrConflict)
	case isForeignKey(err):
		return store.User{}, fmt.Errorf("creating user %q: organization %d: %w", u.Name, u.OrgID, store.ErrNotFound)
	case err != nil:
		return store.User{}, fmt.Errorf("creating user %q: %w", u.Name, err)
	}
	u.CreatedAt = fromNanos(now)
	return u, nil
}

const userColumns = `id, org_id, name, role, password_hash, created_at`

func scanUser(s scanner) (store.User, error) {
	var (
		u  store.User
		at int64
	)
	if err := s.Scan(&u.ID, &u.OrgID, &u.Name, &u.Role, &u.PasswordHash, &at); err != nil {
		return store.User{}, err
	}
	u.CreatedAt = fromNanos(at)
	return u, nil
}

// UserByName finds a user of any organization.
func (d *DB) UserByName(ctx context.Context, name string) (store.User, error) {
	u, err := scanUser(d.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE name = $1`, name))
	if err != nil {
		return store.User{}, fmt.Errorf("reading user %q: %w", name, notFound(err))
	}
	return u, nil
}

// ListUsers lists an organization's users in the order they were created.
func (d *DB) ListUsers(ctx context.Context, orgID int64) ([]store.User, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users WHERE org_id = $1 ORDER BY id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("listing users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing users: %w", err)
	}
	return out, nil
}
