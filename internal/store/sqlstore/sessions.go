package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// CreateSession stores a new portal session.
func (d *DB) CreateSession(ctx context.Context, s store.Session) error {
	created := nanos(s.CreatedAt)
	if created == 0 {
		created = d.nowNanos()
	}
	_, err := d.db.ExecContext(ctx,
		`INSERT INTO sessions (hash, user_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		s.Hash, s.UserID, s.CSRF, created, nanos(s.ExpiresAt))
	switch {
	case isUnique(err):
		return fmt.Errorf("creating a session: %w", store.ErrConflict)
	case isForeignKey(err):
		return fmt.Errorf("creating a session: user %d: %w", s.UserID, store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("creating a session: %w", err)
	}
	return nil
}

// SessionByHash returns an unexpired session with its user.
func (d *DB) SessionByHash(ctx context.Context, hash []byte, now time.Time) (store.Session, store.User, error) {
	var (
		s                store.Session
		u                store.User
		created, expires int64
		userAt           int64
	)
	err := d.db.QueryRowContext(ctx,
		`SELECT s.hash, s.user_id, s.csrf, s.created_at, s.expires_at,
		        u.id, u.org_id, u.name, u.role, u.password_hash, u.created_at
		   FROM sessions s JOIN users u ON u.id = s.user_id
		  WHERE s.hash = $1 AND s.expires_at > $2`, hash, now.UnixNano()).
		Scan(&s.Hash, &s.UserID, &s.CSRF, &created, &expires, &u.ID, &u.OrgID, &u.Name, &u.Role, &u.PasswordHash, &userAt)
	if err != nil {
		return store.Session{}, store.User{}, fmt.Errorf("reading a session: %w", notFound(err))
	}
	s.CreatedAt, s.ExpiresAt, u.CreatedAt = fromNanos(created), fromNanos(expires), fromNanos(userAt)
	return s, u, nil
}

// DeleteSession ends a session.
func (d *DB) DeleteSession(ctx context.Context, hash []byte) error {
	if _, err := d.db.ExecContext(ctx, `DELETE FROM sessions WHERE hash = $1`, hash); err != nil {
		return fmt.Errorf("deleting a session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions expired before now.
func (d *DB) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := d.db.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, now.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("deleting expired sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("deleting expired sessions: %w", err)
	}
	return n, nil
}
