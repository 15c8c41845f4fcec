package compile

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/rpzfw/rpzfw/internal/dnsfw"
)

// TestTruncationIsSafe: whatever the maximum, a truncated plan fits it and
// never blocks a name the full policy lets through.
func TestTruncationIsSafe(t *testing.T) {
	for seed := range uint64(600) {
		rng := rand.New(rand.NewPCG(seed, 7))
		rp := newRandomPolicy(rng, seed%2 == 0)
		full, ref := build(t, Settings{}, rp.inputs...)
		if full.DomainCount < 2 {
			continue
		}
		max := 1 + rng.IntN(full.DomainCount)
		p, _, err := tryBuild(Settings{MaxDomains: max}, rp.inputs...)
		if err != nil {
			if !strings.Contains(err.Error(), "allow and passthru entries alone") {
				t.Fatalf("seed %d: %v", seed, err)
			}
			continue
		}
		if p.DomainCount > max {
			t.Fatalf("seed %d: %d domains, max %d", seed, p.DomainCount, max)
		}
		if max < full.DomainCount && p.Truncated == 0 {
			t.Fatalf("seed %d: had to drop entries but reports none", seed)
		}
		sum := 0
		for _, n := range p.TruncatedBySource {
			sum += n
		}
		if sum != p.Truncated {
			t.Fatalf("seed %d: truncated by source %v does not add up to %d", seed, p.TruncatedBySource, p.Truncated)
		}
		m := dnsfw.NewMatcher(p.Rules)
		for _, q := range rp.names {
			want := ref.Decide(q).View
			got := m.Match(q).Outcome(true)
			blockedNow := got != "PASS" && got != "ALERT"
			passedBefore := want == "PASS" || want == "ALERT"
			if blockedNow && passedBefore {
				t.Fatalf("seed %d max %d: %s is blocked (%s) but the full policy lets it through (%s)", seed, max, q, got, want)
			}
		}
	}
}

func TestTruncationDropsLowestPrecedenceFirst(t *testing.T) {
	var z1, z2 strings.Builder
	z1.WriteString(soa)
	z2.WriteString(soa)
	for i := range 10 {
		fmt.Fprintf(&z1, "a%d.test CNAME .\n", i)
		fmt.Fprintf(&z2, "b%d.test CNAME .\n", i)
	}
	p, _ := build(t, Settings{MaxDomains: 15}, input{name: "first", text: z1.String()}, input{name: "second", text: z2.String()})
	if p.DomainCount != 15 || p.Truncated != 5 || p.TruncatedBySource["second"] != 5 {
		t.Fatalf("got %d domains, truncated %d %v", p.DomainCount, p.Truncated, p.TruncatedBySource)
	}
	for _, d := range p.Rules[0].Domains[:10] {
		if !strings.HasPrefix(d, "a") {
			t.Errorf("an entry of the first zone was dropped: %v", p.Rules[0].Domains)
		}
	}
	// Later lines go first within a source.
	for _, d := range []string{"b9.test", "b5.test"} {
		for _, kept := range p.Rules[0].Domains {
			if kept == d {
				t.Errorf("%s should have been dropped before earlier lines", d)
			}
		}
	}
}

// Dropping a block wildcard also frees the carve-outs made for it.
func TestTruncationFreesCarveOuts(t *testing.T) {
	p, _ := build(t, Settings{MaxDomains: 2},
		input{name: "first", text: soa + "a.test CNAME .\nb.test CNAME .\n"},
		input{name: "second", text: soa + "*.evil.test CNAME .\nok.evil.test CNAME rpz-passthru.\n"},
	)
	if p.DomainCount != 2 || p.CarveOutsFreed < 1 {
		t.Fatalf("got %d domains, freed %d: %+v", p.DomainCount, p.CarveOutsFreed, p.Rules)
	}
}

func TestTruncationCannotDropAllows(t *testing.T) {
	_, _, err := tryBuild(Settings{MaxDomains: 1}, input{name: "allow", kind: KindList, allow: true, text: "a.test\nb.test\n"})
	if err == nil || !strings.Contains(err.Error(), "allow and passthru entries alone") {
		t.Fatalf("want an error, got %v", err)
	}
}

// Compile can run again on the same builder, as sync does when the quota
// binds, and gives the same plan for the same settings.
func TestCompileAgain(t *testing.T) {
	b := NewBuilder()
	src, _ := b.AddSource(Source{Name: "z", Kind: KindZone})
	for _, r := range benchRecords(3000) {
		b.Add(src, r)
	}
	first, err := b.Compile(Settings{})
	if err != nil {
		t.Fatal(err)
	}
	small, err := b.Compile(Settings{MaxDomains: 100})
	if err != nil || small.DomainCount > 100 || small.Truncated == 0 {
		t.Fatalf("second compile: %v, %d domains", err, small.DomainCount)
	}
	again, err := b.Compile(Settings{})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(first)
	c, _ := json.Marshal(again)
	if string(a) != string(c) {
		t.Fatal("compiling again with the same settings gave another plan")
	}
}
