package test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/route53resolver/types"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/emulator"
	"github.com/rpzfw/rpzfw/internal/fwsync"
	"github.com/rpzfw/rpzfw/internal/scheduler"
)

// TestSyncErrorsAreTyped: a real AccessDeniedException and a real
// ThrottlingException (past the SDK's retries) from the emulator, at the
// start of a sync and in the middle of one, come back from Sync as a
// *fwsync.HardError and a *fwsync.SoftError, still carrying the SDK's
// typed exception, and the service's scheduler classes them so.
func TestSyncErrorsAreTyped(t *testing.T) {
	tests := []struct {
		name  string
		op    string
		fault emulator.OpFault
		kind  fwsync.Kind
		class scheduler.Class
		is    func(error) bool
	}{
		{"denied reading rules", "ListFirewallRules", emulator.OpFault{DenyCount: 1}, fwsync.Hard, scheduler.Hard, isErr[*types.AccessDeniedException]},
		{"denied creating a list", "CreateFirewallDomainList", emulator.OpFault{DenyCount: 1}, fwsync.Hard, scheduler.Hard, isErr[*types.AccessDeniedException]},
		{"throttled reading rules", "ListFirewallRules", emulator.OpFault{ThrottleCount: 50}, fwsync.Soft, scheduler.Soft, isErr[*types.ThrottlingException]},
		{"throttled updating a list", "UpdateFirewallDomains", emulator.OpFault{ThrottleCount: 50}, fwsync.Soft, scheduler.Soft, isErr[*types.ThrottlingException]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newSyncEnv(t, emulator.Config{})
			env.e.SetFaults(emulator.Faults{Ops: map[string]emulator.OpFault{tc.op: tc.fault}})
			p := randomPolicy(61, "p0", 1)
			_, err := env.syncer(t, syncOpts{}).Sync(context.Background(), p.compileTo(t), compile.DefaultMaxDomains)
			if err == nil {
				t.Fatal("the fault did not stop the sync")
			}
			if !tc.is(err) {
				t.Fatalf("the SDK's typed exception is lost: %v", err)
			}
			var hard *fwsync.HardError
			var soft *fwsync.SoftError
			if got := fwsync.KindOf(err); got != tc.kind || errors.As(err, &hard) != (tc.kind == fwsync.Hard) || errors.As(err, &soft) != (tc.kind == fwsync.Soft) {
				t.Fatalf("%v: kind %s (hard %v, soft %v), want %s", err, got, hard != nil, soft != nil, tc.kind)
			}
			if got := scheduler.Classify(err); got != tc.class {
				t.Fatalf("the scheduler classes %v as %s, want %s", err, got, tc.class)
			}
			// Once the fault is gone, the next sync gets through.
			env.e.SetFaults(emulator.Faults{})
			res := env.sync(t, p, syncOpts{})
			env.converged(t, res.Compile, p.names)
		})
	}
}

func isErr[T error](err error) bool {
	var t T
	return errors.As(err, &t)
}
