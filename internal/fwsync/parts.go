package fwsync

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/rpzfw/rpzfw/internal/dnsfw"
)

// Parts says how a plan rule is spread over lists.
type Parts struct {
	// Max is the most domains one list holds (MaxListSize when 0).
	Max int
	// Fill: domains that need new lists, when they are more than Fill,
	// go to several new lists of about Fill domains (at most
	// maxFillParts, more only where Max demands), so that their ADD
	// chunks settle side by side and the request rate, not the settle
	// time, bounds the fill. 0 (a staging bucket imports new lists in
	// one call) puts them in as few lists as Max allows.
	Fill int
}

// DefaultFillPart is Parts.Fill for a sync without a staging bucket: a
// first sync of 240,000 domains fills 8 lists of 30,000 side by side.
const DefaultFillPart = 30000

// maxFillParts caps the lists a fill may add beyond what Max needs: eight
// lists at 5 requests/s send one chunk to each every 1.6 s, about what a
// list takes to settle, and every extra list costs a rule.
const maxFillParts = 8

// DesiredFromPlan takes the rules of a compiled plan, as deployed over
// the lists that obs shows. A plan rule that needs more than one list
// (more domains than parts.Max, or a fill, or parts already deployed)
// becomes several adjacent rules with the same action, each with its own
// list; they match exactly as the one would. The split is sticky: a
// domain stays in the list that holds it, new domains go where there is
// room (most room first, an entry and its wildcard together), a list that
// loses all its domains goes, and domains move only out of a list that
// holds more than parts.Max, as few as bring it to parts.Max. A rule that
// grows out of one list keeps that list, under its name, as its first
// part; parts keep their deployed names.
func DesiredFromPlan(rules []dnsfw.Rule, obs Observed, parts Parts) []DesiredRule {
	out, _ := splitPlan(rules, obs, parts)
	return out
}

// splitPlan is DesiredFromPlan, and how many desired rules each plan rule
// became.
func splitPlan(rules []dnsfw.Rule, obs Observed, parts Parts) ([]DesiredRule, []int) {
	if parts.Max <= 0 {
		parts.Max = MaxListSize
	}
	owner := attribute(rules, obs.Owned)
	var out []DesiredRule
	counts := make([]int, len(rules))
	for i, r := range rules {
		var deployed []*OwnedRule
		for j := range obs.Owned {
			if owner[j] == i {
				deployed = append(deployed, &obs.Owned[j])
			}
		}
		split := splitRule(SpecOf(r), r.Domains, deployed, parts)
		if len(split) > 1 {
			for k := range split {
				split[k].group = i + 1
			}
		}
		counts[i] = len(split)
		out = append(out, split...)
	}
	return out, counts
}

// attribute says which plan rule each deployed rule is a part of (-1:
// none): the one of the same behaviour with which it shares the most
// domains.
func attribute(rules []dnsfw.Rule, owned []OwnedRule) []int {
	keys := make([]string, len(rules))
	for i, r := range rules {
		keys[i] = SpecOf(r).key()
	}
	out := make([]int, len(owned))
	for j, o := range owned {
		out[j] = -1
		best, k := 0, o.Spec.key()
		for i, r := range rules {
			if keys[i] != k {
				continue
			}
			if n := overlap(o.Domains, r.Domains); n > best {
				best, out[j] = n, i
			}
		}
	}
	return out
}

// overlap counts the names two sorted slices share.
func overlap(a, b []string) int {
	n, j := 0, 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j == len(b) {
			break
		}
		if b[j] == x {
			n++
		}
	}
	return n
}

// splitRule spreads one plan rule's sorted domains over its deployed
// parts (in priority order) and new ones.
func splitRule(spec RuleSpec, doms []string, deployed []*OwnedRule, parts Parts) []DesiredRule {
	newOnly := len(deployed) == 0 && (parts.Fill <= 0 || len(doms) <= parts.Fill)
	if len(doms) == 0 || (len(doms) <= parts.Max && (newOnly || len(deployed) == 1)) {
		if len(deployed) == 1 && ownName(deployed[0].Spec.Name, spec.Name) {
			spec.Name = deployed[0].Spec.Name
		}
		return []DesiredRule{{Spec: spec, Domains: doms}}
	}
	kept, rest := keep(doms, deployed, parts.Max)
	adds := make([][]string, len(deployed))
	rest = placeInRoom(rest, kept, adds, parts.Max)
	var out []DesiredRule
	used := map[int]bool{}
	for _, o := range deployed {
		if n, ok := partNumber(o.Spec.Name, spec.Name); ok {
			used[n] = true
		}
	}
	next := 1
	newName := func() string {
		for used[next] {
			next++
		}
		used[next] = true
		return fmt.Sprintf("%s-%d", spec.Name, next)
	}
	for p, o := range deployed {
		if len(kept[p])+len(adds[p]) == 0 {
			continue // the list goes with its rule
		}
		ps := spec
		if ownName(o.Spec.Name, spec.Name) {
			ps.Name = o.Spec.Name
		} else {
			ps.Name = newName()
		}
		out = append(out, DesiredRule{Spec: ps, Domains: mergeSorted(kept[p], adds[p])})
	}
	for _, d := range newParts(rest, parts) {
		ps := spec
		ps.Name = newName()
		out = append(out, DesiredRule{Spec: ps, Domains: d})
	}
	return out
}

