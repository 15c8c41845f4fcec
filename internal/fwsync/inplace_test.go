package fwsync

import (
	"fmt"
	"slices"
	"testing"

	"github.com/rpzfw/rpzfw/internal/dnsfw"
)

// TestPlanChangesRulesInPlace: a rule whose action and content both change
// is updated in place when no other change touches its names, and replaced
// otherwise; either way every name keeps its old or new outcome after
// every step, with changes in flight taken as landed and not.
func TestPlanChangesRulesInPlace(t *testing.T) {
	allow := RuleSpec{Name: "r-1-allow", Action: "ALLOW", OverrideTTL: -1}
	nx := RuleSpec{Name: "r-2-nxdomain", Action: "BLOCK", BlockResponse: "NXDOMAIN", OverrideTTL: -1}
	alert := RuleSpec{Name: "r-2-alert", Action: "ALERT", OverrideTTL: -1}
	type rule struct {
		spec RuleSpec
		doms []string
	}
	cases := []struct {
		name     string
		old, new []rule
		inPlace  bool
	}{
		{"alone: changed in place",
			[]rule{{allow, []string{"a.t"}}, {nx, []string{"c.t", "d.t", "*.f.t"}}},
			[]rule{{allow, []string{"a.t"}}, {alert, []string{"c.t", "e.t", "*.f.t"}}}, true},
		{"beside an unchanged rule that shares a name: in place",
			[]rule{{allow, []string{"x.c.t"}}, {nx, []string{"*.c.t", "d.t"}}},
			[]rule{{allow, []string{"x.c.t"}}, {alert, []string{"*.c.t", "e.t"}}}, true},
		{"its lost and gained entries meet: replaced",
			[]rule{{allow, []string{"a.t"}}, {nx, []string{"*.c.t", "d.t"}}},
			[]rule{{allow, []string{"a.t"}}, {alert, []string{"x.c.t", "d.t"}}}, false},
		{"a name moves to another rule: replaced",
			[]rule{{allow, []string{"a.t"}}, {nx, []string{"c.t", "d.t"}}},
			[]rule{{allow, []string{"a.t", "d.t"}}, {alert, []string{"c.t", "e.t"}}}, false},
		{"another rule gains a wildcard over it: replaced",
			[]rule{{allow, []string{"a.t"}}, {nx, []string{"x.c.t", "d.t"}}},
			[]rule{{allow, []string{"a.t", "*.c.t"}}, {alert, []string{"x.c.t", "e.t"}}}, false},
	}
	names := []string{"a.t", "c.t", "x.c.t", "y.c.t", "d.t", "e.t", "f.t", "x.f.t", "z.t"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &sim{rules: map[string]*simRule{}, lists: map[string]map[string]bool{}, pending: map[string]Step{}}
			for i, r := range c.old {
				id := fmt.Sprintf("L%d", i)
				s.rules[id] = &simRule{spec: r.spec, priority: 2000 + 1000*i}
				s.lists[id] = map[string]bool{}
				for _, d := range r.doms {
					s.lists[id][d] = true
				}
			}
			oldM := s.matcher()
			var desired []DesiredRule
			var rules []dnsfw.Rule
			for _, r := range c.new {
				doms := slices.Sorted(slices.Values(r.doms))
				desired = append(desired, DesiredRule{Spec: r.spec, Domains: doms})
				rule := dnsfw.Rule{Name: r.spec.Name, Action: r.spec.Action, Domains: doms}
				if r.spec.BlockResponse != "" {
					rule.BlockResponse = &r.spec.BlockResponse
				}
				rules = append(rules, rule)
			}
			newM := dnsfw.NewMatcher(rules)
			p, err := MakePlan(s.observed(), desired, Options{Band: DefaultBand})
			if err != nil {
				t.Fatal(err)
			}
			creates, updates := 0, 0
			refs := map[string]string{}
			for i, st := range p.Steps {
				switch st.Kind {
				case StepCreateList:
					creates++
				case StepUpdateRule:
					updates++
				}
				s.apply(t, refs, st)
				for v, m := range s.views() {
					for _, q := range names {
						if got := m.Match(q).Outcome(true); got != oldM.Match(q).Outcome(true) && got != newM.Match(q).Outcome(true) {
							t.Fatalf("step %d (%s), view %d: %s gets %s, old %s, new %s", i, st.Describe(), v, q, got, oldM.Match(q).Outcome(true), newM.Match(q).Outcome(true))
						}
					}
				}
			}
			s.flushAll()
			for _, q := range names {
				if got, want := s.matcher().Match(q).Outcome(true), newM.Match(q).Outcome(true); got != want {
					t.Fatalf("end: %s gets %s, plan %s", q, got, want)
				}
			}
			if inPlace := creates == 0 && updates == 1; inPlace != c.inPlace {
				t.Errorf("%d lists created, %d rules updated; in place: %v, want %v", creates, updates, inPlace, c.inPlace)
			}
		})
	}
}
