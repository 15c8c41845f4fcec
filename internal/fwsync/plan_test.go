package fwsync

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/dnsfw"
	"github.com/rpzfw/rpzfw/internal/rpz"
)

// sim is a rule group in memory: steps are applied the way the service
// applies them. A change to a list takes effect at some moment before the
// list is next seen settled: until then it is pending, and the checks try
// it both ways. The executor waits for a list before its next change, its
// rule's creation and its deletion, and at the end of the sync.
type sim struct {
	rules   map[string]*simRule // by list ID
	lists   map[string]map[string]bool
	pending map[string]Step // the change each list is still settling from
	next    int
}

// flush lets the pending change of list id take effect.
func (s *sim) flush(id string) {
	st, ok := s.pending[id]
	if !ok {
		return
	}
	delete(s.pending, id)
	s.commit(id, st)
}

func (s *sim) flushAll() {
	for id := range s.pending {
		s.flush(id)
	}
}

// commit applies a list change.
func (s *sim) commit(id string, st Step) {
	if st.Kind == StepImport {
		s.lists[id] = map[string]bool{}
	}
	for _, d := range st.Domains {
		if st.Kind == StepRemove {
			delete(s.lists[id], d)
		} else {
			s.lists[id][d] = true
		}
	}
}

// views returns the rule group as queries may see it after a step: with no
// pending change in effect, with all of them, and with each alone and each
// but one.
func (s *sim) views() []*dnsfw.Matcher {
	ids := slices.Sorted(maps.Keys(s.pending))
	sets := []map[string]bool{{}, {}}
	for _, id := range ids {
		sets[1][id] = true
	}
	if len(ids) > 1 {
		for _, id := range ids {
			alone, butOne := map[string]bool{id: true}, map[string]bool{}
			for _, o := range ids {
				butOne[o] = o != id
			}
			sets = append(sets, alone, butOne)
		}
	}
	var out []*dnsfw.Matcher
	for _, set := range sets {
		c := &sim{rules: s.rules, lists: map[string]map[string]bool{}}
		for id, l := range s.lists {
			c.lists[id] = l
			if set[id] {
				c.lists[id] = maps.Clone(l)
				c.commit(id, s.pending[id])
			}
		}
		out = append(out, c.matcher())
	}
	return out
}

type simRule struct {
	spec     RuleSpec
	priority int
}

func (s *sim) observed() Observed {
	var obs Observed
	for id, r := range s.rules {
		obs.Owned = append(obs.Owned, OwnedRule{ListID: id, ListName: id, Priority: r.priority, Spec: r.spec, Domains: s.sorted(id)})
	}
	slices.SortFunc(obs.Owned, func(a, b OwnedRule) int { return a.Priority - b.Priority })
	return obs
}

