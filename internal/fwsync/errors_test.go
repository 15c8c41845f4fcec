package fwsync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver/types"
	"github.com/aws/smithy-go"
)

// The sentinels let the service tell hard errors apart without changing
// what the command line prints.
func TestErrorsAreMarkedAndKeepTheirMessage(t *testing.T) {
	nx := RuleSpec{Name: "r", Action: "BLOCK", BlockResponse: "NXDOMAIN", OverrideTTL: -1}
	want := []DesiredRule{{Spec: nx, Domains: []string{"a"}}}
	tests := []struct {
		name     string
		obs      Observed
		band     Band
		sentinel error
		prefix   string
	}{
		{"foreign rule", Observed{Foreign: []ForeignRule{{Name: "mine", Priority: 1500, ListID: "L9"}}}, DefaultBand, ErrForeignRule, `rule "mine" (priority 1500, list L9) is not rpzfw's`},
		{"band changed", Observed{Owned: []OwnedRule{{ListID: "L1", Priority: 10, Spec: nx}}}, DefaultBand, ErrBand, `rpzfw's rule "r" has priority 10, outside the band`},
		{"too many rules", Observed{}, Band{Lo: 1, Hi: 1}, ErrBand, "" /* any message */},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			desired := want
			if tc.band.Hi == 1 {
				desired = append(desired, DesiredRule{Spec: nx, Domains: []string{"b"}})
			}
			_, err := MakePlan(tc.obs, desired, Options{Band: tc.band})
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("err %v does not match %v", err, tc.sentinel)
			}
			var hard *HardError
			if !errors.As(err, &hard) {
				t.Errorf("%v is not a *HardError", err)
			}
			if !strings.HasPrefix(err.Error(), tc.prefix) || strings.Contains(err.Error(), tc.sentinel.Error()) {
				t.Errorf("message changed: %q", err)
			}
		})
	}
}

// TestKindOf classifies the SDK's own typed exceptions, as an operation
// returns them (wrapped in smithy.OperationError and the SDK's retry
// errors), and the codes of layers that have no typed exception.
func TestKindOf(t *testing.T) {
	op := func(err error) error {
		return fmt.Errorf("reading domain list L1: %w", &smithy.OperationError{ServiceID: "Route53Resolver", OperationName: "GetFirewallDomainList", Err: err})
	}
	msg := aws.String("m")
	tests := []struct {
		name string
		err  error
		want Kind
	}{
		{"throttling", op(&types.ThrottlingException{Message: msg}), Soft},
		{"throttling, retries used up", op(&retry.MaxAttemptsError{Attempt: 3, Err: &types.ThrottlingException{Message: msg}}), Soft},
		{"server error", op(&types.InternalServiceErrorException{Message: msg}), Soft},
		{"conflict", op(&types.ConflictException{Message: msg}), Soft},
		{"unavailable", op(&types.ResourceUnavailableException{Message: msg}), Soft},
		{"access denied", op(&types.AccessDeniedException{Message: msg}), Hard},
		{"not found", op(&types.ResourceNotFoundException{Message: msg}), Hard},
		{"limit", op(&types.LimitExceededException{Message: msg}), Hard},
		{"service quota", op(&types.ServiceQuotaExceededException{Message: msg}), Hard},
		{"validation", op(&types.ValidationException{Message: msg}), Hard},
		{"invalid parameter", op(&types.InvalidParameterException{Message: msg}), Hard},
		{"bad keys", op(&smithy.GenericAPIError{Code: "UnrecognizedClientException", Fault: smithy.FaultClient}), Hard},
		{"S3 denied", op(&smithy.GenericAPIError{Code: "AccessDenied", Fault: smithy.FaultClient}), Hard},
		{"another service's denial", op(&smithy.GenericAPIError{Code: "AccessDeniedException", Fault: smithy.FaultClient}), Hard},
		{"another service's throttling", op(&smithy.GenericAPIError{Code: "ThrottlingException", Fault: smithy.FaultClient}), Soft},
		{"unknown server fault", op(&smithy.GenericAPIError{Code: "Odd", Fault: smithy.FaultServer}), Soft},
		{"unknown client fault", op(&smithy.GenericAPIError{Code: "Odd", Fault: smithy.FaultClient}), Unknown},
		{"timeout", fmt.Errorf("x: %w", context.DeadlineExceeded), Unknown},
		{"plain", errors.New("odd"), Unknown},
		{"nil", nil, Unknown},
		{"sentinel", mark(ErrBand, errors.New("band")), Hard},
		{"typed soft", &SoftError{Err: errors.New("later")}, Soft},
		{"typed hard in a step", fmt.Errorf("step 1 of 2: %w", &HardError{Err: errors.New("no")}), Hard},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := KindOf(tc.err); got != tc.want {
				t.Fatalf("KindOf = %s, want %s", got, tc.want)
			}
			// Classify types the error, keeping its message and chain.
			c := Classify(tc.err)
			var hard *HardError
			var soft *SoftError
			if got := map[bool]Kind{true: Hard}[errors.As(c, &hard)] + map[bool]Kind{true: Soft}[errors.As(c, &soft)]; got != tc.want {
				t.Fatalf("Classify made a %s error, want %s", got, tc.want)
			}
			if tc.err != nil && (c.Error() != tc.err.Error() || !errors.Is(c, tc.err)) {
				t.Fatalf("Classify changed the error: %q", c)
			}
		})
	}
}
