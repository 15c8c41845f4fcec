package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/fwsync"
	"github.com/rpzfw/rpzfw/internal/querylog"
	"github.com/rpzfw/rpzfw/internal/store"
)

// start runs d's sync in its own goroutine unless it is running or being
// removed.
func (s *Scheduler) start(g *group, d store.Device, st store.Status, pol store.Policy, trigger string, epoch uint64) {
	s.mu.Lock()
	ds := s.device(d.ID)
	if ds.cancel != nil || !ds.lock.TryLock() {
		s.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(g.ctx)
	ds.cancel, ds.nickname = cancel, d.Nickname
	ds.last = &attempt{generation: d.Generation, policyVersion: pol.Version, feedEpoch: epoch}
	g.running++
	s.syncs.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.syncs.Done()
		defer func() {
			s.mu.Lock()
			ds.cancel = nil
			g.running--
			s.mu.Unlock()
			ds.lock.Unlock()
			cancel()
		}()
		s.runSync(ctx, g, d, st, pol, trigger)
	}()
}

// outcome is what one sync came to.
type outcome struct {
	result  string
	plan    *compile.Plan // the plan deployed (or found deployed)
	hash    string
	res     *fwsync.Result
	vpcs    []string
	vpcRead bool
	calls   map[string]int
	err     error
}

// runSync syncs d and records the run and the status.
func (s *Scheduler) runSync(ctx context.Context, g *group, d store.Device, st store.Status, pol store.Policy, trigger string) {
	log := s.log.With("device", d.Nickname, "org", d.OrgID, "trigger", trigger)
	start := s.cfg.Now()
	syncing := st
	syncing.State, syncing.SyncRequested = store.StateSyncing, false
	if err := s.cfg.Store.PutStatus(ctx, syncing); err != nil {
		if ctx.Err() == nil && !errors.Is(err, store.ErrNotFound) { // not deleted meanwhile
			log.Warn("storing the syncing state failed; not syncing now", "err", err)
		}
		return
	}
	log.Debug("sync starts")
	out := s.attempt(ctx, g, d, st, pol, trigger)
	took := s.cfg.Now().Sub(start)
	// The run is recorded even when the sync was interrupted.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	s.record(wctx, ctx, d, pol, trigger, start, took, out)
}

// attempt compiles d's policy and syncs it, unless the plan is the one
// deployed and the trigger allows skipping.
func (s *Scheduler) attempt(ctx context.Context, g *group, d store.Device, st store.Status, pol store.Policy, trigger string) outcome {
	loaded, err := s.policies.Load(ctx, pol)
	if err != nil {
		return outcome{err: err}
	}
	plan, err := loaded.Compile(device.Settings(d))
	if err != nil {
		return outcome{err: err}
	}
	if hash := device.PlanHash(plan); skippable(trigger, d, st) && hash == st.PlanHash {
		return outcome{result: store.ResultUnchanged, plan: plan, hash: hash}
	}
	cl, err := s.conn.Connect(ctx, d)
	if err != nil {
		return outcome{err: err}
	}
	if trigger == TriggerDevice {
		s.recheckAccount(ctx, d)
	}
	cfg := device.SyncerConfig{State: s.cfg.Store.SyncState(d.ID), Limiter: g.lim, Tuner: g.tuner, Quota: fwsync.ServiceQuotas{API: cl.Quotas},
		Log: s.log.With("org", d.OrgID), PollInitial: s.cfg.SettlePoll, AllowShrink: allowShrink(trigger, d, pol.Version, st)}
	if left, err := device.LeaveOldGroup(ctx, cl.Resolver, d, cfg); err != nil {
		return outcome{err: err}
	} else if left != "" {
		s.log.Info("removed rpzfw's rules from the device's previous rule group", "device", d.Nickname, "rule_group_id", left)
	}
	syncer, err := device.NewSyncer(cl.Resolver, d, cfg)
	if err != nil {
		return outcome{err: err}
	}
	// A hit logged while the sync runs may be read before it ends: the
	// plan about to be deployed is recorded first, so that such a hit finds
	// its entry (the version before stays the nearest for what it held).
	if err := querylog.RecordSync(ctx, s.cfg.Store, d.ID, s.cfg.Now(), device.PlanHash(plan), plan, cfg.State); err != nil {
		s.log.Warn("recording the plan about to be deployed for log attribution failed", "device", d.Nickname, "err", err)
	}
	res, err := syncer.Sync(ctx, loaded.CompileFunc(device.Settings(d)), d.MaxPolicySize)
	out := outcome{res: res, err: err, calls: map[string]int{}}
	if res != nil {
		for op, n := range res.Calls {
			out.calls[op] += n
		}
	}
	if err != nil {
		return out
	}
	out.plan, out.hash, out.result = res.Compile, device.PlanHash(res.Compile), store.ResultOK
	if res.Plan.Unchanged {
		out.result = store.ResultUnchanged
	}
	if err := querylog.RecordSync(ctx, s.cfg.Store, d.ID, s.cfg.Now(), out.hash, res.Compile, cfg.State); err != nil {
		s.log.Warn("recording the deployed plan for log attribution failed; hits until the next sync may lack their source", "device", d.Nickname, "err", err)
	}
	vpcs, n, err := readVPCs(ctx, cl.Resolver, g.lim, d.RuleGroupID)
	out.calls["ListFirewallRuleGroupAssociations"] += n
	if err != nil {
		s.log.Warn("reading the rule group's VPC associations failed; keeping the VPCs read before", "device", d.Nickname, "err", err)
	} else {
		out.vpcs, out.vpcRead = vpcs, true
	}
	return out
}