func (s *sim) sorted(id string) []string {
	var out []string
	for d := range s.lists[id] {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

func (s *sim) matcher() *dnsfw.Matcher {
	var rules []dnsfw.Rule
	for id, r := range s.rules {
		spec := r.spec
		rule := dnsfw.Rule{Name: spec.Name, Priority: r.priority, Action: spec.Action, Domains: s.sorted(id)}
		if spec.BlockResponse != "" {
			rule.BlockResponse = &spec.BlockResponse
		}
		if spec.OverrideDomain != "" {
			rule.BlockOverrideDomain = &spec.OverrideDomain
		}
		rules = append(rules, rule)
	}
	return dnsfw.NewMatcher(rules)
}

// apply runs one step and fails on anything the service would refuse.
func (s *sim) apply(t *testing.T, refs map[string]string, st Step) {
	id := st.List
	if r, ok := refs[id]; ok {
		id = r
	}
	switch st.Kind {
	case StepCreateList:
		s.next++
		refs[st.List] = fmt.Sprintf("list-%d", s.next)
		s.lists[refs[st.List]] = map[string]bool{}
	case StepAdd, StepImport, StepRemove:
		if len(st.Domains) > 1000 && st.Kind == StepAdd {
			t.Fatalf("a chunk of %d domains", len(st.Domains))
		}
		s.flush(id) // the service takes a change only once the last one settled
		s.pending[id] = st
	case StepSettle:
		s.flush(id)
	case StepCreateRule, StepMoveRule:
		for other, r := range s.rules {
			if other != id && r.priority == st.Priority {
				t.Fatalf("priority %d taken by %s", st.Priority, r.spec.Name)
			}
		}
		if st.Kind == StepCreateRule {
			s.flush(id)
			s.rules[id] = &simRule{spec: *st.Spec, priority: st.Priority}
		} else {
			s.rules[id].priority = st.Priority
		}
	case StepUpdateRule:
		s.rules[id].spec = *st.Spec
	case StepDeleteRule:
		delete(s.rules, id)
	case StepDeleteList:
		s.flush(id)
		if _, used := s.rules[id]; used {
			t.Fatalf("deleting list %s while a rule uses it", id)
		}
		delete(s.lists, id)
	}
}

func randomPlan(t *testing.T, rng *rand.Rand) (*compile.Plan, []string) {
	var b strings.Builder
	b.WriteString("$TTL 60\n")
	seen := map[string]bool{}
	var names []string
	actions := []string{"CNAME .", "CNAME .", "CNAME rpz-passthru.", "CNAME *.", "CNAME g1.invalid.", "CNAME g2.invalid."}
	for range 5 + rng.IntN(25) {
		n := "t"
		for range 1 + rng.IntN(3) {
			n = string(rune('a'+rng.IntN(4))) + "." + n
		}
		for _, q := range []string{n, "x." + n, "y.x." + n} {
			if !seen[q] {
				seen[q] = true
				names = append(names, q)
			}
		}
		if rng.IntN(3) == 0 {
			n = "*." + n
		}
		if seen["owner "+n] {
			continue
		}
		seen["owner "+n] = true
		fmt.Fprintf(&b, "%s %s\n", n, actions[rng.IntN(len(actions))])
	}
	bl := compile.NewBuilder()
	src, _ := bl.AddSource(compile.Source{Name: "z", Kind: compile.KindZone})
	if _, err := rpz.ReadZone(strings.NewReader(b.String()), rpz.ZoneOptions{File: "z", Origin: "rpz"}, func(r rpz.Record) error { bl.Add(src, r); return nil }); err != nil {
		t.Fatal(err)
	}
	p, err := bl.Compile(compile.Settings{MonitorOnly: rng.IntN(5) == 0})
	if err != nil {
		t.Fatal(err)
	}
	return p, names
}

// TestPlanIsSafeAtEveryStep applies planned steps to an in-memory rule
// group and checks, after each, that every name gets its old outcome or
// its new one, and that the end state is the new plan.
func TestPlanIsSafeAtEveryStep(t *testing.T) {
	for seed := range uint64(400) {
		rng := rand.New(rand.NewPCG(seed, 5))
		s := &sim{rules: map[string]*simRule{}, lists: map[string]map[string]bool{}, pending: map[string]Step{}}
		band := Band{Lo: 1000, Hi: 1000 + 8 + rng.IntN(60)}
		var oldPlan *compile.Plan
		var names []string
		for round := range 4 {
			newPlan, more := randomPlan(t, rng)
			names = append(names, more...)
			obs := s.observed()
			parts := Parts{Max: 4 + rng.IntN(20)}
			if rng.IntN(3) == 0 {
				parts.Fill = 2 + rng.IntN(6)
			}
			desired := DesiredFromPlan(newPlan.Rules, obs, parts)
			p, err := MakePlan(obs, desired, Options{Band: band, Chunk: 3})
			if err != nil {
				if strings.Contains(err.Error(), "too narrow") || strings.Contains(err.Error(), "do not fit") {
					continue
				}
				t.Fatal(err)
			}
			newM := dnsfw.NewMatcher(newPlan.Rules)
			var oldM *dnsfw.Matcher
			if oldPlan != nil {
				oldM = dnsfw.NewMatcher(oldPlan.Rules)
			}
			refs := map[string]string{}
			for i, st := range p.Steps {
				s.apply(t, refs, st)
				for v, m := range s.views() {
					for _, q := range names {
						got, want := m.Match(q).Outcome(true), newM.Match(q).Outcome(true)
						old := "PASS"
						if oldM != nil {
							old = oldM.Match(q).Outcome(true)
						}
						// A mode switch with content changes passes through the
						// new content under the old actions (docs/sync.md).
						if got != want && got != old && !modeSwitch(oldPlan, newPlan) {
							t.Fatalf("seed %d round %d step %d (%s), view %d of pending changes: %s gets %s, old %s, new %s", seed, round, i, st.Describe(), v, q, got, old, want)
						}
					}
				}
			}
			s.flushAll() // the sync ends once every list settled
			m := s.matcher()
			for _, q := range names {
				if got, want := m.Match(q).Outcome(true), newM.Match(q).Outcome(true); got != want {
					t.Fatalf("seed %d round %d: end state gives %s for %s, plan %s", seed, round, got, q, want)
				}
			}
			if len(s.lists) != len(desired) {
				t.Fatalf("seed %d: %d lists for %d rules", seed, len(s.lists), len(desired))
			}
			checkRuleChanges(t, obs, desired, p, s)
			oldPlan = newPlan
		}
	}
}

// checkRuleChanges checks that a plan's rule changes tell what its steps
// do: each rule's old domains with Added and without Removed are its new
// ones, the counts add up to the plan's, and each rule ends at Priority.
func checkRuleChanges(t *testing.T, obs Observed, desired []DesiredRule, p Plan, end *sim) {
	t.Helper()
	oldDomains := map[*RuleSpec][]string{} // names may repeat (keptSpec)
	for i := range obs.Owned {
		oldDomains[&obs.Owned[i].Spec] = obs.Owned[i].Domains
	}
	// Kept rules may keep their old names (keptSpec): the rules of the
	// plan that remain are the desired ones, in order.
	var newDomains [][]string
	for _, d := range desired {
		newDomains = append(newDomains, d.Domains)
	}
	endPriority := map[string][]int{} // a kept name may meet a new rule's for a moment
	for _, r := range end.rules {
		endPriority[r.spec.Name] = append(endPriority[r.spec.Name], r.priority)
	}
	added, removed, kept := 0, 0, 0
	for _, c := range p.Rules {
		added += len(c.Added)
		removed += len(c.Removed)
		if c.New == nil {
			continue
		}
		if !samePlace(desired[kept].Spec.Name, c.New.Name) {
			t.Fatalf("rule %s stands for %s", c.New.Name, desired[kept].Spec.Name)
		}
		set := map[string]bool{}
		if c.Old != nil {
			for _, d := range oldDomains[c.Old] {
				set[d] = true
			}
		}
		for _, d := range c.Added {
			set[d] = true
		}
		for _, d := range c.Removed {
			delete(set, d)
		}
		if got, want := slices.Sorted(maps.Keys(set)), newDomains[kept]; !slices.Equal(got, want) && len(got)+len(want) > 0 {
			t.Fatalf("rule %s (%s): old domains with the changes are %v, the plan has %v", c.New.Name, c.Change(), got, want)
		}
		if !slices.Contains(endPriority[c.New.Name], c.Priority) {
			t.Fatalf("rule %s ends at priority %d, the plan says %d", c.New.Name, endPriority[c.New.Name], c.Priority)
		}
		kept++
	}
	if added != p.Added || removed != p.Removed || kept != len(desired) || len(p.Rules) < len(obs.Owned) {
		t.Fatalf("rule changes add %d and remove %d domains over %d new rules; the plan adds %d and removes %d over %d", added, removed, kept, p.Added, p.Removed, len(desired))
	}
}

func modeSwitch(a, b *compile.Plan) bool {
	return a != nil && a.Settings.MonitorOnly != b.Settings.MonitorOnly
}

func TestMakePlanUnit(t *testing.T) {
	nx := RuleSpec{Name: "r-1-nxdomain", Action: "BLOCK", BlockResponse: "NXDOMAIN", OverrideTTL: -1}
	allow := RuleSpec{Name: "r-1-allow", Action: "ALLOW", OverrideTTL: -1}
	owned := []OwnedRule{{ListID: "L1", ListName: "L1", Priority: 1000, Spec: nx, Domains: []string{"a", "b", "c"}}}
	t.Run("unchanged", func(t *testing.T) {
		p, err := MakePlan(Observed{Owned: owned}, []DesiredRule{{Spec: nx, Domains: []string{"a", "b", "c"}}}, Options{Band: DefaultBand})
		if err != nil || !p.Unchanged {
			t.Fatalf("%v %+v", err, p)
		}
	})
	t.Run("diff in chunks", func(t *testing.T) {
		p, _ := MakePlan(Observed{Owned: owned}, []DesiredRule{{Spec: nx, Domains: []string{"b", "d", "e", "f"}}}, Options{Band: DefaultBand, Chunk: 2})
		var kinds []string
		for _, s := range p.Steps {
			kinds = append(kinds, fmt.Sprintf("%d:%v", s.Kind, s.Domains))
		}
		// The removal waits for the additions by the service, which takes one
		// change to a list at a time: no settle step between them.
		want := "3:[d e] 3:[f] 4:[a c]"
		if strings.Join(kinds, " ") != want || p.Added != 3 || p.Removed != 2 || p.Peak != 6 {
			t.Fatalf("got %s (added %d removed %d peak %d)", strings.Join(kinds, " "), p.Added, p.Removed, p.Peak)
		}
	})
	t.Run("a rule that only moved keeps its name", func(t *testing.T) {
		renumbered := nx
		renumbered.Name = "r-2-nxdomain"
		p, _ := MakePlan(Observed{Owned: owned}, []DesiredRule{{Spec: allow, Domains: []string{"ok"}}, {Spec: renumbered, Domains: []string{"a", "b", "c"}}}, Options{Band: DefaultBand})
		for _, s := range p.Steps {
			if s.Kind == StepUpdateRule {
				t.Fatalf("a rename-only call: %s", s.Describe())
			}
		}
		if c := p.Rules[1]; c.New == nil || c.New.Name != "r-1-nxdomain" || c.Change() == "update" {
			t.Fatalf("the kept rule: %+v", c)
		}
	})
	t.Run("carve-out goes in before the block", func(t *testing.T) {
		p, _ := MakePlan(Observed{}, []DesiredRule{{Spec: allow, Domains: []string{"*.ok.evil"}}, {Spec: nx, Domains: []string{"*.evil"}}}, Options{Band: DefaultBand})
		var creates []string
		for _, s := range p.Steps {
			if s.Kind == StepCreateRule {
				creates = append(creates, fmt.Sprintf("%s@%d", s.Spec.Name, s.Priority))
			}
		}
		if len(creates) != 2 || !strings.HasPrefix(creates[0], "r-1-allow") {
			t.Fatalf("creates: %v", creates)
		}
	})
	t.Run("foreign rule in band", func(t *testing.T) {
		_, err := MakePlan(Observed{Foreign: []ForeignRule{{Name: "mine", Priority: 1500, ListID: "L9"}}}, []DesiredRule{{Spec: nx, Domains: []string{"a"}}}, Options{Band: DefaultBand})
		if err == nil || !strings.Contains(err.Error(), `"mine" (priority 1500, list L9)`) || !strings.Contains(err.Error(), "rpzfw unsync") {
			t.Fatal(err)
		}
	})
	// The advice for a foreign rule in the band, or a changed band, is to
	// unsync: unsync must then work, whatever the band holds.
	t.Run("unsync works whatever the band", func(t *testing.T) {
		owned := []OwnedRule{{ListID: "A", ListName: "a", Priority: 1500, Spec: nx, Domains: []string{"x"}}, {ListID: "B", ListName: "b", Priority: 20000, Spec: nx, Domains: []string{"y"}}}
		for _, obs := range []Observed{
			{Owned: owned[:1], Foreign: []ForeignRule{{Name: "mine", Priority: 1200, ListID: "F"}}},
			{Owned: owned},
		} {
			p, err := MakePlan(obs, nil, Options{Band: DefaultBand})
			if err != nil {
				t.Fatalf("unsync of %+v: %v", obs, err)
			}
			deleted := map[string]bool{}
			for _, s := range p.Steps {
				if s.Kind == StepMoveRule || s.Kind == StepCreateRule || s.Kind == StepCreateList {
					t.Errorf("unsync step %+v", s)
				}
				if s.Kind == StepDeleteRule {
					deleted[s.List] = true
				}
			}
			for _, r := range obs.Owned {
				if !deleted[r.ListID] {
					t.Errorf("unsync keeps rule of list %s: %+v", r.ListID, p.Steps)
				}
			}
		}
	})
	t.Run("import for a large new list", func(t *testing.T) {
		var doms []string
		for i := range 2500 {
			doms = append(doms, fmt.Sprintf("d%05d", i))
		}
		p, _ := MakePlan(Observed{}, []DesiredRule{{Spec: nx, Domains: doms}}, Options{Band: DefaultBand, ImportMin: 1000, ImportMax: 2000})
		var got []string
		for _, s := range p.Steps {
			got = append(got, fmt.Sprintf("%d/%d", s.Kind, len(s.Domains)))
		}
		if strings.Join(got, " ") != "2/0 5/2000 3/500 6/0 7/0" {
			t.Fatalf("steps %v", got)
		}
	})
	t.Run("orphans go first", func(t *testing.T) {
		p, _ := MakePlan(Observed{Orphans: []OrphanList{{ID: "O", Name: "O"}}}, nil, Options{Band: DefaultBand})
		if len(p.Steps) != 1 || p.Steps[0].Kind != StepDeleteList || p.Steps[0].Phase != PhaseCleanup {
			t.Fatalf("%+v", p.Steps)
		}
	})
	if _, err := ParseBand("10-5"); err == nil {
		t.Error("a reversed band must be an error")
	}
}

func TestFileStoreLock(t *testing.T) {
	f := FileStore{Dir: t.TempDir()}
	unlock, err := f.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Lock(); err == nil || !strings.Contains(err.Error(), "another sync of this device is running") {
		t.Fatalf("a second lock: %v", err)
	}
	unlock()
	again, err := f.Lock()
	if err != nil {
		t.Fatal(err)
	}
	again()
}

// FirstSyncPriorities are the priorities a first sync creates the rules
// with, a plan rule split into several lists getting one per part.
func TestFirstSyncPriorities(t *testing.T) {
	nx, big := "NXDOMAIN", make([]string, MaxListSize+50000)
	for i := range big {
		big[i] = fmt.Sprintf("d%07d.example", i)
	}
	rules := []dnsfw.Rule{
		{Name: "r-1-allow", Action: "ALLOW", Domains: []string{"ok.example"}},
		{Name: "r-2-nxdomain", Action: "BLOCK", BlockResponse: &nx, Domains: big},
		{Name: "r-3-alert", Action: "ALERT", Domains: []string{"look.example"}},
	}
	created := func(parts Parts) []int {
		p, err := MakePlan(Observed{}, DesiredFromPlan(rules, Observed{}, parts), Options{Band: DefaultBand})
		if err != nil {
			t.Fatal(err)
		}
		var out []int
		for _, s := range p.Steps {
			if s.Kind == StepCreateRule {
				out = append(out, s.Priority)
			}
		}
		return out
	}
	// With a staging bucket: a list per 250,000 domains.
	got, err := FirstSyncPriorities(rules, DefaultBand, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := created(Parts{}); fmt.Sprint(got) != "[[2599] [4199 5799] [7399]]" || fmt.Sprint(slices.Concat(got...)) != fmt.Sprint(want) {
		t.Errorf("staged: priorities %v; a first sync creates rules at %v", got, want)
	}
	// Without one, the big rule is filled as eight lists side by side.
	got, err = FirstSyncPriorities(rules, DefaultBand, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := created(Parts{Max: MaxListSize, Fill: DefaultFillPart}); len(got[1]) != maxFillParts || fmt.Sprint(slices.Concat(got...)) != fmt.Sprint(want) {
		t.Errorf("without a staging bucket: priorities %v; a first sync creates rules at %v", got, want)
	}
	if _, err := FirstSyncPriorities(rules, Band{Lo: 10, Hi: 12}, true); err == nil || !strings.Contains(err.Error(), "4 rules do not fit the priority band 10-12") {
		t.Errorf("a band too narrow: %v", err)
	}
}

// TestPlanMovesRulesSafely: kept rules reordered (layers of a policy
// swapped) are moved in place when no name can match both a moved rule
// and one it passes, and replaced otherwise; either way every name keeps
// its old or new outcome after every step, with changes in flight taken
// as landed and not.
func TestPlanMovesRulesSafely(t *testing.T) {
	universe := []string{"a.t", "b.t", "*.c.t", "d.c.t", "e.t", "*.f.t", "g.f.t", "h.t", "i.t", "*.j.t"}
	names := []string{"a.t", "b.t", "c.t", "x.c.t", "d.c.t", "e.t", "f.t", "x.f.t", "g.f.t", "h.t", "i.t", "j.t", "x.j.t", "z.t"}
	actions := []RuleSpec{{Action: "ALLOW"}, {Action: "BLOCK", BlockResponse: "NXDOMAIN"}, {Action: "ALERT"}, {Action: "BLOCK", BlockResponse: "NODATA"}}
	rulesOf := func(specs []RuleSpec, doms [][]string) []dnsfw.Rule {
		var out []dnsfw.Rule
		for i, sp := range specs {
			r := dnsfw.Rule{Name: sp.Name, Priority: i + 1, Action: sp.Action, Domains: doms[i]}
			if sp.BlockResponse != "" {
				r.BlockResponse = &sp.BlockResponse
			}
			out = append(out, r)
		}
		return out
	}
	moves := 0
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 11))
		n := 3 + rng.IntN(4)
		specs := make([]RuleSpec, n)
		doms := make([][]string, n)
		for i := range n {
			specs[i] = actions[rng.IntN(len(actions))]
			specs[i].Name, specs[i].OverrideTTL = fmt.Sprintf("r-%d-x", i), -1
			for _, d := range universe {
				if rng.IntN(n+1) == 0 {
					doms[i] = append(doms[i], d)
				}
			}
			slices.Sort(doms[i])
			doms[i] = slices.Compact(doms[i])
		}
		s := &sim{rules: map[string]*simRule{}, lists: map[string]map[string]bool{}, pending: map[string]Step{}}
		var first []DesiredRule
		for i := range n {
			first = append(first, DesiredRule{Spec: specs[i], Domains: doms[i]})
		}
		p, err := MakePlan(s.observed(), first, Options{Band: DefaultBand})
		if err != nil {
			t.Fatal(err)
		}
		refs := map[string]string{}
		for _, st := range p.Steps {
			s.apply(t, refs, st)
		}
		s.flushAll()
		// The new policy: the same rules in another order, a few domains
		// changed.
		perm := rng.Perm(n)
		var second []DesiredRule
		var nspecs []RuleSpec
		var ndoms [][]string
		for _, k := range perm {
			d := slices.Clone(doms[k])
			if rng.IntN(3) == 0 {
				d = append(d, universe[rng.IntN(len(universe))])
				slices.Sort(d)
				d = slices.Compact(d)
			}
			second = append(second, DesiredRule{Spec: specs[k], Domains: d})
			nspecs, ndoms = append(nspecs, specs[k]), append(ndoms, d)
		}
		oldM, newM := dnsfw.NewMatcher(rulesOf(specs, doms)), dnsfw.NewMatcher(rulesOf(nspecs, ndoms))
		p, err = MakePlan(s.observed(), second, Options{Band: DefaultBand})
		if err != nil {
			t.Fatal(err)
		}
		refs = map[string]string{}
		for i, st := range p.Steps {
			if st.Kind == StepMoveRule {
				moves++
			}
			s.apply(t, refs, st)
			for v, m := range s.views() {
				for _, q := range names {
					got, old, want := m.Match(q).Outcome(true), oldM.Match(q).Outcome(true), newM.Match(q).Outcome(true)
					if got != old && got != want {
						t.Fatalf("seed %d step %d (%s), view %d: %s gets %s, old %s, new %s", seed, i, st.Describe(), v, q, got, old, want)
					}
				}
			}
		}
		s.flushAll()
		m := s.matcher()
		for _, q := range names {
			if got, want := m.Match(q).Outcome(true), newM.Match(q).Outcome(true); got != want {
				t.Fatalf("seed %d: end state gives %s for %s, plan %s", seed, got, q, want)
			}
		}
	}
	if moves == 0 {
		t.Fatal("no rule was moved in place: the test does not test moves")
	}
}
