package compile

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/rpzfw/rpzfw/internal/dnsfw"
)

// TestMapping covers every row of the DESIGN.md mapping table, on a blocking
// and a monitor-only device.
func TestMapping(t *testing.T) {
	tests := []struct {
		record         string
		block, monitor string // rule action and response, "" for removed
		reason         string
	}{
		{"x.test CNAME .", "BLOCK NXDOMAIN", "ALERT", ""},
		{"x.test CNAME *.", "BLOCK NODATA", "ALERT", ""},
		{"x.test 90 CNAME garden.example.", "BLOCK OVERRIDE garden.example CNAME 90", "ALERT", ""},
		{"x.test 999999 CNAME garden.example.", "BLOCK OVERRIDE garden.example CNAME 604800", "ALERT", ""},
		{"x.test CNAME rpz-passthru.", "ALERT", "ALERT", ""},
		{"x.test CNAME x.test.", "ALERT", "ALERT", ""},
		{"x.test CNAME rpz-drop.", "", "", ReasonDrop},
		{"x.test CNAME rpz-tcp-only.", "", "", ReasonTCPOnly},
		{"x.test A 192.0.2.1", "", "", ReasonLocalData},
		{"x.test AAAA 2001:db8::1", "", "", ReasonLocalData},
		{"x.test TXT \"hi\"", "", "", ReasonLocalData},
		{"x.test CNAME *.garden.example.", "", "", ReasonWildcardCNAME},
		{"32.1.0.0.127.rpz-ip CNAME .", "", "", "rpz-ip"},
		{"32.1.0.0.127.rpz-nsip CNAME .", "", "", "rpz-nsip"},
		{"32.1.0.0.127.rpz-client-ip CNAME .", "", "", "rpz-client-ip"},
		{"ns.x.test.rpz-nsdname CNAME .", "", "", "rpz-nsdname"},
		{"_sip._tcp.x.test CNAME .", "", "", "invalid-name"},
		{"outside.example. CNAME .", "", "", ReasonOutOfZone},
	}
	describe := func(r dnsfw.Rule) string {
		s := r.Action
		for _, p := range []*string{r.BlockResponse, r.BlockOverrideDomain, r.BlockOverrideDnsType} {
			if p != nil {
				s += " " + *p
			}
		}
		if r.BlockOverrideTtl != nil {
			s += fmt.Sprint(" ", *r.BlockOverrideTtl)
		}
		return s
	}
	for _, tc := range tests {
		for _, monitor := range []bool{false, true} {
			p, _ := build(t, Settings{MonitorOnly: monitor}, zone(soa+tc.record+"\n"))
			want := tc.block
			if monitor {
				want = tc.monitor
			}
			switch {
			case want == "" && (len(p.Rules) != 0 || p.Removed[tc.reason] != 1):
				t.Errorf("%s (monitor %v): want removed for %s, got rules %v removed %v", tc.record, monitor, tc.reason, p.Rules, p.Removed)
			case want != "" && (len(p.Rules) != 1 || describe(p.Rules[0]) != want || p.DomainCount != 1):
				t.Errorf("%s (monitor %v): want one rule %q, got %d rules: %+v", tc.record, monitor, want, len(p.Rules), p.Rules)
			}
		}
	}
}

func TestRedundantEntriesAreDropped(t *testing.T) {
	p, ref := build(t, Settings{}, zone(soa+`
*.evil.test CNAME .
a.evil.test CNAME .
*.a.evil.test CNAME .
evil.test CNAME .
`), zone(soa+`
b.evil.test CNAME rpz-passthru.
`))
	// a.evil.test and *.a.evil.test repeat *.evil.test; b.evil.test in
	// the second zone is never consulted for a name the first covers.
	if p.DomainCount != 2 || len(p.Rules) != 1 {
		t.Fatalf("want 2 domains in one rule, got %d in %d rules: %+v", p.DomainCount, len(p.Rules), p.Rules)
	}
	checkAgree(t, p, ref, false, []string{"evil.test", "a.evil.test", "x.a.evil.test", "b.evil.test", "test"})
}

func TestUserListsComeFirst(t *testing.T) {
	p, ref := build(t, Settings{},
		input{name: "allow-list", kind: KindList, allow: true, text: "good.evil.test\n*.partner.evil.test\n"},
		input{name: "block-list", kind: KindList, text: "*.mine.test\nok.example.test\n"},
		zone(soa+"*.evil.test CNAME .\nx.mine.test CNAME rpz-passthru.\n*.example.test CNAME rpz-passthru.\n"),
	)
	want := map[string]string{
		"good.evil.test":      "ALERT",
		"x.good.evil.test":    "NXDOMAIN", // the allow entry is exact
		"a.partner.evil.test": "ALERT",
		"partner.evil.test":   "NXDOMAIN",
		"x.mine.test":         "NXDOMAIN", // block list beats the zone's passthru
		"deep.x.mine.test":    "NXDOMAIN", // list wildcards are not shadowed
		"mine.test":           "PASS",
		"ok.example.test":     "NXDOMAIN",
		"other.example.test":  "ALERT",
	}
	m := dnsfw.NewMatcher(p.Rules)
	for q, w := range want {
		if got := ref.Decide(q).View; got != w {
			t.Errorf("reference %s = %s, want %s", q, got, w)
		}
		if got := m.Match(q).Outcome(true); got != w {
			t.Errorf("plan %s = %s, want %s", q, got, w)
		}
	}
}

