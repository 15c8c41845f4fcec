package fwsync

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/rpzfw/rpzfw/internal/dnsfw"
)

// names returns n sorted names "<p>NNNN.t" from first on.
func names(p string, first, n int) []string {
	out := make([]string, n)
	for i := range n {
		out[i] = fmt.Sprintf("%s%04d.t", p, first+i)
	}
	return out
}

// without returns doms less every k-th one from off on.
func without(doms []string, off, k int) []string {
	var out []string
	for i, d := range doms {
		if i < off || (i-off)%k != 0 {
			out = append(out, d)
		}
	}
	return out
}

func sorted(parts ...[]string) []string { return slices.Sorted(slices.Values(slices.Concat(parts...))) }

// deploy makes the observed rule group of one plan rule's deployed parts.
func deploy(names []string, parts ...[]string) Observed {
	var obs Observed
	for i, doms := range parts {
		obs.Owned = append(obs.Owned, OwnedRule{ListID: fmt.Sprintf("L%d", i+1), ListName: fmt.Sprintf("L%d", i+1), Priority: 2000 + i,
			Spec: RuleSpec{Name: names[i], Action: "BLOCK", BlockResponse: "NXDOMAIN", OverrideTTL: -1}, Domains: doms})
	}
	return obs
}

// TestStickyParts: a rule's domains stay in the list that holds them
// through growth past the limit, shrinking, churn and an overflow, and
// the only domains sent are the real changes and the fewest moves.
func TestStickyParts(t *testing.T) {
	a, b := names("a", 0, 100), names("b", 0, 60)
	pairs := func(p string, n int) []string { // an entry and its wildcard
		var out []string
		for _, d := range names(p, 0, n) {
			out = append(out, d, "*."+d)
		}
		return sorted(out)
	}
	cases := []struct {
		name     string
		parts    Parts
		obs      Observed
		plan     []string
		ruleName string
		want     []string // the desired rules' names, in order
		moved    int
		sizes    []int // the desired rules' sizes, when they matter
		updates  int   // the update calls, when they matter
	}{
		{name: "grows past the limit: the list stays as part 1", parts: Parts{Max: 100},
			obs: deploy([]string{"r-1-nx"}, a[:90]), plan: sorted(a[5:90], names("n", 0, 40)),
			want: []string{"r-1-nx", "r-1-nx-2"}, sizes: []int{100, 25}},
		{name: "grows past the limit, renumbered", parts: Parts{Max: 100}, ruleName: "r-3-nx",
			obs: deploy([]string{"r-1-nx"}, a[:90]), plan: sorted(a[:90], names("n", 0, 40)),
			want: []string{"r-1-nx", "r-3-nx-2"}, sizes: []int{100, 30}},
		{name: "shrinks below the limit: both parts stay", parts: Parts{Max: 100},
			obs: deploy([]string{"r-1-nx-1", "r-1-nx-2"}, a[:60], b), plan: sorted(without(a[:60], 0, 4), without(b, 1, 4)),
			want: []string{"r-1-nx-1", "r-1-nx-2"}, sizes: []int{45, 45}},
		{name: "churn within parts: additions go where there is room", parts: Parts{Max: 100},
			obs: deploy([]string{"r-1-nx", "r-1-nx-2"}, a, b[:50]), plan: sorted(a[10:], b[5:50], names("n", 0, 20)),
			want: []string{"r-1-nx", "r-1-nx-2"}, sizes: []int{90, 65}},
		{name: "a large addition goes to several lists in blocks of one call", parts: Parts{Max: 3000},
			obs: deploy([]string{"r-1-nx", "r-1-nx-2"}, names("a", 0, 1000), names("b", 0, 1000)), plan: sorted(names("a", 0, 1000), names("b", 0, 1000), names("n", 0, 2500)),
			want: []string{"r-1-nx", "r-1-nx-2"}, sizes: []int{2500, 2000}, updates: 3},
		{name: "an overflowing part gives up only its excess", parts: Parts{Max: 80},
			obs: deploy([]string{"r-1-nx-1", "r-1-nx-2"}, a, b[:30]), plan: sorted(a, b[:30]),
			want: []string{"r-1-nx-1", "r-1-nx-2"}, moved: 20, sizes: []int{80, 50}},
		{name: "an overflow beyond all room makes a part", parts: Parts{Max: 80},
			obs: deploy([]string{"r-1-nx-1", "r-1-nx-2"}, a, b), plan: sorted(a, b, names("n", 0, 3)),
			want: []string{"r-1-nx-1", "r-1-nx-2", "r-1-nx-3"}, moved: 20, sizes: []int{80, 80, 3}},
		{name: "an emptied part goes", parts: Parts{Max: 100},
			obs: deploy([]string{"r-1-nx-1", "r-1-nx-2"}, a[:50], b[:50]), plan: sorted(b[:50], names("n", 0, 10)),
			want: []string{"r-1-nx-2"}, sizes: []int{60}},
		{name: "a first deploy over the limit", parts: Parts{Max: 100},
			plan: sorted(a, b, names("n", 0, 90)), want: []string{"r-1-nx-1", "r-1-nx-2", "r-1-nx-3"}, sizes: []int{84, 83, 83}},
		{name: "a first fill goes to lists side by side", parts: Parts{Max: 100, Fill: 30},
			plan: sorted(a, b), want: []string{"r-1-nx-1", "r-1-nx-2", "r-1-nx-3", "r-1-nx-4", "r-1-nx-5", "r-1-nx-6"}, sizes: []int{27, 27, 27, 27, 26, 26}},
		{name: "a fill has at most 8 lists more than the limit needs", parts: Parts{Max: 100, Fill: 2},
			plan: a, want: []string{"r-1-nx-1", "r-1-nx-2", "r-1-nx-3", "r-1-nx-4", "r-1-nx-5", "r-1-nx-6", "r-1-nx-7", "r-1-nx-8"}},
		{name: "a small new rule stays one list", parts: Parts{Max: 100, Fill: 30},
			plan: b[:30], want: []string{"r-1-nx"}},
		{name: "an entry and its wildcard share a part", parts: Parts{Max: 50},
			obs: deploy([]string{"r-1-nx"}, pairs("w", 20)), plan: sorted(pairs("w", 20), pairs("v", 20)),
			want: []string{"r-1-nx", "r-1-nx-2"}, sizes: []int{50, 30}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.ruleName == "" {
				c.ruleName = "r-1-nx"
			}
			nx := "NXDOMAIN"
			rule := dnsfw.Rule{Name: c.ruleName, Action: "BLOCK", BlockResponse: &nx, Domains: c.plan}
			desired := DesiredFromPlan([]dnsfw.Rule{rule}, c.obs, c.parts)
			var got []string
			var sizes []int
			for _, d := range desired {
				got, sizes = append(got, d.Spec.Name), append(sizes, len(d.Domains))
			}
			if !slices.Equal(got, c.want) || (c.sizes != nil && !slices.Equal(sizes, c.sizes)) {
				t.Fatalf("parts %v of %v domains, want %v of %v", got, sizes, c.want, c.sizes)
			}
			moved := checkParts(t, c.obs, c.plan, desired, c.parts)
			if moved != c.moved {
				t.Errorf("%d domains moved between parts, want %d", moved, c.moved)
			}
			p, err := MakePlan(c.obs, desired, Options{Band: DefaultBand})
			if err != nil {
				t.Fatal(err)
			}
			checkCosts(t, c.obs, c.plan, p, moved)
			updates := 0
			for _, s := range p.Steps {
				if s.Kind == StepAdd || s.Kind == StepRemove {
					updates++
				}
			}
			if c.updates > 0 && updates != c.updates {
				t.Errorf("%d update calls, want %d", updates, c.updates)
			}
		})
	}
}

