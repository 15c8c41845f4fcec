package fwsync

import (
	"slices"
	"testing"
)

// TestReuseOrphans: a new rule's list is filled from an orphan whose
// content is close (the create, the delete and most of the fill saved),
// and from none when every orphan is far, not reusable, or taken.
func TestReuseOrphans(t *testing.T) {
	nx := RuleSpec{Name: "r1", Action: "BLOCK", BlockResponse: "NXDOMAIN", OverrideTTL: -1}
	al := RuleSpec{Name: "r2", Action: "ALLOW", OverrideTTL: -1}
	a := boundNames("a", 3000)
	far := boundNames("z", 3000)
	st := &State{Instance: "abcd-", Lists: map[string]*ListRecord{}}
	own := func(id string) OrphanList { return OrphanList{ID: id, Name: "rpzfw-d-abcd-" + id} }
	other := func(id string) OrphanList { return OrphanList{ID: id, Name: "rpzfw-d-ffff-" + id} }
	tests := []struct {
		name    string
		orphans []OrphanList
		content map[string][]string
		aged    map[string]bool
		want    []DesiredRule
		reused  map[string]string // rule name -> orphan ID
		added   int
		removed int
	}{
		{"close orphan of this state", []OrphanList{own("L9")}, map[string][]string{"L9": a[:2999]}, nil,
			[]DesiredRule{{Spec: nx, Domains: a[1:]}}, map[string]string{"r1": "L9"}, 1, 1},
		{"identical orphan: no update at all", []OrphanList{own("L9")}, map[string][]string{"L9": a}, nil,
			[]DesiredRule{{Spec: nx, Domains: a}}, map[string]string{"r1": "L9"}, 0, 0},
		{"far orphan", []OrphanList{own("L9")}, map[string][]string{"L9": far}, nil,
			[]DesiredRule{{Spec: nx, Domains: a}}, nil, 3000, 0},
		{"another state's young orphan", []OrphanList{other("L9")}, map[string][]string{"L9": a}, nil,
			[]DesiredRule{{Spec: nx, Domains: a}}, nil, 3000, 0},
		{"another state's orphan past the grace", []OrphanList{other("L9")}, map[string][]string{"L9": a}, map[string]bool{"L9": true},
			[]DesiredRule{{Spec: nx, Domains: a}}, map[string]string{"r1": "L9"}, 0, 0},
		{"removals first, additions after the other lists' fill", []OrphanList{own("L9")}, map[string][]string{"L9": a[1:1500]}, nil,
			[]DesiredRule{{Spec: nx, Domains: a[:1499]}, {Spec: al, Domains: far[:10]}}, map[string]string{"r1": "L9"}, 10 + 1, 1},
		{"each orphan once, the closest first", []OrphanList{own("L8"), own("L9")}, map[string][]string{"L8": a[:1500], "L9": a[1500:]}, nil,
			[]DesiredRule{{Spec: nx, Domains: a[:1500]}, {Spec: al, Domains: a[1500:2999]}}, map[string]string{"r1": "L8", "r2": "L9"}, 0, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obs := Observed{Orphans: tc.orphans}
			p, err := MakePlan(obs, tc.want, Options{Band: DefaultBand})
			if err != nil {
				t.Fatal(err)
			}
			before := PlanBounds(p)
			usable := reusableOrphans(st, "rpzfw-d-", tc.orphans, tc.content, tc.aged)
			p = reuseOrphans(p, usable, 1000)
			if p.Added != tc.added || p.Removed != tc.removed {
				t.Errorf("added %d removed %d, want %d and %d", p.Added, p.Removed, tc.added, tc.removed)
			}
			created, deleted := map[string]string{}, map[string]bool{}
			for _, s := range p.Steps {
				switch s.Kind {
				case StepCreateRule:
					created[s.Spec.Name] = s.List
				case StepDeleteList:
					deleted[s.List] = true
				}
			}
			for _, o := range tc.orphans {
				reused := slices.Contains(slicesOf(tc.reused), o.ID)
				if reused == deleted[o.ID] {
					t.Errorf("orphan %s: reused %v, deleted %v", o.ID, reused, deleted[o.ID])
				}
			}
			for rule, id := range tc.reused {
				if created[rule] != id {
					t.Errorf("rule %s uses %q, want the orphan %s", rule, created[rule], id)
				}
			}
			// A reused list loses its extra entries first, and gains the
			// rest only after every other list's fill was sent.
			for _, id := range tc.reused {
				lastRemove, firstAdd, lastOther := -1, -1, -1
				for i, s := range p.Steps {
					switch {
					case s.List == id && s.Kind == StepRemove:
						lastRemove = i
					case s.List == id && s.Kind == StepAdd && firstAdd < 0:
						firstAdd = i
					case s.List != id && s.Phase == PhasePrepare:
						lastOther = i
					}
				}
				if firstAdd >= 0 && lastRemove >= 0 && (firstAdd < lastRemove || firstAdd < lastOther) {
					t.Errorf("list %s: additions at step %d, removals until %d, other fills until %d", id, firstAdd, lastRemove, lastOther)
				}
			}
			// Whatever the plan reuses, each list ends with its rule's
			// content, and the reuse never costs more calls.
			content := map[string][]string{}
			for id, d := range tc.content {
				content[id] = slices.Clone(d)
			}
			for _, s := range p.Steps {
				switch s.Kind {
				case StepAdd:
					content[s.List] = append(content[s.List], s.Domains...)
				case StepRemove:
					content[s.List] = slices.DeleteFunc(content[s.List], func(d string) bool { return slices.Contains(s.Domains, d) })
				}
			}
			for _, r := range tc.want {
				got := slices.Sorted(slices.Values(content[created[r.Spec.Name]]))
				if !slices.Equal(got, r.Domains) {
					t.Errorf("rule %s's list holds %d domains, want %d", r.Spec.Name, len(got), len(r.Domains))
				}
			}
			if after := PlanBounds(p); after.Calls > before.Calls {
				t.Errorf("reuse costs more: floor %d, was %d", after.Calls, before.Calls)
			}
		})
	}
}

func slicesOf(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
