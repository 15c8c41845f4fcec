package dnsfw

import "testing"

func ptr[T any](v T) *T { return &v }

func TestMatcher(t *testing.T) {
	rules := []Rule{
		// Deliberately out of priority order: evaluation sorts them.
		{Name: "block", Priority: 300, Action: ActionBlock, BlockResponse: ptr(BlockNXDomain), Domains: []string{"*.evil.test", "evil.test", "Mixed.Case.test."}},
		{Name: "allow", Priority: 100, Action: ActionAllow, Domains: []string{"good.evil.test"}},
		{Name: "garden", Priority: 200, Action: ActionBlock, BlockResponse: ptr(BlockOverride), BlockOverrideDomain: ptr("garden.test"), BlockOverrideDnsType: ptr("CNAME"), BlockOverrideTtl: ptr(60), Domains: []string{"*.walled.evil.test"}},
		{Name: "nodata", Priority: 400, Action: ActionBlock, BlockResponse: ptr(BlockNoData), Domains: []string{"*.evil.test", "nodata.test"}},
		{Name: "alert", Priority: 500, Action: ActionAlert, Domains: []string{"*"}},
	}
	m := NewMatcher(rules)
	tests := []struct {
		q, rule, entry, outcome string
	}{
		{"evil.test", "block", "evil.test", "NXDOMAIN"},
		{"a.b.evil.test", "block", "*.evil.test", "NXDOMAIN"},
		{"EVIL.TEST.", "block", "evil.test", "NXDOMAIN"},
		{"good.evil.test", "allow", "good.evil.test", "PASS"},
		{"x.good.evil.test", "block", "*.evil.test", "NXDOMAIN"}, // the exact ALLOW entry does not cover subdomains
		{"walled.evil.test", "block", "*.evil.test", "NXDOMAIN"},
		{"x.walled.evil.test", "garden", "*.walled.evil.test", "CNAME garden.test"},
		{"mixed.case.test", "block", "mixed.case.test", "NXDOMAIN"},
		{"nodata.test", "nodata", "nodata.test", "NODATA"},
		{"other.org", "alert", "*", "ALERT"},
		{"", "alert", "*", "ALERT"},
	}
	for _, tc := range tests {
		v := m.Match(tc.q)
		if !v.Matched || m.Rules()[v.Rule].Name != tc.rule || v.Entry != tc.entry || v.Outcome(true) != tc.outcome {
			t.Errorf("Match(%q) = %+v, want rule %s entry %s outcome %s", tc.q, v, tc.rule, tc.entry, tc.outcome)
		}
	}
	if v := NewMatcher(rules[:1]).Match("other.org"); v.Matched || v.Outcome(true) != "PASS" {
		t.Errorf("no rule should match other.org: %+v", v)
	}
	if v := m.Match("x.walled.evil.test"); v.BlockOverrideTTL != 60 || v.BlockOverrideDomain != "garden.test" {
		t.Errorf("override fields not carried: %+v", v)
	}
}

func FuzzMatcher(f *testing.F) {
	f.Add("a.evil.test", "*.evil.test")
	f.Add("evil.test", "evil.test")
	f.Add("", "*")
	f.Add(`mal\.war.example`, "*.war.example")
	f.Add(`a\\.war.example`, "*.war.example")
	f.Fuzz(func(t *testing.T, q, entry string) {
		entry = NormalizeDomain(entry)
		if ValidateDomain(entry) != nil {
			return
		}
		v := NewMatcher([]Rule{{Name: "r", Priority: 1, Action: ActionAlert, Domains: []string{entry}}}).Match(q)
		// Independent statement of the matching rule.
		qn := NormalizeDomain(q)
		name, wild := ParseEntry(entry)
		want := false
		switch {
		case !wild:
			want = qn == name
		case name == "":
			want = true
		default:
			// The dot before name must end a label: not escaped ("\.").
			at := len(qn) - len(name) - 1
			want = len(qn) > len(name)+1 && qn[at:] == "."+name && !escapedAt(qn, at)
		}
		if v.Matched != want {
			t.Fatalf("Match(%q) against %q = %v, want %v", q, entry, v.Matched, want)
		}
	})
}

func TestMatcherQtype(t *testing.T) {
	rules := []Rule{
		{Name: "aaaa-only", Priority: 1, Action: ActionBlock, BlockResponse: ptr(BlockNoData), Domains: []string{"*.v6.test", "both.test"}, Qtype: "AAAA"},
		{Name: "all", Priority: 2, Action: ActionBlock, BlockResponse: ptr(BlockNXDomain), Domains: []string{"both.test"}},
	}
	m := NewMatcher(rules)
	for _, tc := range []struct{ q, qtype, want string }{
		{"x.v6.test", "AAAA", "NODATA"},
		{"x.v6.test", "A", "PASS"},
		{"both.test", "AAAA", "NODATA"},
		{"both.test", "A", "NXDOMAIN"},
		{"both.test", "", "NXDOMAIN"},
	} {
		if got := m.MatchType(tc.q, tc.qtype).Outcome(true); got != tc.want {
			t.Errorf("MatchType(%s, %s) = %s, want %s", tc.q, tc.qtype, got, tc.want)
		}
	}
}

// A dot escaped inside a label ends no label: "mal\.war.example" is the
// label "mal.war" under "example", so *.war.example does not match it.
func TestMatcherEscapedDots(t *testing.T) {
	m := NewMatcher([]Rule{
		{Name: "war", Priority: 1, Action: ActionBlock, BlockResponse: ptr(BlockNXDomain), Domains: []string{"*.war.example"}},
		{Name: "example", Priority: 2, Action: ActionAlert, Domains: []string{"*.example"}},
	})
	for _, tc := range []struct{ q, rule, entry string }{
		{`mal.war.example`, "war", "*.war.example"},
		{`mal\.war.example`, "example", "*.example"},
		{`mal\.war.example.`, "example", "*.example"},
		{`a.mal\.war.example`, "example", "*.example"},
		{`mal\\.war.example`, "war", "*.war.example"},  // an escaped backslash, then a real dot
		{`mal\046war.example`, "example", "*.example"}, // \046 is a dot as a decimal escape
		{`a\..war.example`, "war", "*.war.example"},    // label "a." under war.example
	} {
		v := m.Match(tc.q)
		if !v.Matched || m.Rules()[v.Rule].Name != tc.rule || v.Entry != tc.entry {
			t.Errorf("Match(%q) = %+v, want rule %s through %s", tc.q, v, tc.rule, tc.entry)
		}
	}
	for in, want := range map[string]string{`a.example.`: "a.example", `a.example\.`: `a.example\.`, `a.example\\.`: `a.example\\`, `A.b\.`: `a.b\.`} {
		if got := NormalizeDomain(in); got != want {
			t.Errorf("NormalizeDomain(%q) = %q, want %q", in, got, want)
		}
	}
}
