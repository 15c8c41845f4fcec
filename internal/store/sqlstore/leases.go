package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// AcquireLease takes key for holder until now+ttl when it is free, expired
// or already holder's (a renewal). It is one statement, so two instances
// racing for a key on PostgreSQL cannot both win: the second insert waits
// for the first, then finds the row and evaluates the WHERE against it.
// The rows it changed say whether holder has the lease.
func (d *DB) AcquireLease(ctx context.Context, key, holder string, now time.Time, ttl time.Duration) (bool, error) {
	if holder == "" {
		return false, fmt.Errorf("acquiring lease %q: no holder named", key)
	}
	res, err := d.db.ExecContext(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at < $4`,
		key, holder, now.Add(ttl).UnixNano(), now.UnixNano())
	if err != nil {
		return false, fmt.Errorf("acquiring lease %q: %w", key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("acquiring lease %q: %w", key, err)
	}
	return n > 0, nil
}

// ReleaseLease gives up holder's lease on key; it leaves another holder's
// lease alone.
func (d *DB) ReleaseLease(ctx context.Context, key, holder string) error {
	if _, err := d.db.ExecContext(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, key, holder); err != nil {
		return fmt.Errorf("releasing lease %q: %w", key, err)
	}
	return nil
}

// LeaseHolder returns who holds key and until when, as stored: a lease
// past its expiry is still reported, with that expiry, until someone else
// takes it. ("", zero time) means nobody holds it.
func (d *DB) LeaseHolder(ctx context.Context, key string) (string, time.Time, error) {
	var (
		holder  string
		expires int64
	)
	err := d.db.QueryRowContext(ctx, `SELECT holder, expires_at FROM leases WHERE name = $1`, key).Scan(&holder, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("reading lease %q: %w", key, err)
	}
	return holder, fromNanos(expires), nil
}
