package fwsync

import (
	"fmt"
	"testing"
)

func boundNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%06d.example", prefix, i)
	}
	return out
}

// TestPlanBounds: one update per list per 1000 domains gained or lost,
// whatever the totals; creates, deletes and moves counted once each.
func TestPlanBounds(t *testing.T) {
	nx := RuleSpec{Name: "r1", Action: "BLOCK", BlockResponse: "NXDOMAIN", OverrideTTL: -1}
	al := RuleSpec{Name: "r2", Action: "ALLOW", OverrideTTL: -1}
	a, b := boundNames("a", 2500), boundNames("b", 10)
	tests := []struct {
		name           string
		obs            Observed
		want           []DesiredRule
		updates, calls int
	}{
		{"unchanged", Observed{Owned: []OwnedRule{{ListID: "L1", Priority: 1000, Spec: nx, Domains: a}}},
			[]DesiredRule{{Spec: nx, Domains: a}}, 0, 2},
		// One domain into each of two lists: two updates, though only two
		// domains change in all.
		{"one domain into each of two lists", Observed{Owned: []OwnedRule{{ListID: "L1", Priority: 1000, Spec: nx, Domains: a[1:]}, {ListID: "L2", Priority: 2000, Spec: al, Domains: b[1:]}}},
			[]DesiredRule{{Spec: nx, Domains: a}, {Spec: al, Domains: b}}, 2, 2 + 2 + 2},
		// 1001 domains in, 1 out, of one list: two adds and one remove.
		{"adds and removes", Observed{Owned: []OwnedRule{{ListID: "L1", Priority: 1000, Spec: nx, Domains: a[1000:2000]}}},
			[]DesiredRule{{Spec: nx, Domains: append(append([]string{}, a[:1001]...), a[1002:2001]...)}}, 3, 2 + 3 + 1},
		// A new rule: its list made, filled, read once, and the rule made.
		{"new rule", Observed{}, []DesiredRule{{Spec: nx, Domains: a}}, 3, 2 + 3 + 1 + 2},
		// A rule deleted: its list goes with it, no removals.
		{"deleted rule", Observed{Owned: []OwnedRule{{ListID: "L1", Priority: 1000, Spec: nx, Domains: a}, {ListID: "L2", Priority: 2000, Spec: al, Domains: b}}},
			[]DesiredRule{{Spec: nx, Domains: a}}, 0, 2 + 2},
		// A leftover list is deleted.
		{"orphan", Observed{Owned: []OwnedRule{{ListID: "L1", Priority: 1000, Spec: nx, Domains: a}}, Orphans: []OrphanList{{ID: "L9", Name: "x"}}},
			[]DesiredRule{{Spec: nx, Domains: a}}, 0, 2 + 1},
		// An action switch: one rule update.
		{"action switch", Observed{Owned: []OwnedRule{{ListID: "L1", Priority: 1000, Spec: nx, Domains: a}}},
			[]DesiredRule{{Spec: RuleSpec{Name: "r1", Action: "ALERT", OverrideTTL: -1}, Domains: a}}, 0, 2 + 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := MakePlan(tc.obs, tc.want, Options{Band: DefaultBand})
			if err != nil {
				t.Fatal(err)
			}
			if got := PlanBounds(p); got.Updates != tc.updates || got.Calls != tc.calls {
				t.Fatalf("bounds %+v, want updates %d calls %d (steps %d)", got, tc.updates, tc.calls, len(p.Steps))
			}
			r := Result{Plan: p}
			if r.LowerBound() != tc.updates || r.Floor() != tc.calls {
				t.Fatalf("result: lower bound %d floor %d", r.LowerBound(), r.Floor())
			}
		})
	}
}
