package store

import (
	"context"
	"time"
)

// Session is a portal login. The cookie holds a random ID; only its
// SHA-256 (Hash) is kept, so a copy of the database opens no session.
type Session struct {
	Hash   []byte
	UserID int64
	// CSRF is the token every form of the session must carry.
	CSRF      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Sessions keeps portal sessions.
type Sessions interface {
	CreateSession(ctx context.Context, s Session) error
	// SessionByHash returns the session and its user, or ErrNotFound when
	// there is none or it expired before now.
	SessionByHash(ctx context.Context, hash []byte, now time.Time) (Session, User, error)
	// DeleteSession ends a session (logout); ending one already gone is
	// not an error.
	DeleteSession(ctx context.Context, hash []byte) error
	// DeleteExpiredSessions removes the sessions expired before now and
	// says how many.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error)
}
