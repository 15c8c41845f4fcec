package compile

import (
	"strings"
	"testing"
)

// A name whose record was removed is explained by that record and the
// reason, not as "no policy applies".
func TestExplainRemovedRecords(t *testing.T) {
	first := input{name: "first", kind: KindZone, text: `
drop.example CNAME rpz-drop.
tcp.example CNAME rpz-tcp-only.
sink.example A 192.0.2.1
*.wild.example TXT "local"
kept.wild.example CNAME rpz-passthru.
*.garden.example CNAME *.walled.example.
_svc.odd.example CNAME .
both.example A 192.0.2.2
`}
	second := input{name: "second", kind: KindZone, text: `
both.example CNAME .
`}
	for _, tc := range []struct {
		name       string
		wantSource int    // deciding source, -1 none
		wantLine   int    // line of the removed record, 0: none
		wantText   string // in the explanation
	}{
		{"drop.example", -1, 2, "first line 2 says DROP for drop.example, but that record was removed: DNS Firewall cannot drop a query"},
		{"tcp.example", -1, 3, "says TCP-ONLY for tcp.example, but that record was removed: DNS Firewall cannot make a client retry over TCP"},
		{"sink.example", -1, 4, "says local data for sink.example, but that record was removed: DNS Firewall cannot answer with local data"},
		{"a.wild.example", -1, 5, "says local data for *.wild.example"},
		{"x.kept.wild.example", -1, 0, "no rewrite, no source matches"}, // kept.wild.example exists: the wildcard does not reach below it
		{"kept.wild.example", 0, 0, "PASSTHRU, from first line 6"},
		{"www.garden.example", -1, 7, "says CNAME *.walled.example for *.garden.example, but that record was removed: DNS Firewall cannot answer with a CNAME that keeps the query's labels"},
		{"_svc.odd.example", -1, 8, "says NXDOMAIN for _svc.odd.example, but that record was removed: a DNS Firewall domain list cannot hold the name"},
		{"both.example", 1, 9, "(first line 9, both.example local data, comes first but was removed"},
		{"clean.example", -1, 0, "no rewrite, no source matches"},
	} {
		p, ref := build(t, Settings{}, first, second)
		e := Explain(ref, p, tc.name)
		var b strings.Builder
		if err := e.Write(&b, p.Sources); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if e.Decision.Source != tc.wantSource {
			t.Errorf("%s: decided by %d, want %d", tc.name, e.Decision.Source, tc.wantSource)
		}
		line := 0
		if e.Decision.Removed != nil {
			line = e.Decision.Removed.Line
		}
		if line != tc.wantLine {
			t.Errorf("%s: removed record at line %d, want %d", tc.name, line, tc.wantLine)
		}
		if !strings.Contains(out, tc.wantText) {
			t.Errorf("%s: explanation lacks %q:\n%s", tc.name, tc.wantText, out)
		}
		if tc.wantLine != 0 && strings.Contains(out, "no source matches") {
			t.Errorf("%s: says no source matches:\n%s", tc.name, out)
		}
	}
}