// checkParts checks that desired spreads plan over lists of at most
// parts.Max, each sorted, none twice, an entry beside its wildcard when
// both are new, and returns how many domains left the part that held them.
func checkParts(t *testing.T, obs Observed, plan []string, desired []DesiredRule, parts Parts) int {
	t.Helper()
	holder := map[string]string{} // domain -> deployed rule name
	for _, o := range obs.Owned {
		for _, d := range o.Domains {
			holder[d] = o.Spec.Name
		}
	}
	var all []string
	moved := 0
	for _, d := range desired {
		if len(d.Domains) > parts.Max || !slices.IsSorted(d.Domains) {
			t.Errorf("part %s: %d domains (max %d), sorted %v", d.Spec.Name, len(d.Domains), parts.Max, slices.IsSorted(d.Domains))
		}
		in := map[string]bool{}
		for _, dom := range d.Domains {
			in[dom] = true
			if h, ok := holder[dom]; ok && h != d.Spec.Name {
				moved++
			}
		}
		for _, dom := range d.Domains {
			if r := root(dom); holder[dom] == "" && holder[r] == "" && slices.Contains(plan, "*."+r) && slices.Contains(plan, r) && (!in[r] || !in["*."+r]) {
				t.Errorf("part %s holds %s without its pair", d.Spec.Name, dom)
			}
		}
		all = append(all, d.Domains...)
	}
	if slices.Sort(all); !slices.Equal(all, plan) {
		t.Errorf("the parts hold %d domains, the plan %d (or not the same ones)", len(all), len(plan))
	}
	return moved
}

