package scheduler

import (
	"context"
	"errors"
	"fmt"

	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/fwsync"
	"github.com/rpzfw/rpzfw/internal/store"
)

// Remove deletes d: it first removes what rpzfw owns in d's rule group
// (as unsync does) unless keepRules, then deletes the device from the
// store.
//
// A sync of d running here is interrupted (it stops between two calls,
// which is safe) and waited for; none starts until Remove returns. When
// another instance holds d's lease, the unsync runs from here all the
// same: the store holds d's sync state, and a removal should not wait for
// a lease that may not come. Only if that instance is syncing d right now
// (its state is syncing) does Remove refuse, with store.ErrConflict, since
// that sync could put rules back after the unsync.
func (s *Scheduler) Remove(ctx context.Context, d store.Device, keepRules bool) error {
	s.mu.Lock()
	ds := s.device(d.ID)
	if ds.cancel != nil {
		ds.cancel()
	}
	s.mu.Unlock()
	ds.lock.Lock()
	defer ds.lock.Unlock()
	if !keepRules {
		if err := s.unsync(ctx, d); err != nil {
			return err
		}
	}
	if err := s.cfg.Store.DeleteDevice(ctx, d.ID); err != nil {
		return err
	}
	s.m.syncs.DeletePartialMatch(map[string]string{"device": d.Nickname})
	s.log.Info("removed a device", "device", d.Nickname, "org", d.OrgID, "kept_rules", keepRules)
	s.Wake()
	return nil
}

// unsync removes rpzfw's rules and lists from d's rule group.
func (s *Scheduler) unsync(ctx context.Context, d store.Device) error {
	key := s.leaseKey(d)
	s.mu.Lock()
	g := s.groups[key]
	s.mu.Unlock()
	if g == nil && key != "" {
		holder, until, err := s.cfg.Store.LeaseHolder(ctx, key)
		if err != nil {
			return err
		}
		st, err := s.cfg.Store.GetStatus(ctx, d.ID)
		if err != nil {
			return err
		}
		if holder != "" && holder != s.cfg.Instance && s.cfg.Now().Before(until) && st.State == store.StateSyncing {
			return fmt.Errorf("device %q is being synced by instance %s; delete it again once that sync ends: %w", d.Nickname, holder, store.ErrConflict)
		}
	}
	cl, err := s.conn.Connect(ctx, d)
	if err != nil {
		return err
	}
	cfg := device.SyncerConfig{State: s.cfg.Store.SyncState(d.ID), RateLimit: s.cfg.Rate, Log: s.log.With("org", d.OrgID), PollInitial: s.cfg.SettlePoll}
	if g != nil {
		cfg.Limiter = g.lim
	}
	syncer, err := device.NewSyncer(cl.Resolver, d, cfg)
	if err != nil {
		return err
	}
	res, err := syncer.Unsync(ctx)
	if errors.Is(err, fwsync.ErrRuleGroupNotFound) {
		return nil // nothing left to remove
	}
	if err != nil {
		return fmt.Errorf("removing rpzfw's rules from %s: %w", d.RuleGroupID, err)
	}
	s.log.Info("removed rpzfw's rules from a device's rule group", "device", d.Nickname, "rule_group_id", d.RuleGroupID, "calls", res.TotalCalls())
	return nil
}
