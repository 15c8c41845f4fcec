package fwsync

import (
	"fmt"
	"slices"
	"testing"

	"github.com/rpzfw/rpzfw/internal/dnsfw"
)

// BenchmarkMakePlan1M plans a 1% change on a 1,000,000-domain rule: the
// pure part of a sync (diffs, chunks, order).
func BenchmarkMakePlan1M(b *testing.B) {
	const n = 1000000
	old := make([]string, n)
	next := make([]string, n)
	for i := range n {
		old[i] = fmt.Sprintf("d%08d.example", i)
		next[i] = fmt.Sprintf("d%08d.example", i+n/200)
	}
	nx := RuleSpec{Name: "rpzfw-1-nxdomain", Action: "BLOCK", BlockResponse: "NXDOMAIN", OverrideTTL: -1}
	obs := Observed{Owned: []OwnedRule{{ListID: "L", ListName: "L", Priority: 5000, Spec: nx, Domains: old}}}
	desired := []DesiredRule{{Spec: nx, Domains: next}}
	b.ReportAllocs()
	for b.Loop() {
		p, err := MakePlan(obs, desired, Options{Band: DefaultBand})
		if err != nil || p.Added != n/200 || p.Removed != n/200 {
			b.Fatalf("%v %d %d", err, p.Added, p.Removed)
		}
	}
}

// BenchmarkStickyParts1M splits a 1% change of a 1,000,000-domain rule
// deployed as 4 lists over its lists, and plans it.
func BenchmarkStickyParts1M(b *testing.B) {
	const n, k = 1000000, 4
	nx := "NXDOMAIN"
	var obs Observed
	for p := range k {
		doms := make([]string, 0, n/k)
		for i := p; i < n; i += k {
			doms = append(doms, fmt.Sprintf("d%08d.example", i))
		}
		slices.Sort(doms)
		obs.Owned = append(obs.Owned, OwnedRule{ListID: fmt.Sprint(p), ListName: fmt.Sprint(p), Priority: 5000 + p,
			Spec: RuleSpec{Name: fmt.Sprintf("rpzfw-1-nxdomain-%d", p+1), Action: "BLOCK", BlockResponse: nx, OverrideTTL: -1}, Domains: doms})
	}
	next := make([]string, n)
	for i := range n {
		next[i] = fmt.Sprintf("d%08d.example", i+n/100)
	}
	rules := []dnsfw.Rule{{Name: "rpzfw-1-nxdomain", Action: "BLOCK", BlockResponse: &nx, Domains: next}}
	b.ReportAllocs()
	for b.Loop() {
		desired := DesiredFromPlan(rules, obs, Parts{Max: MaxListSize})
		p, err := MakePlan(obs, desired, Options{Band: DefaultBand})
		if err != nil || p.Added != n/100 || p.Removed != n/100 || len(desired) != k {
			b.Fatalf("%v: +%d -%d over %d lists", err, p.Added, p.Removed, len(desired))
		}
	}
}
