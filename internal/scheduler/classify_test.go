package scheduler

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/route53resolver/types"
	"github.com/aws/smithy-go"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/fwsync"
	"github.com/rpzfw/rpzfw/internal/secret"
)

// apiErr wraps an error as the SDK and sync return it.
func apiErr(err error) error {
	return fmt.Errorf("listing the rules of rslvr-frg-1: %w", &smithy.OperationError{ServiceID: "Route53Resolver", OperationName: "ListFirewallRules", Err: err})
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"throttled", apiErr(&types.ThrottlingException{}), Soft},
		{"server error", apiErr(&types.InternalServiceErrorException{}), Soft},
		{"conflict", apiErr(&types.ConflictException{}), Soft},
		{"timeout", fmt.Errorf("sync: %w", context.DeadlineExceeded), Soft},
		{"network", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, Soft},
		{"feed down", fmt.Errorf("x: %w", device.ErrFeedUnavailable), Soft},
		{"unknown", errors.New("something odd"), Soft},
		{"access denied", apiErr(&types.AccessDeniedException{}), Hard},
		{"access denied (typed by sync)", fwsync.Classify(apiErr(&types.AccessDeniedException{})), Hard},
		{"not found", apiErr(&types.ResourceNotFoundException{}), Hard},
		{"quota (API)", apiErr(&types.LimitExceededException{}), Hard},
		{"bad keys", apiErr(&smithy.GenericAPIError{Code: "UnrecognizedClientException"}), Hard},
		{"foreign rule", fmt.Errorf("sync: %w", fwsync.ErrForeignRule), Hard},
		{"band", fwsync.ErrBand, Hard},
		{"shrink guard", fwsync.ErrShrink, Hard},
		{"quota (plan)", fwsync.ErrQuota, Hard},
		{"no rule group", fwsync.ErrRuleGroupNotFound, Hard},
		{"block all", compile.ErrBlockAll, Hard},
		{"policy", fmt.Errorf("x: %w", device.ErrPolicy), Hard},
		{"settings", device.ErrConfig, Hard},
		{"master key", secret.ErrWrongKey, Hard},
	}
	for _, tc := range tests {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	half := func() float64 { return 0.5 }
	zero := func() float64 { return 0 }
	tests := []struct {
		n    int
		rnd  func() float64
		want time.Duration
	}{
		{1, zero, 5 * time.Second},
		{1, half, 7500 * time.Millisecond},
		{2, zero, 10 * time.Second},
		{3, zero, 20 * time.Second},
		{10, zero, 5 * time.Minute},
		{1000, half, 7*time.Minute + 30*time.Second},
	}
	for _, tc := range tests {
		if got := backoff(tc.n, 10*time.Second, 10*time.Minute, tc.rnd); got != tc.want {
			t.Errorf("retry %d: %s, want %s", tc.n, got, tc.want)
		}
	}
}
