package scheduler

import (
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

func TestDue(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	synced := store.Status{State: store.StateInSync, SyncedGeneration: 3, SyncedPolicyVersion: 5, LastSyncAt: now.Add(-time.Minute), PlanHash: "h"}
	last := &attempt{generation: 3, policyVersion: 5, feedEpoch: 2}
	with := func(f func(*dueInput)) dueInput {
		in := dueInput{Device: store.Device{Generation: 3}, Status: synced, PolicyVersion: 5, FeedEpoch: 2, Last: last, Now: now, Reconcile: 15 * time.Minute}
		f(&in)
		return in
	}
	tests := []struct {
		name string
		in   dueInput
		want string // "" for not due
	}{
		{"nothing changed", with(func(*dueInput) {}), ""},
		{"first sight", with(func(in *dueInput) { in.Last = nil }), TriggerStart},
		{"device edited", with(func(in *dueInput) { in.Device.Generation = 4 }), TriggerDevice},
		{"policy edited", with(func(in *dueInput) { in.PolicyVersion = 6 }), TriggerPolicy},
		{"feed changed", with(func(in *dueInput) { in.FeedEpoch = 3 }), TriggerFeed},
		{"reconcile", with(func(in *dueInput) { in.Status.LastSyncAt = now.Add(-15 * time.Minute) }), TriggerReconcile},
		{"sync now", with(func(in *dueInput) { in.Status.SyncRequested = true }), TriggerManual},
		{"running", with(func(in *dueInput) { in.Running, in.Status.SyncRequested = true, true }), ""},
		{"paused", with(func(in *dueInput) { in.Device.Paused, in.Device.Generation = true, 9 }), ""},
		{"unpaused", with(func(in *dueInput) { in.Status.State = store.StatePaused }), TriggerDevice},
		{"stopped half way", with(func(in *dueInput) { in.Status.State = store.StateSyncing }), TriggerResume},
		{"hard error waits", with(func(in *dueInput) {
			in.Status.State, in.Status.ErrorHard = store.StateError, true
			in.Device.Generation, in.Last = 4, &attempt{generation: 4, policyVersion: 5, feedEpoch: 2}
		}), ""},
		{"hard error, edited since", with(func(in *dueInput) {
			in.Status.State, in.Status.ErrorHard = store.StateError, true
			in.Device.Generation, in.Last = 5, &attempt{generation: 4, policyVersion: 5, feedEpoch: 2}
		}), TriggerDevice},
		{"hard error, policy edited since", with(func(in *dueInput) {
			in.Status.State, in.Status.ErrorHard, in.PolicyVersion = store.StateError, true, 6
		}), TriggerPolicy},
		{"hard error, sync now", with(func(in *dueInput) {
			in.Status.State, in.Status.ErrorHard, in.Status.SyncRequested = store.StateError, true, true
		}), TriggerManual},
		{"hard error after a restart, nothing changed", with(func(in *dueInput) {
			in.Status.State, in.Status.ErrorHard, in.Last = store.StateError, true, nil
		}), ""},
		{"hard error after a restart, edited since the last success", with(func(in *dueInput) {
			in.Status.State, in.Status.ErrorHard, in.Last, in.Device.Generation = store.StateError, true, nil, 4
		}), TriggerDevice},
		{"soft error before its time", with(func(in *dueInput) {
			in.Status.State, in.Status.NextAttempt = store.StateError, now.Add(time.Second)
		}), ""},
		{"soft error at its time", with(func(in *dueInput) {
			in.Status.State, in.Status.NextAttempt = store.StateError, now
		}), TriggerRetry},
		{"soft error, edited since", with(func(in *dueInput) {
			in.Status.State, in.Status.NextAttempt, in.Device.Generation = store.StateError, now.Add(time.Hour), 4
		}), TriggerDevice},
		{"soft error after a restart", with(func(in *dueInput) {
			in.Status.State, in.Status.NextAttempt, in.Last = store.StateError, now.Add(-time.Second), nil
		}), TriggerRetry},
		{"pending, never synced", with(func(in *dueInput) { in.Status, in.Last = store.Status{State: store.StatePending}, nil }), TriggerStart},
	}
	for _, tc := range tests {
		got, ok := due(tc.in)
		if ok != (tc.want != "") || got != tc.want && ok {
			t.Errorf("%s: due=%v trigger=%q, want %q", tc.name, ok, got, tc.want)
		}
	}
}

func TestSkippable(t *testing.T) {
	st := store.Status{State: store.StateInSync, SyncedGeneration: 2, PlanHash: "h"}
	d := store.Device{Generation: 2}
	for trigger, want := range map[string]bool{TriggerPolicy: true, TriggerFeed: true, TriggerStart: true,
		TriggerReconcile: false, TriggerManual: false, TriggerDevice: false, TriggerRetry: false, TriggerResume: false} {
		if got := skippable(trigger, d, st); got != want {
			t.Errorf("%s: %v", trigger, got)
		}
	}
	if skippable(TriggerPolicy, store.Device{Generation: 3}, st) {
		t.Error("skipped although the device changed")
	}
	if skippable(TriggerFeed, d, store.Status{State: store.StateError, SyncedGeneration: 2, PlanHash: "h"}) {
		t.Error("skipped although the device is in error")
	}
}

func TestAllowShrink(t *testing.T) {
	synced := store.Status{State: store.StateInSync, SyncedGeneration: 2, SyncedPolicyVersion: 7}
	refused := synced
	refused.State, refused.Error = store.StateError, "the new plan holds 1 domains where 13 are deployed"+shrinkOverride
	d := store.Device{Generation: 2}
	for _, tc := range []struct {
		name    string
		trigger string
		d       store.Device
		version int64
		st      store.Status
		want    bool
	}{
		{"device edited", TriggerDevice, store.Device{Generation: 3}, 7, synced, true},
		{"policy edited", TriggerPolicy, d, 8, synced, true},
		{"edit resumed", TriggerResume, d, 8, synced, true},
		{"edit retried", TriggerRetry, store.Device{Generation: 3}, 7, refused, true},
		{"sync now after the guard", TriggerManual, d, 7, refused, true},
		{"sync now after something else", TriggerManual, d, 7, store.Status{SyncedGeneration: 2, SyncedPolicyVersion: 7, Error: "access denied"}, false},
		{"a source shrank", TriggerFeed, d, 7, synced, false},
		{"reconcile", TriggerReconcile, d, 7, synced, false},
		{"retry of a source's shrink", TriggerRetry, d, 7, refused, false},
	} {
		if got := allowShrink(tc.trigger, tc.d, tc.version, tc.st); got != tc.want {
			t.Errorf("%s: %v", tc.name, got)
		}
	}
}
