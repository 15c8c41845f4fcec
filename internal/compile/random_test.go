package compile

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// randomPolicy makes zones and lists over a tiny label alphabet, so that
// exact names, wildcards, empty non-terminals and passthrus collide often.
type randomPolicy struct {
	inputs []input
	names  []string // query names worth asking about
}

var labels = []string{"a", "b", "c", "d"}

func randomName(rng *rand.Rand, depth int) string {
	parts := []string{[]string{"test", "example"}[rng.IntN(2)]}
	for range depth {
		parts = append([]string{labels[rng.IntN(len(labels))]}, parts...)
	}
	return strings.Join(parts, ".")
}

func randomAction(rng *rand.Rand) string {
	switch rng.IntN(12) {
	case 0, 1, 2, 3:
		return "CNAME ."
	case 4:
		return "CNAME *."
	case 5, 6, 7:
		return "CNAME rpz-passthru."
	case 8:
		return "CNAME garden1.invalid."
	case 9:
		return "300 CNAME garden2.invalid."
	case 10:
		return "CNAME rpz-drop."
	default:
		return "A 192.0.2.7"
	}
}

func newRandomPolicy(rng *rand.Rand, withLists bool) randomPolicy {
	var p randomPolicy
	seen := map[string]bool{}
	addName := func(n string) {
		for ; n != ""; n = parentName(n) {
			for _, q := range []string{n, "x." + n, "y.x." + n} {
				if !seen[q] {
					seen[q] = true
					p.names = append(p.names, q)
				}
			}
		}
	}
	if withLists {
		for _, allow := range []bool{true, false} {
			var sb strings.Builder
			for range rng.IntN(4) {
				n := randomName(rng, 1+rng.IntN(3))
				addName(n)
				if rng.IntN(2) == 0 {
					n = "*." + n
				}
				sb.WriteString(n + "\n")
			}
			p.inputs = append(p.inputs, input{name: fmt.Sprintf("list-%v", allow), kind: KindList, allow: allow, text: sb.String()})
		}
	}
	for z := range 1 + rng.IntN(3) {
		var sb strings.Builder
		sb.WriteString(soa)
		owners := map[string]bool{}
		for range 2 + rng.IntN(14) {
			n := randomName(rng, rng.IntN(4))
			addName(n)
			if rng.IntN(3) == 0 {
				n = "*." + n
			}
			if owners[n] {
				continue // one record per owner keeps the zone loadable
			}
			owners[n] = true
			sb.WriteString(n + " " + randomAction(rng) + "\n")
		}
		if rng.IntN(10) == 0 {
			sb.WriteString("* CNAME .\n")
		}
		p.inputs = append(p.inputs, input{name: fmt.Sprintf("rpz%d", z+1), kind: KindZone, text: sb.String()})
	}
	return p
}

func TestRandomPoliciesMatchReference(t *testing.T) {
	for seed := range uint64(3000) {
		rng := rand.New(rand.NewPCG(seed, 1))
		rp := newRandomPolicy(rng, seed%3 == 0)
		for _, monitor := range []bool{false, true} {
			p, ref := build(t, Settings{MonitorOnly: monitor}, rp.inputs...)
			checkAgree(t, p, ref, monitor, rp.names)
			if t.Failed() {
				for _, in := range rp.inputs {
					t.Logf("%s (%v):\n%s", in.name, in.kind, in.text)
				}
				for _, r := range p.Rules {
					t.Logf("rule %s %s %v", r.Name, r.Action, r.Domains)
				}
				t.Fatalf("seed %d monitor %v", seed, monitor)
			}
		}
	}
}