// checkCosts checks that a plan sends the real changes plus the moves,
// makes no rename-only call, and holds no more than the new plan plus the
// documented headroom: what it removes, plus what it moves.
func checkCosts(t *testing.T, obs Observed, plan []string, p Plan, moved int) {
	t.Helper()
	var old []string
	for _, o := range obs.Owned {
		old = append(old, o.Domains...)
	}
	slices.Sort(old)
	added, removed := len(diff(plan, old)), len(diff(old, plan))
	if p.Added != added+moved || p.Removed != removed+moved {
		t.Errorf("sends +%d -%d for a real change of +%d -%d with %d moved", p.Added, p.Removed, added, removed, moved)
	}
	if bound := len(plan) + removed + moved; p.Peak > bound {
		t.Errorf("peak %d, above the plan's %d plus the headroom %d", p.Peak, len(plan), removed+moved)
	}
	for _, s := range p.Steps {
		if s.Kind == StepUpdateRule {
			t.Errorf("a rename: %s", s.Describe())
		}
	}
}

// TestPartsPeakWithinHeadroom replays random feeds that grow past the
// list limit and shrink back, with churn, on the in-memory rule group:
// after every step (changes in flight taken as landed where they add and
// not where they remove) the lists hold no more than the new plan plus the
// documented headroom, and the plan's Peak says as much; every name keeps
// its old or new outcome; nothing moves unless a part overflows.
func TestPartsPeakWithinHeadroom(t *testing.T) {
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 11))
		s := &sim{rules: map[string]*simRule{}, lists: map[string]map[string]bool{}, pending: map[string]Step{}}
		parts := Parts{Max: 40 + rng.IntN(40)}
		if rng.IntN(2) == 0 {
			parts.Fill = 10 + rng.IntN(20)
		}
		feed := map[string]bool{}
		next := 0
		nx := "NXDOMAIN"
		var oldM *dnsfw.Matcher
		for round := range 8 {
			target := rng.IntN(3 * parts.Max)
			for d := range feed { // churn: drop some
				if rng.IntN(8) == 0 || len(feed) > target {
					delete(feed, d)
				}
			}
			for len(feed) < target {
				d := fmt.Sprintf("d%05d.t", next)
				feed[d], next = true, next+1
				if rng.IntN(3) == 0 {
					feed["*."+d] = true
				}
			}
			plan := slices.Sorted(maps.Keys(feed))
			rules := []dnsfw.Rule{{Name: "r-1-nx", Action: "BLOCK", BlockResponse: &nx, Domains: plan}}
			obs := s.observed()
			desired := DesiredFromPlan(rules, obs, parts)
			moved := checkParts(t, obs, plan, desired, parts)
			if moved > 0 && !overflows(obs, parts.Max) {
				t.Fatalf("seed %d round %d: %d domains moved without an overflow", seed, round, moved)
			}
			p, err := MakePlan(obs, desired, Options{Band: DefaultBand, Chunk: 7})
			if err != nil {
				t.Fatal(err)
			}
			checkCosts(t, obs, plan, p, moved)
			bound := len(plan) + len(diff(flatten(obs), plan)) + moved
			newM := dnsfw.NewMatcher(rules)
			refs := map[string]string{}
			for i, st := range p.Steps {
				s.apply(t, refs, st)
				if held := s.held(); held > p.Peak || held > bound {
					t.Fatalf("seed %d round %d step %d (%s): %d domains held, peak %d, bound %d", seed, round, i, st.Describe(), held, p.Peak, bound)
				}
				m := s.views()[1]
				for _, e := range plan[:min(len(plan), 30)] {
					for _, q := range []string{root(e), "x." + root(e)} {
						old := "PASS"
						if oldM != nil {
							old = oldM.Match(q).Outcome(true)
						}
						if got := m.Match(q).Outcome(true); got != newM.Match(q).Outcome(true) && got != old {
							t.Fatalf("seed %d round %d step %d: %s gets %s", seed, round, i, q, got)
						}
					}
				}
			}
			s.flushAll()
			oldM = newM
		}
	}
}

