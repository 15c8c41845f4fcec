package compile

import (
	"testing"
)

const soa = "@ SOA ns hostmaster 1 3600 600 86400 60\n@ NS ns.invalid.\n"

// The shadowing cases BIND 9.18 was seen to answer (DESIGN.md).
func TestBINDTable(t *testing.T) {
	p, ref := build(t, Settings{}, zone(soa+`
*.example.test CNAME .
ok.example.test CNAME rpz-passthru.
*.ent.test CNAME .
a.b.ent.test CNAME .
exact.test CNAME *.
*.wild.test 120 CNAME garden.test.
`))
	tests := []struct{ q, want string }{
		{"x.example.test", "NXDOMAIN"},
		{"deep.x.example.test", "NXDOMAIN"},
		{"ok.example.test", "ALERT"},
		{"x.ok.example.test", "PASS"},
		{"example.test", "PASS"},
		{"b.ent.test", "PASS"},
		{"x.b.ent.test", "PASS"},
		{"y.ent.test", "NXDOMAIN"},
		{"a.b.ent.test", "NXDOMAIN"},
		{"z.a.b.ent.test", "PASS"},
		{"exact.test", "NODATA"},
		{"x.exact.test", "PASS"},
		{"q.wild.test", "CNAME garden.test"},
		{"Q.Wild.Test.", "CNAME garden.test"},
		{"unrelated.org", "PASS"},
	}
	for _, tc := range tests {
		if got := ref.Decide(tc.q).View; got != tc.want {
			t.Errorf("reference %s = %s, want %s", tc.q, got, tc.want)
		}
	}
	names := make([]string, len(tests))
	for i, tc := range tests {
		names[i] = tc.q
	}
	checkAgree(t, p, ref, false, names)
}
