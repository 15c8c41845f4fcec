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
	// rule that holds it; later rules holding the same entry never win.
	first map[string]int32
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
	for i, r := range sorted {
		for _, d := range r.Domains {
			d = NormalizeDomain(d)
			if _, ok := m.first[d]; !ok {
				m.first[d] = int32(i)
			}
		}
	}
	return m
}

// Rules returns the rules in evaluation order.
func (m *Matcher) Rules() []Rule { return m.rules }

// Match returns the verdict for qname (any case, trailing dot optional).
// Verdict.Rule indexes Rules().
func (m *Matcher) Match(qname string) Verdict {
	q := NormalizeDomain(qname)
	best, bestEntry := int32(-1), ""
	try := func(entry string) {
		if i, ok := m.first[entry]; ok && (best < 0 || i < best) {
			best, bestEntry = i, entry
		}
	}
	if q != "" {
		try(q)
	}
	// Every strict ancestor's wildcard, then the root's "*".
	for rest := q; rest != ""; {
		dot := strings.IndexByte(rest, '.')
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
