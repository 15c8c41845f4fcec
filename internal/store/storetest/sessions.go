package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// RunSessions is the suite of store.Sessions.
func RunSessions(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	s := open(t)
	org, err := s.CreateOrg(ctx, "sessions")
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, store.User{OrgID: org.ID, Name: "sess-user", Role: store.RoleViewer, PasswordHash: "$2a$x"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0).UTC()
	live := store.Session{Hash: []byte("live-hash-0123456789abcdef012345"), UserID: u.ID, CSRF: "csrf-1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	old := store.Session{Hash: []byte("old-hash-0123456789abcdef0123456"), UserID: u.ID, CSRF: "csrf-2", CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Minute)}
	for _, x := range []store.Session{live, old} {
		if err := s.CreateSession(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateSession(ctx, live); !errors.Is(err, store.ErrConflict) {
		t.Errorf("same hash twice: %v, want ErrConflict", err)
	}
	if err := s.CreateSession(ctx, store.Session{Hash: []byte("x"), UserID: u.ID + 1000, CSRF: "c", ExpiresAt: now.Add(time.Hour)}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}
	got, gu, err := s.SessionByHash(ctx, live.Hash, now)
	if err != nil || !bytes.Equal(got.Hash, live.Hash) || got.CSRF != "csrf-1" || !got.ExpiresAt.Equal(live.ExpiresAt) || gu.ID != u.ID || gu.OrgID != org.ID || gu.Role != store.RoleViewer {
		t.Fatalf("live session: %+v %+v %v", got, gu, err)
	}
	if _, _, err := s.SessionByHash(ctx, old.Hash, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired session: %v, want ErrNotFound", err)
	}
	if _, _, err := s.SessionByHash(ctx, live.Hash, now.Add(time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session at its expiry: %v, want ErrNotFound", err)
	}
	if n, err := s.DeleteExpiredSessions(ctx, now); err != nil || n != 1 {
		t.Errorf("DeleteExpiredSessions: %d %v, want 1", n, err)
	}
	if err := s.DeleteSession(ctx, live.Hash); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSession(ctx, live.Hash); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
	if _, _, err := s.SessionByHash(ctx, live.Hash, now); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after logout: %v, want ErrNotFound", err)
	}
}
