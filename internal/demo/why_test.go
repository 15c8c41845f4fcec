package demo

import (
	"strings"
	"testing"

	"github.com/rpzfw/rpzfw/examples"
	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/policy"
	"github.com/rpzfw/rpzfw/internal/rpz"
)

// The demo's WHY column names a removed record and the reason, instead of
// "no policy applies".
func TestWhyNamesRemovedRecords(t *testing.T) {
	zone, err := examples.FS.ReadFile("sample.rpz")
	if err != nil {
		t.Fatal(err)
	}
	b, ref := compile.NewBuilder(), compile.NewReference()
	sink := policy.Tee(b, ref)
	idx, err := sink.AddSource(compile.Source{Name: "threats.rpz.example", Kind: compile.KindZone})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rpz.ReadZone(strings.NewReader(string(zone)), rpz.ZoneOptions{File: "sample.rpz"}, func(r rpz.Record) error { sink.Add(idx, r); return nil }); err != nil {
		t.Fatal(err)
	}
	plan, err := b.Compile(compile.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"drop.example":     "threats.rpz.example line 28 says DROP, removed: DNS Firewall cannot drop a query; no rule matched",
		"sinkhole.example": "says local data, removed: DNS Firewall cannot answer with local data",
		"example.com":      "no policy applies",
		"malware.example":  "threats.rpz.example line 11 says NXDOMAIN; rule",
	} {
		if got := why(compile.Explain(ref, plan, name), plan.Sources); !strings.Contains(got, want) {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}