// AssociationsAPI is the call that reads a rule group's VPCs.
type AssociationsAPI interface {
	ListFirewallRuleGroupAssociations(context.Context, *r53r.ListFirewallRuleGroupAssociationsInput, ...func(*r53r.Options)) (*r53r.ListFirewallRuleGroupAssociationsOutput, error)
}

// readVPCs lists the VPCs the rule group is associated with, paced by lim;
// it returns them and the calls made.
func readVPCs(ctx context.Context, api AssociationsAPI, lim fwsync.Limiter, group string) ([]string, int, error) {
	vpcs := []string{}
	calls := 0
	for token := (*string)(nil); ; {
		if err := lim.Wait(ctx); err != nil {
			return nil, calls, err
		}
		out, err := api.ListFirewallRuleGroupAssociations(ctx, &r53r.ListFirewallRuleGroupAssociationsInput{FirewallRuleGroupId: &group, NextToken: token})
		calls++
		if err != nil {
			return nil, calls, fmt.Errorf("listing the VPC associations of %s: %w", group, err)
		}
		for _, a := range out.FirewallRuleGroupAssociations {
			vpcs = append(vpcs, aws.ToString(a.VpcId))
		}
		if token = out.NextToken; token == nil {
			return vpcs, calls, nil
		}
	}
}

// record stores the run and the device's new status. ctx is for the
// store; runCtx tells whether the sync was interrupted.
func (s *Scheduler) record(ctx, runCtx context.Context, d store.Device, pol store.Policy, trigger string, start time.Time, took time.Duration, out outcome) {
	interrupted := out.err != nil && runCtx.Err() != nil
	run := store.SyncRun{DeviceID: d.ID, Trigger: trigger, StartedAt: start, Took: took, Result: out.result,
		PlanHash: out.hash, Calls: out.calls, Instance: s.cfg.Instance}
	if out.res != nil {
		// A result always carries the plan it carried out, also when the
		// sync failed part-way: its bounds say what the changes cost at
		// least, beside what was spent.
		run.Added, run.Removed = out.res.Plan.Added, out.res.Plan.Removed
		run.UpdatesLowerBound, run.CallsFloor = out.res.LowerBound(), out.res.Floor()
	}
	if out.err != nil {
		run.Result, run.Error = store.ResultError, out.err.Error()
		if interrupted {
			run.Error = "interrupted (shutdown, lost lease or removal); the next holder resumes it: " + run.Error
		}
	}
	if _, err := s.cfg.Store.AddRun(ctx, run); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Warn("recording a sync run failed", "device", d.Nickname, "err", err)
	}
	s.m.syncs.WithLabelValues(d.Nickname, run.Result).Inc()
	s.m.duration.WithLabelValues(run.Result).Observe(took.Seconds())
	for op, n := range out.calls {
		s.m.calls.WithLabelValues(op).Add(float64(n))
	}
	if interrupted {
		return // the state stays "syncing": whoever holds the lease next resumes it
	}
	st, err := s.cfg.Store.GetStatus(ctx, d.ID) // fresh: keeps "sync now" and the log pipeline's fields
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("reading a device's status failed; its sync is not recorded", "device", d.Nickname, "err", err)
		}
		return
	}
	if out.err != nil {
		s.failed(&st, d, out.err)
	} else if err := s.succeeded(&st, d, pol, out); err != nil {
		s.failed(&st, d, err)
	}
	s.putStatus(ctx, d, st)
	if s.cfg.Stored != nil {
		s.cfg.Stored()
	}
}

// succeeded sets the status of a sync that worked.
func (s *Scheduler) succeeded(st *store.Status, d store.Device, pol store.Policy, out outcome) error {
	now := s.cfg.Now()
	summary, err := device.PlanSummary(out.plan)
	if err != nil {
		return err
	}
	if out.hash != st.PlanHash {
		st.PolicyUpdatedAt = now
	}
	st.State, st.Error, st.ErrorHard, st.Retries, st.NextAttempt = store.StateInSync, "", false, 0, time.Time{}
	st.PlanHash, st.PlanDomains, st.PlanTruncated, st.Plan = out.hash, out.plan.DomainCount, out.plan.Truncated, summary
	st.SyncedGeneration, st.SyncedPolicyVersion = d.Generation, pol.Version
	if out.res != nil { // a skipped sync did not look at the firewall
		st.LastSyncAt, st.LastSyncResult = now, out.result
	}
	if out.vpcRead {
		st.VPCs = out.vpcs
	}
	s.log.Info("device in sync", "device", d.Nickname, "result", out.result, "domains", out.plan.DomainCount)
	return nil
}

// failed sets the status of a sync that failed: a soft error is retried
// after a backoff, a hard one waits.
func (s *Scheduler) failed(st *store.Status, d store.Device, err error) {
	now := s.cfg.Now()
	class := Classify(err)
	st.State, st.Error, st.ErrorHard = store.StateError, err.Error(), class == Hard
	if errors.Is(err, fwsync.ErrShrink) {
		st.Error += shrinkOverride
	}
	st.LastSyncAt, st.LastSyncResult = now, store.ResultError
	if class == Hard {
		st.Retries, st.NextAttempt = 0, time.Time{}
		s.log.Warn("sync failed; the device waits for a change or sync now", "device", d.Nickname, "err", err)
		return
	}
	st.Retries++
	st.NextAttempt = now.Add(backoff(st.Retries, s.cfg.BackoffMin, s.cfg.BackoffMax, s.cfg.Rand))
	s.log.Warn("sync failed; retrying later", "device", d.Nickname, "retry", st.Retries, "at", st.NextAttempt, "err", err)
}
