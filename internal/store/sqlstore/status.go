package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// maxRuns bounds ListRuns: the history is for reading, not for export.
const maxRuns = 1000

// GetStatus returns the device's status, or a pending one when none is
// stored yet.
func (d *DB) GetStatus(ctx context.Context, deviceID int64) (store.Status, error) {
	var (
		s                                      store.Status
		next, policyAt, syncAt, logAt, updated int64
		retries, planDomains, planTruncated    int64
		plan                                   sql.NullString
		vpcs                                   string
	)
	err := d.db.QueryRowContext(ctx, `SELECT state, error_reason, error_hard, sync_requested, retries, next_attempt,
		policy_updated_at, plan_hash, plan_domains, plan_truncated, plan, synced_generation, synced_policy_version,
		last_sync_at, last_sync_result, last_log_retrieved, vpcs, updated_at
		FROM device_status WHERE device_id = $1`, deviceID).Scan(
		&s.State, &s.Error, &s.ErrorHard, &s.SyncRequested, &retries, &next,
		&policyAt, &s.PlanHash, &planDomains, &planTruncated, &plan, &s.SyncedGeneration, &s.SyncedPolicyVersion,
		&syncAt, &s.LastSyncResult, &logAt, &vpcs, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		if err := deviceExists(ctx, d.db, deviceID); err != nil {
			return store.Status{}, fmt.Errorf("reading status: %w", err)
		}
		return store.Status{DeviceID: deviceID, State: store.StatePending}, nil
	}
	if err != nil {
		return store.Status{}, fmt.Errorf("reading the status of device %d: %w", deviceID, err)
	}
	s.DeviceID = deviceID
	s.Retries = int(retries)
	s.PlanDomains = int(planDomains)
	s.PlanTruncated = int(planTruncated)
	if plan.Valid {
		s.Plan = []byte(plan.String)
	}
	if err := json.Unmarshal([]byte(vpcs), &s.VPCs); err != nil {
		return store.Status{}, fmt.Errorf("reading the status of device %d: its VPC list is damaged: %w", deviceID, err)
	}
	s.NextAttempt = fromNanos(next)
	s.PolicyUpdatedAt = fromNanos(policyAt)
	s.LastSyncAt = fromNanos(syncAt)
	s.LastLogRetrieved = fromNanos(logAt)
	s.UpdatedAt = fromNanos(updated)
	return s, nil
}

