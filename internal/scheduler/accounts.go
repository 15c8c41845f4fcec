package scheduler

import (
	"context"
	"fmt"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// accountTimeout bounds one attempt to learn an account.
const accountTimeout = 30 * time.Second

// withoutAccount looks after a device whose account is not known: it has
// no lease key yet, so any instance may learn its account (the answer is
// the same) or show it paused.
func (s *Scheduler) withoutAccount(ctx, work context.Context, d store.Device, now time.Time) {
	st, err := s.cfg.Store.GetStatus(ctx, d.ID)
	if err != nil {
		return // deleted meanwhile, or the store is away: the next poll sees
	}
	if d.Paused {
		if st.State != store.StatePaused {
			st.State = store.StatePaused
			s.putStatus(ctx, d, st)
		}
		return
	}
	s.mu.Lock()
	ds := s.device(d.ID)
	wait := ds.accountGen == d.Generation && now.Before(ds.accountNext) && !st.SyncRequested
	if ds.resolving || wait {
		s.mu.Unlock()
		return
	}
	ds.resolving = true
	s.syncs.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.syncs.Done()
		s.resolveAccount(work, d, st)
		s.mu.Lock()
		ds.resolving = false
		s.mu.Unlock()
	}()
}

// resolveAccount learns d's account and records it; a failure is shown in
// the device's status and tried again after a backoff (soft) or after the
// device changes or "sync now" (hard).
func (s *Scheduler) resolveAccount(ctx context.Context, d store.Device, st store.Status) {
	actx, cancel := context.WithTimeout(ctx, accountTimeout)
	acct, err := s.conn.Account(actx, d)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if err == nil {
		if err = s.cfg.Store.SetAccount(ctx, d.ID, acct); err == nil {
			s.log.Info("learned a device's account", "device", d.Nickname, "account", acct)
			s.Wake()
			return
		}
	}
	now := s.cfg.Now()
	class := Classify(err)
	wait := s.cfg.BackoffMax
	if class == Soft {
		st.Retries++
		wait = backoff(st.Retries, s.cfg.BackoffMin, s.cfg.BackoffMax, s.cfg.Rand)
		st.NextAttempt = now.Add(wait)
	}
	s.mu.Lock()
	ds := s.device(d.ID)
	ds.accountGen, ds.accountNext = d.Generation, now.Add(wait)
	s.mu.Unlock()
	st.State, st.Error, st.ErrorHard, st.SyncRequested = store.StateError, fmt.Sprintf("learning the device's AWS account: %v", err), class == Hard, false
	s.putStatus(ctx, d, st)
	s.log.Warn("learning a device's account failed", "device", d.Nickname, "class", class, "err", err)
}

// recheckAccount learns the account again after the device changed (its
// credentials may now be another account's) and records a new one; the
// next poll puts the device under its new lease.
func (s *Scheduler) recheckAccount(ctx context.Context, d store.Device) {
	actx, cancel := context.WithTimeout(ctx, accountTimeout)
	defer cancel()
	acct, err := s.conn.Account(actx, d)
	if err != nil || acct == d.AccountID {
		return // the sync that follows reports a credentials problem
	}
	if err := s.cfg.Store.SetAccount(ctx, d.ID, acct); err != nil {
		s.log.Warn("recording a device's new account failed", "device", d.Nickname, "err", err)
		return
	}
	s.log.Info("a device's account changed", "device", d.Nickname, "from", d.AccountID, "to", acct)
}