func flatten(obs Observed) []string {
	var out []string
	for _, o := range obs.Owned {
		out = append(out, o.Domains...)
	}
	slices.Sort(out)
	return out
}

func overflows(obs Observed, max int) bool {
	return slices.ContainsFunc(obs.Owned, func(o OwnedRule) bool { return len(o.Domains) > max })
}

// held counts the domains the lists hold at most: pending additions
// landed, pending removals not.
func (s *sim) held() int {
	n := 0
	for id, l := range s.lists {
		n += len(l)
		if st, ok := s.pending[id]; ok && st.Kind != StepRemove {
			for _, d := range st.Domains {
				if !l[d] {
					n++
				}
			}
		}
	}
	return n
}

// TestPartNames: which deployed names a plan rule's parts may keep.
func TestPartNames(t *testing.T) {
	for _, c := range []struct {
		deployed, plan string
		n              int
		ok             bool
	}{
		{"rpzfw-1-nxdomain", "rpzfw-1-nxdomain", 1, true},
		{"rpzfw-1-nxdomain", "rpzfw-4-nxdomain", 1, true},
		{"rpzfw-1-nxdomain-3", "rpzfw-2-nxdomain", 3, true},
		{"rpzfw-1-nxdomain-0", "rpzfw-1-nxdomain", 0, false},
		{"rpzfw-1-nxdomain-x", "rpzfw-1-nxdomain", 0, false},
		{"rpzfw-1-nodata-2", "rpzfw-1-nxdomain", 0, false},
		{"other", "rpzfw-1-nxdomain", 0, false},
	} {
		if n, ok := partNumber(c.deployed, c.plan); n != c.n || ok != c.ok {
			t.Errorf("partNumber(%q, %q) = %d, %v; want %d, %v", c.deployed, c.plan, n, ok, c.n, c.ok)
		}
	}
	if got := strings.Join(sortByRoot([]string{"*.b.t", "a.t", "*.a.t", "b.t"}), " "); got != "a.t *.a.t b.t *.b.t" {
		t.Errorf("by root: %s", got)
	}
}

// TestPartsSettleSideBySide: the parts of one split rule gain and lose
// entries chunk by chunk in turn, with no wait between them even where
// their entries interact (a wildcard added to one, a name under it to
// another).
func TestPartsSettleSideBySide(t *testing.T) {
	a, b := names("a", 0, 50), names("b", 0, 52)
	obs := deploy([]string{"r-1-nx", "r-1-nx-2"}, a, b)
	nx := "NXDOMAIN"
	plan := sorted(a[5:], b[5:], names("n", 0, 13), []string{"w.t", "*.w.t", "x.w.t", "y.x.w.t"})
	desired := DesiredFromPlan([]dnsfw.Rule{{Name: "r-1-nx", Action: "BLOCK", BlockResponse: &nx, Domains: plan}}, obs, Parts{Max: 60})
	if !slices.Contains(desired[0].Domains, "*.w.t") || !slices.Contains(desired[1].Domains, "x.w.t") {
		t.Fatalf("the wildcard and the name under it should be in different parts: %v", desired)
	}
	p, err := MakePlan(obs, desired, Options{Band: DefaultBand, Chunk: 4})
	if err != nil {
		t.Fatal(err)
	}
	var lists []string
	for _, s := range p.Steps {
		if s.Kind == StepSettle {
			t.Errorf("a wait between parts of one rule: %s", s.Describe())
		}
		if s.Kind == StepAdd || s.Kind == StepRemove {
			lists = append(lists, fmt.Sprintf("%d%s", s.Kind, s.List))
		}
	}
	// Additions to both lists in turn, then removals.
	if got := strings.Join(lists, " "); got != "3L1 3L2 3L1 3L1 3L1 4L2 4L1 4L2 4L1" {
		t.Errorf("chunks go %s", got)
	}
	checkCosts(t, obs, plan, p, 0)
}