// PutStatus stores the device's status, replacing what was there.
// UpdatedAt is set by the store.
func (d *DB) PutStatus(ctx context.Context, s store.Status) error {
	vpcs := s.VPCs
	if vpcs == nil {
		vpcs = []string{}
	}
	vj, err := json.Marshal(vpcs)
	if err != nil {
		return fmt.Errorf("storing the status of device %d: %w", s.DeviceID, err)
	}
	var plan any
	if s.Plan != nil {
		plan = string(s.Plan)
	}
	_, err = d.db.ExecContext(ctx, `INSERT INTO device_status (device_id, state, error_reason, error_hard,
		sync_requested, retries, next_attempt, policy_updated_at, plan_hash, plan_domains, plan_truncated, plan,
		synced_generation, synced_policy_version, last_sync_at, last_sync_result, last_log_retrieved, vpcs, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
		ON CONFLICT (device_id) DO UPDATE SET state = excluded.state, error_reason = excluded.error_reason,
		error_hard = excluded.error_hard, sync_requested = excluded.sync_requested, retries = excluded.retries,
		next_attempt = excluded.next_attempt, policy_updated_at = excluded.policy_updated_at,
		plan_hash = excluded.plan_hash, plan_domains = excluded.plan_domains, plan_truncated = excluded.plan_truncated,
		plan = excluded.plan, synced_generation = excluded.synced_generation,
		synced_policy_version = excluded.synced_policy_version, last_sync_at = excluded.last_sync_at,
		last_sync_result = excluded.last_sync_result, last_log_retrieved = excluded.last_log_retrieved,
		vpcs = excluded.vpcs, updated_at = excluded.updated_at`,
		s.DeviceID, s.State, s.Error, s.ErrorHard,
		s.SyncRequested, int64(s.Retries), nanos(s.NextAttempt), nanos(s.PolicyUpdatedAt), s.PlanHash,
		int64(s.PlanDomains), int64(s.PlanTruncated), plan,
		s.SyncedGeneration, s.SyncedPolicyVersion, nanos(s.LastSyncAt), s.LastSyncResult, nanos(s.LastLogRetrieved),
		string(vj), d.nowNanos())
	if isForeignKey(err) {
		err = fmt.Errorf("device %d: %w", s.DeviceID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("storing the status of device %d: %w", s.DeviceID, err)
	}
	return nil
}

// RequestSync marks the device for a sync now and lifts a hard error's
// wait, creating a pending status if there is none.
func (d *DB) RequestSync(ctx context.Context, deviceID int64) error {
	_, err := d.db.ExecContext(ctx, `INSERT INTO device_status (device_id, state, sync_requested, error_hard, updated_at)
		VALUES ($1, $2, TRUE, FALSE, $3)
		ON CONFLICT (device_id) DO UPDATE SET sync_requested = TRUE, error_hard = FALSE, updated_at = excluded.updated_at`,
		deviceID, store.StatePending, d.nowNanos())
	if isForeignKey(err) {
		err = fmt.Errorf("device %d: %w", deviceID, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("requesting a sync: %w", err)
	}
	return nil
}

// AddRun records a sync run.
func (d *DB) AddRun(ctx context.Context, r store.SyncRun) (store.SyncRun, error) {
	calls := r.Calls
	if calls == nil {
		calls = map[string]int{}
	}
	cj, err := json.Marshal(calls)
	if err != nil {
		return store.SyncRun{}, fmt.Errorf("recording a run of device %d: %w", r.DeviceID, err)
	}
	err = d.db.QueryRowContext(ctx, `INSERT INTO sync_runs (device_id, cause, started_at, took_ns, result,
		error_reason, plan_hash, calls, added, removed, updates_lower_bound, calls_floor, instance)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`,
		r.DeviceID, r.Trigger, nanos(r.StartedAt), int64(r.Took), r.Result,
		r.Error, r.PlanHash, string(cj), int64(r.Added), int64(r.Removed),
		int64(r.UpdatesLowerBound), int64(r.CallsFloor), r.Instance).Scan(&r.ID)
	if isForeignKey(err) {
		err = fmt.Errorf("device %d: %w", r.DeviceID, store.ErrNotFound)
	}
	if err != nil {
		return store.SyncRun{}, fmt.Errorf("recording a run of device %d: %w", r.DeviceID, err)
	}
	return r, nil
}

// ListRuns returns the device's newest runs first, at most limit of them
// (and never more than 1000; limit <= 0 means that many).
func (d *DB) ListRuns(ctx context.Context, deviceID int64, limit int) ([]store.SyncRun, error) {
	if limit <= 0 || limit > maxRuns {
		limit = maxRuns
	}
	rows, err := d.db.QueryContext(ctx, `SELECT id, device_id, cause, started_at, took_ns, result, error_reason,
		plan_hash, calls, added, removed, updates_lower_bound, calls_floor, instance
		FROM sync_runs WHERE device_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2`, deviceID, int64(limit))
	if err != nil {
		return nil, fmt.Errorf("listing the runs of device %d: %w", deviceID, err)
	}
	defer rows.Close()
	var out []store.SyncRun
	for rows.Next() {
		var (
			r                 store.SyncRun
			started, took     int64
			added, removed    int64
			lowerBound, floor int64
			calls             string
		)
		if err := rows.Scan(&r.ID, &r.DeviceID, &r.Trigger, &started, &took, &r.Result, &r.Error,
			&r.PlanHash, &calls, &added, &removed, &lowerBound, &floor, &r.Instance); err != nil {
			return nil, fmt.Errorf("listing the runs of device %d: %w", deviceID, err)
		}
		if err := json.Unmarshal([]byte(calls), &r.Calls); err != nil {
			return nil, fmt.Errorf("listing the runs of device %d: run %d's calls are damaged: %w", deviceID, r.ID, err)
		}
		r.StartedAt = fromNanos(started)
		r.Took = time.Duration(took)
		r.Added, r.Removed = int(added), int(removed)
		r.UpdatesLowerBound, r.CallsFloor = int(lowerBound), int(floor)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing the runs of device %d: %w", deviceID, err)
	}
	if len(out) == 0 {
		// No runs yet, or no such device: only the second is an error.
		if err := deviceExists(ctx, d.db, deviceID); err != nil {
			return nil, fmt.Errorf("listing runs: %w", err)
		}
	}
	return out, nil
}
