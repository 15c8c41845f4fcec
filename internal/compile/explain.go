package compile

import (
	"fmt"
	"io"
	"strings"

	"github.com/rpzfw/rpzfw/internal/dnsfw"
)

// Explanation says why a query name gets its outcome: what each source
// says, what BIND would do, and which compiled rule does it.
type Explanation struct {
	Decision Decision
	Verdict  dnsfw.Verdict
	Rule     *dnsfw.Rule
	// Origin of the matched entry, when one matched.
	Origin *Origin
	// Agree is false when the plan and the policy differ for this name,
	// which only truncation may cause.
	Agree bool
}

// Explain evaluates name against the reference and the plan.
func Explain(ref *Reference, p *Plan, name string) Explanation {
	m := dnsfw.NewMatcher(p.Rules)
	e := Explanation{Decision: ref.Decide(name), Verdict: m.Match(name)}
	want := e.Decision.View
	if p.Settings.MonitorOnly {
		want = e.Decision.MonitorView()
	}
	e.Agree = e.Verdict.Outcome(true) == want
	if e.Verdict.Matched {
		r := m.Rules()[e.Verdict.Rule]
		e.Rule = &r
		for i := range p.Rules {
			if p.Rules[i].Name != r.Name {
				continue
			}
			for j, d := range p.Rules[i].Domains {
				if d == e.Verdict.Entry {
					o := p.Origins[i][j]
					e.Origin = &o
				}
			}
		}
	}
	return e
}

// Write prints the explanation for a person.
func (e Explanation) Write(w io.Writer, sources []string) error {
	var b strings.Builder
	d := e.Decision
	fmt.Fprintf(&b, "%s\n", d.Name)
	for i, s := range d.Steps {
		mark := ""
		if i == d.Source {
			mark = "  <- decides"
		} else if d.Source >= 0 && i > d.Source {
			mark = "  (not consulted: an earlier source decided)"
		}
		fmt.Fprintf(&b, "  %d. %s: %s%s\n", i+1, s.Source, s.Says, mark)
	}
	rm := d.Removed
	switch {
	case d.Source >= 0:
		fmt.Fprintf(&b, "Policy (as BIND answers): %s, from %s line %d\n", d.Describe, d.Steps[d.Source].Source, d.Line)
		if rm != nil {
			fmt.Fprintf(&b, "  (%s line %d, %s %s, comes first but was removed: %s; rpzfw treats it as not in the zone)\n",
				sources[rm.Source], rm.Line, rm.Entry, rm.Says, rm.Why)
		}
	case rm != nil:
		fmt.Fprintf(&b, "Policy: %s line %d says %s for %s, but that record was removed: %s. rpzfw treats it as not in the zone, so no source rewrites this name\n",
			sources[rm.Source], rm.Line, rm.Says, rm.Entry, rm.Why)
	default:
		fmt.Fprintf(&b, "Policy (as BIND answers): no rewrite, no source matches\n")
	}
	if e.Rule == nil {
		fmt.Fprintf(&b, "DNS Firewall: no rule matches; the query resolves normally\n")
	} else {
		action := e.Rule.Action
		if e.Rule.BlockResponse != nil {
			action += " " + *e.Rule.BlockResponse
		}
		if e.Rule.BlockOverrideDomain != nil {
			action += " CNAME " + *e.Rule.BlockOverrideDomain
		}
		fmt.Fprintf(&b, "DNS Firewall: rule %s (priority %d, %s) through entry %s", e.Rule.Name, e.Rule.Priority, action, e.Verdict.Entry)
		switch {
		case e.Origin == nil:
		case e.Origin.Source < 0:
			b.WriteString(", a carve-out: the policy says \"no rewrite\" here but a broader entry would match")
		default:
			fmt.Fprintf(&b, ", from %s line %d", sources[e.Origin.Source], e.Origin.Line)
		}
		b.WriteString("\n")
	}
	if e.Agree {
		b.WriteString("Same outcome: yes\n")
	} else {
		b.WriteString("Same outcome: NO (the plan was truncated to fit its maximum size)\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
