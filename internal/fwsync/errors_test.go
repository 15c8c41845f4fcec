package fwsync

import (
	"errors"
	"strings"
	"testing"
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
			if !strings.HasPrefix(err.Error(), tc.prefix) || strings.Contains(err.Error(), tc.sentinel.Error()) {
				t.Errorf("message changed: %q", err)
			}
		})
	}
}
