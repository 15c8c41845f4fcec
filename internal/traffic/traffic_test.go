package traffic

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestQtypeMix checks that every query type of the mix is sent, and in
// the order of their weights.
func TestQtypeMix(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[uint16]int{}
	for range 20000 {
		seen[qtypeOf(rng)]++
	}
	for i, q := range qtypeMix {
		if seen[q.qtype] == 0 {
			t.Fatalf("%s never sent", dns.TypeToString[q.qtype])
		}
		if i > 0 && q.weight < qtypeMix[i-1].weight && seen[q.qtype] > seen[qtypeMix[i-1].qtype] {
			t.Fatalf("%s sent more than %s: %v", dns.TypeToString[q.qtype], dns.TypeToString[qtypeMix[i-1].qtype], seen)
		}
	}
	if len(seen) != len(qtypeMix) {
		t.Fatalf("types sent: %v", seen)
	}
}

func TestHitName(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ entry, suffix string }{
		{"bad.example.", "bad.example"},
		{"*.bad.example", ".bad.example"},
		{"*", ".example"},
	} {
		if got := hitName(rng, tc.entry); !strings.HasSuffix(got, tc.suffix) || strings.Contains(got, "*") {
			t.Errorf("hitName(%q) = %q", tc.entry, got)
		}
	}
}
