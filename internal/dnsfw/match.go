package dnsfw

import (
	"sort"
	"strings"
)

// Matcher evaluates query names against an ordered set of rules the way DNS
// Firewall does: rules by ascending priority, the first rule whose domain
// list matches decides. An entry "example.com" matches only that name,
// "*.example.com" every strict subdomain at any depth, "*" every name.
// Matching ignores case.
//
// It indexes each entry once, so a lookup costs one map probe per label of
// the query name, whatever the size of the lists.
type Matcher struct {
	rules []Rule
	// first maps an entry to the position (in priority order) of the first
	// rule that holds it, or, as -1-i, to more[i]: every rule holding it,
	// needed only when a rule with a Qtype can be passed over.
	first map[string]int32
	more  [][]int32
	typed bool // some rule has a Qtype
}

// NewMatcher indexes rules. Rules are sorted by priority; ties keep input
// order (the API forbids ties inside a group, the emulator enforces that).
func NewMatcher(rules []Rule) *Matcher {
	sorted := make([]Rule, len(rules))
	copy(sorted, rules)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Priority < sorted[j].Priority })
	n := 0
	for _, r := range sorted {
		n += len(r.Domains)
	}
	m := &Matcher{rules: sorted, first: make(map[string]int32, n)}
	for _, r := range sorted {
		m.typed = m.typed || r.Qtype != ""
	}
	for i, r := range sorted {
		for _, d := range r.Domains {
			d = NormalizeDomain(d)
			prev, ok := m.first[d]
			switch {
			case !ok:
				m.first[d] = int32(i)
			case !m.typed:
				// the first rule always wins
			case prev >= 0:
				if prev != int32(i) {
					m.more = append(m.more, []int32{prev, int32(i)})
					m.first[d] = -int32(len(m.more))
				}
			default:
				if l := m.more[-prev-1]; l[len(l)-1] != int32(i) {
					m.more[-prev-1] = append(l, int32(i))
				}
			}
		}
	}
	return m
}

// firstRule returns the first rule holding entry that applies to qtype.
func (m *Matcher) firstRule(entry, qtype string) (int32, bool) {
	v, ok := m.first[entry]
	if !ok {
		return 0, false
	}
	if v >= 0 {
		if m.typed && !m.applies(v, qtype) {
			return 0, false
		}
		return v, true
	}
	for _, i := range m.more[-v-1] {
		if m.applies(i, qtype) {
			return i, true
		}
	}
	return 0, false
}

func (m *Matcher) applies(i int32, qtype string) bool {
	t := m.rules[i].Qtype
	return t == "" || strings.EqualFold(t, qtype)
}

// Rules returns the rules in evaluation order.
func (m *Matcher) Rules() []Rule { return m.rules }

// Match returns the verdict for qname (any case, trailing dot optional),
// ignoring rules limited to a query type. Verdict.Rule indexes Rules().
func (m *Matcher) Match(qname string) Verdict { return m.MatchType(qname, "") }

// MatchType returns the verdict for a query of type qtype ("A", "AAAA",
// ...); rules with a Qtype apply only to that type.
func (m *Matcher) MatchType(qname, qtype string) Verdict {
	q := NormalizeDomain(qname)
	best, bestEntry := int32(-1), ""
	try := func(entry string) {
		if i, ok := m.firstRule(entry, qtype); ok && (best < 0 || i < best) {
			best, bestEntry = i, entry
		}
	}
	if q != "" {
		try(q)
	}
	// Every strict ancestor's wildcard, then the root's "*".
	for rest := q; rest != ""; {
		dot := LabelEnd(rest)
		if dot < 0 {
			break
		}
		rest = rest[dot+1:]
		try("*." + rest)
	}
	try("*")
	if best < 0 {
		return Verdict{Rule: -1}
	}
	r := m.rules[best]
	return Verdict{
		Matched:             true,
		Rule:                int(best),
		Entry:               bestEntry,
		Action:              r.Action,
		BlockResponse:       deref(r.BlockResponse),
		BlockOverrideDomain: deref(r.BlockOverrideDomain),
		BlockOverrideTTL:    deref(r.BlockOverrideTtl),
	}
}
