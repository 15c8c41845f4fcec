package compile

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/rpzfw/rpzfw/internal/dnsfw"
)

// WriteJSON must write what encoding/json writes, byte for byte.
func TestWriteJSONMatchesEncodingJSON(t *testing.T) {
	var plans []*Plan
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 9))
		rp := newRandomPolicy(rng, seed%2 == 0)
		p, _ := build(t, Settings{MonitorOnly: seed%3 == 0}, rp.inputs...)
		plans = append(plans, p)
	}
	ttl := 60
	odd := "o<d>d&\"q\\\x01é\u2028\xff"
	plans = append(plans, &Plan{}, &Plan{Rules: []dnsfw.Rule{}}, &Plan{
		Rules: []dnsfw.Rule{
			{Name: "r<1>", Action: "BLOCK", BlockOverrideDomain: &odd, BlockOverrideTtl: &ttl, Domains: []string{"a.b", odd, "*", ""}},
			{Name: "nil", Action: "ALLOW"},
			{Name: "empty", Action: "ALERT", Domains: []string{}},
		},
		DomainCount: 4, Removed: map[string]int{"z": 1, "a&b": 2}, Truncated: 3,
	})
	for i, p := range plans {
		var want, got bytes.Buffer
		if err := json.NewEncoder(&want).Encode(p); err != nil {
			t.Fatal(err)
		}
		if err := p.WriteJSON(&got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("plan %d:\nWriteJSON: %s\njson:      %s", i, got.Bytes(), want.Bytes())
		}
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n -= len(p); w.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestWriteJSONReportsWriteErrors(t *testing.T) {
	domains := make([]string, 100000)
	for i := range domains {
		domains[i] = "d.example"
	}
	p := &Plan{Rules: []dnsfw.Rule{{Name: "r", Action: "BLOCK", Domains: domains}}}
	if err := p.WriteJSON(&failWriter{n: 100}); err == nil {
		t.Fatal("a failed write must be reported")
	}
}