func TestConflictsAreErrors(t *testing.T) {
	tests := []struct{ text, want string }{
		{"x.test CNAME .\nx.test A 192.0.2.1\n", "rpz1:4: x.test has a CNAME and other data (also line 3)"},
		{"x.test CNAME .\nx.test CNAME rpz-passthru.\n", "rpz1:4: x.test has more than one CNAME (also line 3)"},
		{"*.x.test CNAME .\n*.x.test CNAME garden.example.\n", "*.x.test has more than one CNAME"},
	}
	for _, tc := range tests {
		_, _, err := tryBuild(Settings{}, zone(soa+tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.text, err, tc.want)
		}
	}
	// The same record twice, and A beside AAAA, are fine.
	if _, _, err := tryBuild(Settings{}, zone(soa+"x.test CNAME .\nx.test CNAME .\ny.test A 192.0.2.1\ny.test AAAA ::1\n")); err != nil {
		t.Errorf("duplicates: %v", err)
	}
}

func TestRuleLimit(t *testing.T) {
	text := soa + "*.a.test CNAME .\nb.a.test CNAME rpz-passthru.\nc.test CNAME *.\n"
	_, _, err := tryBuild(Settings{MaxRules: 2}, zone(text))
	if err == nil || !strings.Contains(err.Error(), "needs 4 rules") || !strings.Contains(err.Error(), "limit of 2") {
		t.Fatalf("want a rule-limit error, got %v", err)
	}
}

func TestOriginsAndNames(t *testing.T) {
	p, _ := build(t, Settings{Prefix: "corp", FirstPriority: 10, PriorityStep: 5}, zone(soa+"*.evil.test CNAME .\nok.evil.test CNAME rpz-passthru.\n"))
	if len(p.Rules) != 3 {
		t.Fatalf("want 3 rules, got %+v", p.Rules)
	}
	wantNames := []string{"corp-1-allow", "corp-2-passthru", "corp-3-nxdomain"}
	for i, r := range p.Rules {
		if r.Name != wantNames[i] || r.Priority != 10+5*i {
			t.Errorf("rule %d: %s priority %d", i, r.Name, r.Priority)
		}
	}
	// The ALLOW *.ok.evil.test is a carve-out; the others name their line.
	if o := p.Origins[0][0]; o.Source != -1 {
		t.Errorf("carve-out origin = %+v", o)
	}
	if o := p.Origins[1][0]; o.Source != 0 || o.Line != 4 {
		t.Errorf("passthru origin = %+v", o)
	}
	if o := p.Origins[2][0]; o.Source != 0 || o.Line != 3 {
		t.Errorf("block origin = %+v", o)
	}
}

// TestTypicalFeedFewRules: a feed of blocks with some wildcards, passthrus
// under them and a walled garden needs a handful of rules.
func TestTypicalFeedFewRules(t *testing.T) {
	var b strings.Builder
	b.WriteString(soa)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		switch {
		case i%50 == 0:
			fmt.Fprintf(&b, "*.bad%d.com CNAME .\nok.bad%d.com CNAME rpz-passthru.\n", i, i)
		case i%97 == 0:
			fmt.Fprintf(&b, "ads%d.net CNAME walled.example.\n", i)
		default:
			fmt.Fprintf(&b, "d%d-%d.%s CNAME .\n", i, rng.IntN(1000), []string{"com", "net", "org"}[i%3])
		}
	}
	p, _ := build(t, Settings{}, zone(b.String()))
	if len(p.Rules) > 4 || len(p.Rules) != p.RulesLowerBound {
		t.Errorf("typical feed: %d rules, lower bound %d", len(p.Rules), p.RulesLowerBound)
	}
}

func TestSettingsValidation(t *testing.T) {
	for _, s := range []Settings{{Prefix: "bad prefix"}, {MaxDomains: -1}, {Prefix: strings.Repeat("p", 41)}} {
		if _, _, err := tryBuild(s, zone(soa+"x.test CNAME .\n")); err == nil {
			t.Errorf("%+v: want an error", s)
		}
	}
	if _, err := NewBuilder().Compile(Settings{}); err == nil {
		t.Error("a policy without sources must be an error")
	}
}

func TestTooManyWalledGardens(t *testing.T) {
	var b strings.Builder
	b.WriteString(soa)
	for i := range maxOverrides + 1 {
		fmt.Fprintf(&b, "g%d.test CNAME garden%d.example.\n", i, i)
	}
	if _, _, err := tryBuild(Settings{}, zone(b.String())); err == nil || !strings.Contains(err.Error(), "distinct walled gardens") {
		t.Fatalf("want a clear error, got %v", err)
	}
}
