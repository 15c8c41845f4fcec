package scheduler

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/emulator"
	"github.com/rpzfw/rpzfw/internal/store"
)

// slowEnv is an env whose rule writes are slow, so that a sync is caught
// running.
func slowEnv(t *testing.T) (*env, store.Device) {
	e := newEnv(t)
	e.writeFile("zone.rpz", zone)
	e.createPolicy("p", policyDoc)
	group := e.ruleGroup("g")
	e.emu.SetFaults(emulator.Faults{Ops: map[string]emulator.OpFault{"CreateFirewallRule": {Latency: emulator.Duration(300 * time.Millisecond)}}})
	return e, e.createDevice("edge", "p", group)
}

// Shutdown lets a running sync finish when it has the time.
func TestShutdownLetsASyncFinish(t *testing.T) {
	e, d := slowEnv(t)
	s, err := New(e.config("a", nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(d, "syncing", func(st store.Status) bool { return st.State == store.StateSyncing })
	ctx, cancel := context.WithTimeout(e.ctx, 60*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.store.GetStatus(e.ctx, d.ID); st.State != store.StateInSync {
		t.Fatalf("after shutdown: %s %q", st.State, st.Error)
	}
	d, _ = e.store.DeviceByID(e.ctx, d.ID)
	if holder, _, _ := e.store.LeaseHolder(e.ctx, s.leaseKey(d)); holder != "" {
		t.Errorf("the lease is still held by %q", holder)
	}
}

// Shutdown out of time interrupts the sync; the device stays "syncing" so
// that the next holder resumes it, and the run says so.
func TestShutdownOutOfTimeInterrupts(t *testing.T) {
	e, d := slowEnv(t)
	s, err := New(e.config("a", nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(d, "syncing", func(st store.Status) bool { return st.State == store.StateSyncing })
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("shutdown: %v", err)
	}
	st, _ := e.store.GetStatus(e.ctx, d.ID)
	rs := runs(e, d)
	if st.State != store.StateSyncing || len(rs) != 1 || !strings.HasPrefix(rs[0].Error, "interrupted") {
		t.Fatalf("state %s, runs:%s", st.State, describeRuns(rs))
	}
	// The next instance resumes it.
	e.reg = nil
	e.start(func(c *Config) { c.Instance = "b" })
	e.waitStatus(d, "resumed", inSync)
	if r := runs(e, d)[0]; r.Trigger != TriggerResume || r.Instance != "b" {
		t.Errorf("runs:%s", describeRuns(runs(e, d)))
	}
}
