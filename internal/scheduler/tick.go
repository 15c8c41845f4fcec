package scheduler

import (
	"context"
	"errors"
	"time"

	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/fwsync"
	"github.com/rpzfw/rpzfw/internal/store"
)

// group is a lease key this instance holds: its devices' syncs share its
// limiter and end with its context.
type group struct {
	key       string
	lim       fwsync.Limiter
	tuner     *fwsync.SettleTuner // the account's settle time, learned by all its devices' syncs
	ctx       context.Context
	cancel    context.CancelFunc
	heldUntil time.Time
	running   int
}

// leaseKey names the lease and rate budget of d: its endpoint, account and
// region ("" until the account is known).
func (s *Scheduler) leaseKey(d store.Device) string {
	if d.AccountID == "" {
		return ""
	}
	endpoint := d.EndpointURL
	if d.Region == device.SandboxRegion {
		endpoint = s.cfg.SandboxEndpoint
	}
	return endpoint + "|" + d.AccountID + "|" + d.Region
}

// tick is one poll: renew leases, read the devices, take free leases, and
// start the syncs that are due.
func (s *Scheduler) tick(ctx, work context.Context) {
	now := s.cfg.Now()
	s.renew(ctx, now)
	devs, err := s.cfg.Store.AllDevices(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("reading the devices failed; trying again at the next poll", "err", err)
		}
		return
	}
	byKey := map[string][]store.Device{}
	for _, d := range devs {
		if key := s.leaseKey(d); key != "" {
			byKey[key] = append(byKey[key], d)
			continue
		}
		s.withoutAccount(ctx, work, d, now)
	}
	s.acquire(ctx, work, now, byKey)
	s.release(ctx, byKey)
	counts := map[string]int{}
	inUse := map[device.PolicyKey]bool{}
	policies := map[device.PolicyKey]store.Policy{}
	for key, ds := range byKey {
		s.mu.Lock()
		g := s.groups[key]
		s.mu.Unlock()
		if g == nil {
			continue
		}
		for _, d := range ds {
			inUse[device.PolicyKey{OrgID: d.OrgID, Name: d.Policy}] = true
			if state := s.consider(ctx, g, d, policies, now); state != "" {
				counts[state]++
			}
		}
	}
	s.forgetGone(devs)
	s.policies.Forget(func(org int64, name string) bool { return inUse[device.PolicyKey{OrgID: org, Name: name}] })
	s.m.setDevices(counts)
}

// renew renews every lease held. A lease another instance took is dropped
// at once; one that could not be renewed (the store did not answer) is
// dropped when less than half its time is left, so that its syncs stop
// well before another instance may take it over.
func (s *Scheduler) renew(ctx context.Context, now time.Time) {
	s.mu.Lock()
	held := make([]*group, 0, len(s.groups))
	for _, g := range s.groups {
		held = append(held, g)
	}
	s.mu.Unlock()
	ttl := s.cfg.LeaseTTL
	for _, g := range held {
		ok, err := s.cfg.Store.AcquireLease(ctx, g.key, s.cfg.Instance, now, ttl)
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		switch {
		case err == nil && ok:
			g.heldUntil = now.Add(ttl)
		case err == nil:
			s.drop(g, "another instance holds the lease now")
		case !now.Before(g.heldUntil.Add(-ttl / 2)):
			s.drop(g, "the lease could not be renewed in time: "+err.Error())
		default:
			s.log.Warn("renewing a lease failed; trying again at the next poll", "key", g.key, "err", err)
		}
		s.mu.Unlock()
	}
}

// drop gives up a group: its running syncs are interrupted (they stop
// between two API calls, which is safe). Caller holds s.mu.
func (s *Scheduler) drop(g *group, why string) {
	s.log.Warn("lost a lease; interrupting its syncs", "key", g.key, "why", why, "running", g.running)
	g.cancel()
	delete(s.groups, g.key)
	s.m.leases.Set(float64(len(s.groups)))
}

