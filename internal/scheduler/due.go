package scheduler

import (
	"strings"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// Triggers: why a sync runs (store.SyncRun.Trigger).
const (
	TriggerManual    = "manual"    // "sync now"
	TriggerDevice    = "device"    // the device's settings changed
	TriggerPolicy    = "policy"    // its policy changed
	TriggerFeed      = "feed"      // a source of its policy changed
	TriggerReconcile = "reconcile" // the reconcile interval passed
	TriggerRetry     = "retry"     // a soft error's backoff ended
	TriggerStart     = "start"     // first seen by this instance
	TriggerResume    = "resume"    // a sync that stopped half way
)

// attempt is what this instance last tried for a device: the settings,
// policy version and feed epoch it compiled from.
type attempt struct {
	generation, policyVersion int64
	feedEpoch                 uint64
}

// dueInput is everything due looks at; it is pure data, so the rules can be
// tested with a table.
type dueInput struct {
	Device        store.Device
	Status        store.Status
	PolicyVersion int64
	// FeedEpoch counts changes of the policy's sources seen here.
	FeedEpoch uint64
	// Last is this instance's last attempt (nil: none since it started or
	// took the device over).
	Last      *attempt
	Running   bool
	Now       time.Time
	Reconcile time.Duration
}

// due says whether a device should sync now, and why.
//
//   - paused or already running: no;
//   - "sync now": yes;
//   - a sync that stopped half way (state syncing, not running here): yes;
//   - a hard error waits for a change since the failed attempt (after a
//     restart, a change since the last success);
//   - a soft error waits for its backoff, or a change since the attempt;
//   - otherwise: first sight here, a change of settings, policy or
//     sources, or the reconcile interval.
func due(in dueInput) (string, bool) {
	d, st := in.Device, in.Status
	if in.Running || d.Paused {
		return "", false
	}
	if st.SyncRequested {
		return TriggerManual, true
	}
	switch {
	case st.State == store.StateSyncing:
		return TriggerResume, true
	case st.State == store.StateError && st.ErrorHard:
		last := in.Last
		if last == nil {
			last = &attempt{generation: st.SyncedGeneration, policyVersion: st.SyncedPolicyVersion, feedEpoch: in.FeedEpoch}
		}
		return changedSince(in, *last)
	case st.State == store.StateError:
		if in.Last != nil {
			if t, ok := changedSince(in, *in.Last); ok {
				return t, true
			}
		}
		return TriggerRetry, !in.Now.Before(st.NextAttempt)
	case st.State == store.StatePaused:
		return TriggerDevice, true
	}
	if in.Last == nil {
		return TriggerStart, true
	}
	if t, ok := changedSince(in, attempt{generation: st.SyncedGeneration, policyVersion: st.SyncedPolicyVersion, feedEpoch: in.Last.feedEpoch}); ok {
		return t, true
	}
	if in.Reconcile > 0 && !in.Now.Before(st.LastSyncAt.Add(in.Reconcile)) {
		return TriggerReconcile, true
	}
	return "", false
}

// changedSince says what changed since a: the device, its policy, or a
// source of its policy.
func changedSince(in dueInput, a attempt) (string, bool) {
	switch {
	case in.Device.Generation != a.generation:
		return TriggerDevice, true
	case in.PolicyVersion != a.policyVersion:
		return TriggerPolicy, true
	case in.FeedEpoch != a.feedEpoch:
		return TriggerFeed, true
	}
	return "", false
}

// skippable says whether a sync for trigger may be skipped when the
// compiled plan is the one deployed: only when nothing but the plan's
// inputs changed and the firewall was last seen matching. A reconcile,
// "sync now", a retry or a changed device always reaches the firewall.
func skippable(trigger string, d store.Device, st store.Status) bool {
	switch trigger {
	case TriggerPolicy, TriggerFeed, TriggerStart:
		return st.State == store.StateInSync && d.Generation == st.SyncedGeneration && st.PlanHash != ""
	}
	return false
}

// shrinkOverride ends the error of a sync the shrink guard stopped: it says
// how to go ahead, and marks the error for allowShrink.
const shrinkOverride = " [in the service: 'sync now' deploys it all the same]"

// allowShrink says whether a sync may remove more than half of what is
// deployed: when a person changed what the device holds (its settings or
// its policy changed since the last success, whatever the trigger of this
// sync: a retry or a resumed sync carries the edit too), or pressed "sync
// now" after the shrink guard stopped a sync. A shrink from a source
// alone still stops: a broken or empty source is likelier than a policy
// that lost most of itself.
func allowShrink(trigger string, d store.Device, policyVersion int64, st store.Status) bool {
	if d.Generation != st.SyncedGeneration || policyVersion != st.SyncedPolicyVersion {
		return true
	}
	return trigger == TriggerManual && strings.HasSuffix(st.Error, shrinkOverride)
}