// keep says which of doms each deployed part keeps, and returns the rest
// (sorted): the new domains, and the fewest domains that bring a part
// holding more than max down to max.
func keep(doms []string, deployed []*OwnedRule, max int) (kept [][]string, rest []string) {
	kept = make([][]string, len(deployed))
	for p, o := range deployed {
		kept[p] = make([]string, 0, len(o.Domains))
	}
	at := make([]int, len(deployed)) // walk every part alongside doms
	for _, d := range doms {
		holder := -1
		for p, o := range deployed {
			for at[p] < len(o.Domains) && o.Domains[at[p]] < d {
				at[p]++
			}
			if holder < 0 && at[p] < len(o.Domains) && o.Domains[at[p]] == d {
				holder = p
			}
		}
		if holder < 0 {
			rest = append(rest, d)
		} else {
			kept[holder] = append(kept[holder], d)
		}
	}
	moved := false
	for p := range kept {
		if len(kept[p]) > max {
			rest = append(rest, kept[p][max:]...)
			kept[p] = kept[p][:max:max]
			moved = true
		}
	}
	if moved {
		slices.Sort(rest)
	}
	return kept, rest
}

// placeInRoom puts whole root groups of rest (an entry and its wildcard)
// into the deployed parts with room, and returns what did not fit. They
// go in blocks of one update call (spreadBlock), round-robin over the
// parts, most room first: an addition of fewer goes to one list, a larger
// one to several that settle side by side, for no more calls (each list
// gets whole blocks but for the last).
func placeInRoom(rest []string, kept, adds [][]string, max int) []string {
	if len(rest) == 0 {
		return nil
	}
	order := make([]int, len(kept))
	for p := range order {
		order[p] = p
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(len(kept[a]), len(kept[b])) })
	quota := make([]int, len(kept))
	for left, more := len(rest), true; left > 0 && more; {
		more = false
		for _, p := range order {
			if n := min(spreadBlock, max-len(kept[p])-quota[p], left); n > 0 {
				quota[p] += n
				left -= n
				more = true
			}
		}
	}
	byRoot := sortByRoot(rest)
	short := 0 // what a cut at a root group left for the next part
	for _, p := range order {
		n := cutAtGroup(byRoot, min(quota[p]+short, max-len(kept[p])))
		short = quota[p] + short - n
		if n == 0 {
			continue
		}
		adds[p] = slices.Sorted(slices.Values(byRoot[:n]))
		byRoot = byRoot[n:]
	}
	return byRoot
}

// spreadBlock is the most domains one UpdateFirewallDomains sends.
const spreadBlock = 1000

// newParts splits domains (sorted by root) into as many new lists as
// parts asks for, evenly, whole root groups each, every list sorted.
func newParts(byRoot []string, parts Parts) [][]string {
	if len(byRoot) == 0 {
		return nil
	}
	k := ceilDiv(len(byRoot), parts.Max)
	if parts.Fill > 0 {
		k = max(k, min(ceilDiv(len(byRoot), parts.Fill), maxFillParts))
	}
	var out [][]string
	for i := k; i > 0 && len(byRoot) > 0; i-- {
		n := cutAtGroup(byRoot, ceilDiv(len(byRoot), i))
		if n == 0 {
			n = min(len(byRoot), 2) // a group of two into a list of one: cannot happen with max >= 2
		}
		out = append(out, slices.Sorted(slices.Values(byRoot[:n])))
		byRoot = byRoot[n:]
	}
	return out
}

// sortByRoot orders entries by the name they are rooted at, so that
// "*.a.b" sits next to "a.b".
func sortByRoot(doms []string) []string {
	out := slices.Clone(doms)
	slices.SortFunc(out, func(a, b string) int {
		ra, wa := strings.CutPrefix(a, "*.")
		rb, wb := strings.CutPrefix(b, "*.")
		if c := strings.Compare(ra, rb); c != 0 {
			return c
		}
		switch {
		case wa == wb:
			return 0
		case wa:
			return 1
		}
		return -1
	})
	return out
}

// cutAtGroup returns how many of byRoot, at most n, can be taken without
// splitting a root group.
func cutAtGroup(byRoot []string, n int) int {
	if n >= len(byRoot) {
		return len(byRoot)
	}
	if n <= 0 {
		return 0
	}
	if root(byRoot[n-1]) == root(byRoot[n]) {
		n--
	}
	return n
}

func root(d string) string {
	r, _ := strings.CutPrefix(d, "*.")
	return r
}

// ownName says whether a deployed rule's name is one the plan rule named
// plan may keep: the plan's name, or one of its parts, up to the position
// number the compiler puts in names.
func ownName(deployed, plan string) bool {
	_, ok := partNumber(deployed, plan)
	return ok
}

// partNumber reads which part of plan rule plan a deployed name is: 1 for
// the plan's own name (a rule that grew out of one list), n for
// "<name>-n"; ok is false for a name of another rule.
func partNumber(deployed, plan string) (int, bool) {
	if samePlace(deployed, plan) {
		return 1, true
	}
	i := strings.LastIndexByte(deployed, '-')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(deployed[i+1:])
	if err != nil || n < 1 || !samePlace(deployed[:i], plan) {
		return 0, false
	}
	return n, true
}

// mergeSorted merges two sorted slices.
func mergeSorted(a, b []string) []string {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	out := make([]string, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i] < b[j] {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// parts is how this syncer spreads plan rules over lists: without a
// staging bucket, domains that need new lists fill several side by side.
func (s *Syncer) parts() Parts {
	p := Parts{Max: MaxListSize}
	if s.cfg.ImportMin == 0 {
		p.Fill = DefaultFillPart
	}
	return p
}