// acquire tries to take the lease of every key not held.
func (s *Scheduler) acquire(ctx, work context.Context, now time.Time, byKey map[string][]store.Device) {
	for key := range byKey {
		s.mu.Lock()
		_, held := s.groups[key]
		s.mu.Unlock()
		if held {
			continue
		}
		ok, err := s.cfg.Store.AcquireLease(ctx, key, s.cfg.Instance, now, s.cfg.LeaseTTL)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("taking a lease failed; trying again at the next poll", "key", key, "err", err)
			}
			continue
		}
		if !ok {
			continue
		}
		gctx, cancel := context.WithCancel(work)
		s.mu.Lock()
		s.groups[key] = &group{key: key, lim: fwsync.NewLimiter(s.cfg.Rate), tuner: fwsync.NewSettleTuner(), ctx: gctx, cancel: cancel, heldUntil: now.Add(s.cfg.LeaseTTL)}
		s.m.leases.Set(float64(len(s.groups)))
		s.mu.Unlock()
		s.log.Info("took a lease", "key", key, "devices", len(byKey[key]))
	}
}

// release gives up the leases of keys that no device has any more.
func (s *Scheduler) release(ctx context.Context, byKey map[string][]store.Device) {
	s.mu.Lock()
	var idle []*group
	for key, g := range s.groups {
		if _, used := byKey[key]; !used && g.running == 0 {
			idle = append(idle, g)
			g.cancel()
			delete(s.groups, key)
		}
	}
	s.m.leases.Set(float64(len(s.groups)))
	s.mu.Unlock()
	for _, g := range idle {
		if err := s.cfg.Store.ReleaseLease(ctx, g.key, s.cfg.Instance); err != nil && ctx.Err() == nil {
			s.log.Warn("releasing a lease failed; it expires by itself", "key", g.key, "err", err)
		}
	}
}

// consider starts d's sync when it is due, and returns d's state.
func (s *Scheduler) consider(ctx context.Context, g *group, d store.Device, policies map[device.PolicyKey]store.Policy, now time.Time) string {
	st, err := s.cfg.Store.GetStatus(ctx, d.ID)
	if err != nil {
		if ctx.Err() == nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("reading a device's status failed", "device", d.Nickname, "err", err)
		}
		return ""
	}
	s.mu.Lock()
	ds := s.device(d.ID)
	running, last := ds.cancel != nil, ds.last
	pk := device.PolicyKey{OrgID: d.OrgID, Name: d.Policy}
	epoch := s.feedEpoch[pk]
	s.mu.Unlock()
	if d.Paused {
		if !running && st.State != store.StatePaused {
			st.State = store.StatePaused
			s.putStatus(ctx, d, st)
		}
		return store.StatePaused
	}
	pol, ok := policies[pk]
	if !ok {
		if pol, err = s.cfg.Store.GetPolicy(ctx, d.OrgID, d.Policy); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("reading a device's policy failed", "device", d.Nickname, "policy", d.Policy, "err", err)
			}
			return st.State
		}
		policies[pk] = pol
	}
	trigger, ok := due(dueInput{Device: d, Status: st, PolicyVersion: pol.Version, FeedEpoch: epoch, Last: last,
		Running: running, Now: now, Reconcile: s.cfg.Reconcile})
	if ok {
		s.start(g, d, st, pol, trigger, epoch)
	}
	return st.State
}

// forgetGone drops what is kept about devices that no longer exist.
func (s *Scheduler) forgetGone(devs []store.Device) {
	exists := make(map[int64]bool, len(devs))
	for _, d := range devs {
		exists[d.ID] = true
	}
	// A deleted device's series go, unless another organization has a
	// device of the same nickname.
	names := map[string]bool{}
	for _, d := range devs {
		names[d.Nickname] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, ds := range s.devs {
		if exists[id] || ds.cancel != nil || ds.resolving {
			continue
		}
		if ds.nickname != "" && !names[ds.nickname] {
			s.m.syncs.DeletePartialMatch(map[string]string{"device": ds.nickname})
		}
		delete(s.devs, id)
	}
}

func (s *Scheduler) putStatus(ctx context.Context, d store.Device, st store.Status) {
	if err := s.cfg.Store.PutStatus(ctx, st); err != nil && ctx.Err() == nil {
		s.log.Warn("storing a device's status failed", "device", d.Nickname, "err", err)
	}
}
