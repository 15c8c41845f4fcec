package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/rpzfw/rpzfw/internal/store"
)

const deviceColumns = `id, org_id, nickname, provider, policy, note, region, rule_group_id, endpoint_url,
	priority_band, cred_kind, access_key_id, secret_key, role_arn, external_id, max_policy_size,
	monitor_only, log_enabled, log_queue_url, account_id, paused, generation, created_at, updated_at`

func scanDevice(s scanner) (store.Device, error) {
	var (
		v                store.Device
		created, updated int64
		maxPolicy        int64
	)
	err := s.Scan(&v.ID, &v.OrgID, &v.Nickname, &v.Provider, &v.Policy, &v.Note, &v.Region, &v.RuleGroupID, &v.EndpointURL,
		&v.PriorityBand, &v.CredKind, &v.AccessKeyID, &v.SecretKey, &v.RoleARN, &v.ExternalID, &maxPolicy,
		&v.MonitorOnly, &v.LogEnabled, &v.LogQueueURL, &v.AccountID, &v.Paused, &v.Generation, &created, &updated)
	if err != nil {
		return store.Device{}, err
	}
	v.MaxPolicySize = int(maxPolicy)
	v.CreatedAt = fromNanos(created)
	v.UpdatedAt = fromNanos(updated)
	return v, nil
}

func (d *DB) listDevices(ctx context.Context, what, where string, args ...any) ([]store.Device, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+deviceColumns+` FROM devices `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", what, err)
	}
	defer rows.Close()
	var out []store.Device
	for rows.Next() {
		v, err := scanDevice(rows)
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing %s: %w", what, err)
	}
	return out, nil
}

// ListDevices lists an organization's devices by nickname.
func (d *DB) ListDevices(ctx context.Context, orgID int64) ([]store.Device, error) {
	return d.listDevices(ctx, "devices", `WHERE org_id = $1 ORDER BY nickname`, orgID)
}

// AllDevices lists every organization's devices in the order they were
// created.
func (d *DB) AllDevices(ctx context.Context) ([]store.Device, error) {
	return d.listDevices(ctx, "all devices", `ORDER BY id`)
}

// GetDevice reads a device of the organization.
func (d *DB) GetDevice(ctx context.Context, orgID int64, nickname string) (store.Device, error) {
	v, err := scanDevice(d.db.QueryRowContext(ctx,
		`SELECT `+deviceColumns+` FROM devices WHERE org_id = $1 AND nickname = $2`, orgID, nickname))
	if err != nil {
		return store.Device{}, fmt.Errorf("reading device %q: %w", nickname, notFound(err))
	}
	return v, nil
}

// DeviceByID reads a device of any organization (the scheduler's view).
func (d *DB) DeviceByID(ctx context.Context, id int64) (store.Device, error) {
	v, err := scanDevice(d.db.QueryRowContext(ctx, `SELECT `+deviceColumns+` FROM devices WHERE id = $1`, id))
	if err != nil {
		return store.Device{}, fmt.Errorf("reading device %d: %w", id, notFound(err))
	}
	return v, nil
}

// policyExists checks, inside a device's transaction, that the policy the
// device names exists in its organization, so that the error says which
// policy is missing rather than which constraint failed.
func policyExists(ctx context.Context, tx *sql.Tx, orgID int64, name string) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM policies WHERE org_id = $1 AND name = $2`, orgID, name).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("policy %q: %w", name, store.ErrNotFound)
	}
	return err
}

// CreateDevice stores a new device at generation 1.
func (d *DB) CreateDevice(ctx context.Context, v store.Device) (store.Device, error) {
	now := d.nowNanos()
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		if err := policyExists(ctx, tx, v.OrgID, v.Policy); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO devices (org_id, nickname, provider, policy, note, region,
			rule_group_id, endpoint_url, priority_band, cred_kind, access_key_id, secret_key, role_arn, external_id,
			max_policy_size, monitor_only, log_enabled, log_queue_url, account_id, paused, generation, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, 1, $21, $21)
			RETURNING id`,
			v.OrgID, v.Nickname, v.Provider, v.Policy, v.Note, v.Region,
			v.RuleGroupID, v.EndpointURL, v.PriorityBand, v.CredKind, v.AccessKeyID, nullBytes(v.SecretKey), v.RoleARN, v.ExternalID,
			int64(v.MaxPolicySize), v.MonitorOnly, v.LogEnabled, v.LogQueueURL, v.AccountID, v.Paused, now).Scan(&v.ID)
		return d.deviceWriteError(err, v)
	})
	if err != nil {
		return store.Device{}, fmt.Errorf("creating device %q: %w", v.Nickname, err)
	}
	v.Generation = 1
	v.CreatedAt = fromNanos(now)
	v.UpdatedAt = v.CreatedAt
	return v, nil
}

