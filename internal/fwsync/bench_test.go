package fwsync

import (
	"fmt"
	"testing"
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