// deviceWriteError names what a failed insert or update of a device ran
// into.
func (d *DB) deviceWriteError(err error, v store.Device) error {
	switch {
	case isUnique(err):
		return fmt.Errorf("a device of that nickname exists: %w", store.ErrConflict)
	case isForeignKey(err):
		// The policy was deleted after policyExists saw it.
		return fmt.Errorf("policy %q: %w", v.Policy, store.ErrNotFound)
	}
	return err
}

// UpdateDevice stores every field of v (found by v.ID, or by its nickname
// when v.ID is 0, in v.OrgID) and bumps Generation. With v.Generation > 0
// the update happens only if that is still the stored generation.
func (d *DB) UpdateDevice(ctx context.Context, v store.Device) (store.Device, error) {
	now := d.nowNanos()
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		if v.ID == 0 {
			err := tx.QueryRowContext(ctx, `SELECT id FROM devices WHERE org_id = $1 AND nickname = $2`, v.OrgID, v.Nickname).Scan(&v.ID)
			if err != nil {
				return notFound(err)
			}
		}
		var stored int64
		err := tx.QueryRowContext(ctx, `SELECT generation FROM devices WHERE id = $1 AND org_id = $2`+d.forUpdate(), v.ID, v.OrgID).Scan(&stored)
		if err != nil {
			return notFound(err)
		}
		if v.Generation > 0 && v.Generation != stored {
			return fmt.Errorf("it was changed since generation %d was read (now %d): %w", v.Generation, stored, store.ErrConflict)
		}
		if err := policyExists(ctx, tx, v.OrgID, v.Policy); err != nil {
			return err
		}
		var created int64
		err = tx.QueryRowContext(ctx, `UPDATE devices SET nickname = $3, provider = $4, policy = $5, note = $6, region = $7,
			rule_group_id = $8, endpoint_url = $9, priority_band = $10, cred_kind = $11, access_key_id = $12, secret_key = $13,
			role_arn = $14, external_id = $15, max_policy_size = $16, monitor_only = $17, log_enabled = $18,
			log_queue_url = $19, account_id = $20, paused = $21, generation = generation + 1, updated_at = $22
			WHERE id = $1 AND org_id = $2 AND generation = $23
			RETURNING generation, created_at`,
			v.ID, v.OrgID, v.Nickname, v.Provider, v.Policy, v.Note, v.Region,
			v.RuleGroupID, v.EndpointURL, v.PriorityBand, v.CredKind, v.AccessKeyID, nullBytes(v.SecretKey),
			v.RoleARN, v.ExternalID, int64(v.MaxPolicySize), v.MonitorOnly, v.LogEnabled,
			v.LogQueueURL, v.AccountID, v.Paused, now, stored).Scan(&v.Generation, &created)
		if errors.Is(err, sql.ErrNoRows) {
			// The row is locked since it was read, so this cannot
			// happen; the condition stays so that a stale write never
			// passes whatever the isolation.
			return fmt.Errorf("it was changed concurrently: %w", store.ErrConflict)
		}
		if err != nil {
			return d.deviceWriteError(err, v)
		}
		v.CreatedAt = fromNanos(created)
		return nil
	})
	if err != nil {
		return store.Device{}, fmt.Errorf("updating device %q: %w", v.Nickname, err)
	}
	v.UpdatedAt = fromNanos(now)
	return v, nil
}

// SetAccount records the device's learned account. It leaves Generation
// alone: the account follows from the settings, it is not one of them.
func (d *DB) SetAccount(ctx context.Context, id int64, account string) error {
	res, err := d.db.ExecContext(ctx, `UPDATE devices SET account_id = $2 WHERE id = $1`, id, account)
	if err == nil {
		err = checkAffected(res)
	}
	if err != nil {
		return fmt.Errorf("recording the account of device %d: %w", id, err)
	}
	return nil
}

// DeleteDevice deletes a device; its status, runs and fwsync state go
// with it (ON DELETE CASCADE).
func (d *DB) DeleteDevice(ctx context.Context, id int64) error {
	res, err := d.db.ExecContext(ctx, `DELETE FROM devices WHERE id = $1`, id)
	if err == nil {
		err = checkAffected(res)
	}
	if err != nil {
		return fmt.Errorf("deleting device %d: %w", id, err)
	}
	return nil
}
