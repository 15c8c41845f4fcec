package fwsync

import (
	"slices"
	"sort"
)

// merge pairs desired rules with owned ones and lays both out in one
// sequence that respects the old order and the new order.
//
// Pairing, in order of preference: same name and behaviour (a content
// diff); same behaviour and content (a rule that moved); same behaviour
// (layers renumbered); same content (an action
// change, e.g. monitor-only switched); same name with BLOCK and ALERT
// swapped (a monitor-only switch with content changes, which passes
// through the new content under the old actions). Other changes of
// action become a new rule and a removed one. Pairs whose old order
// disagrees with the new order (outside the longest increasing run) are
// moved in place when allowMoves is set and no name can match both the
// rule and one it passes (movesSafely); otherwise they are split into a
// removal and a creation, since moving such a rule could change answers.
func merge(owned []OwnedRule, desired []DesiredRule, allowMoves bool) []entry {
	pairOf := make([]int, len(desired)) // desired index -> owned index, -1
	used := make([]bool, len(owned))
	for i := range pairOf {
		pairOf[i] = -1
	}
	try := func(match func(o OwnedRule, d DesiredRule) bool) {
		for i, d := range desired {
			if pairOf[i] >= 0 {
				continue
			}
			for j, o := range owned {
				if !used[j] && match(o, d) {
					pairOf[i], used[j] = j, true
					break
				}
			}
		}
	}
	try(func(o OwnedRule, d DesiredRule) bool { return o.Spec == d.Spec })
	// A rule that kept its behaviour and content but moved (layers
	// reordered, names renumbered) is the same rule before any other of
	// the same behaviour.
	try(func(o OwnedRule, d DesiredRule) bool {
		return o.Spec.key() == d.Spec.key() && slices.Equal(o.Domains, d.Domains)
	})
	// The same behaviour with the most domains in common (a content diff).
	pairByOverlap(owned, desired, pairOf, used, true)
	try(func(o OwnedRule, d DesiredRule) bool { return slices.Equal(o.Domains, d.Domains) })
	// A monitor-only switch keeps rule names and toggles BLOCK and ALERT.
	try(func(o OwnedRule, d DesiredRule) bool {
		return o.Spec.Name == d.Spec.Name && (o.Spec.Action == "ALERT") != (d.Spec.Action == "ALERT")
	})
	// A rule whose action and content both change: changed in place when
	// it can be (markInPlace), else replaced.
	byOverlap := pairByOverlap(owned, desired, pairOf, used, false)
	// Layers renumbered: the same behaviour, nothing in common, one list
	// refilled rather than one replaced.
	try(func(o OwnedRule, d DesiredRule) bool { return o.Spec.key() == d.Spec.key() })

	keep := lis(pairOf)
	for i, j := range pairOf {
		if j >= 0 && byOverlap[i] && !keep[i] {
			pairOf[i], used[j] = -1, false // not worth a move too
		}
	}
	var out []int // pairs out of order: moved in place if safe, else split
	for i := range pairOf {
		if pairOf[i] >= 0 && !keep[i] {
			out = append(out, i)
		}
	}
	moved := map[int]bool{}
	lay := func() []entry {
		var seq []entry
		next := 0 // next owned rule not yet placed
		placeOldUpTo := func(limit int) {
			for ; next < limit; next++ {
				if !used[next] {
					seq = append(seq, entry{old: &owned[next], priority: owned[next].Priority, oldIndex: next})
				}
			}
		}
		for i := range desired {
			j := pairOf[i]
			switch {
			case j >= 0 && moved[i]:
				seq = append(seq, entry{old: &owned[j], new: &desired[i], newIndex: i, priority: owned[j].Priority, moved: true, oldIndex: j})
			case j >= 0 && keep[i]:
				placeOldUpTo(j)
				seq = append(seq, entry{old: &owned[j], new: &desired[i], newIndex: i, priority: owned[j].Priority, oldIndex: j})
				next = j + 1
			default:
				seq = append(seq, entry{new: &desired[i], newIndex: i})
			}
		}
		placeOldUpTo(len(owned))
		return seq
	}
	for _, i := range out {
		used[pairOf[i]] = false
	}
	for _, i := range out {
		if !allowMoves {
			break
		}
		// Try it as a move; keep it so only if no rule it passes could
		// match a name it matches.
		used[pairOf[i]], moved[i] = true, true
		if !movesSafely(lay(), owned) {
			used[pairOf[i]], moved[i] = false, false
		}
	}
	for _, i := range out {
		if !moved[i] {
			pairOf[i] = -1
		}
	}
	seq := lay()
	for {
		drop := markInPlace(seq, byOverlap)
		if len(drop) == 0 {
			break
		}
		// Pairs that cannot change in place are replaced; the layout that
		// changes may make a move pass a rule it shares a name with, and
		// then the moved pairs are replaced too.
		for _, i := range drop {
			used[pairOf[i]], pairOf[i] = false, -1
		}
		if seq = lay(); !movesSafely(seq, owned) {
			for i, m := range moved {
				if m {
					used[pairOf[i]], pairOf[i] = false, -1
				}
			}
			clear(moved)
			seq = lay()
		}
	}
	// New-only rules placed before leftover old-only rules at the end keep
	// the merge valid either way; old-only rules stay where they are.
	return seq
}

// movesSafely says whether every moved rule of seq can pass the deployed
// rules it passes (those whose order relative to it differs between the
// deployed order and seq, and the other moved rules) without a name
// changing outcome: no name may match both.
func movesSafely(seq []entry, owned []OwnedRule) bool {
	sets := map[int]entrySet{}
	set := func(k int) entrySet {
		if _, ok := sets[k]; !ok {
			sets[k] = newEntrySet(owned[k].Domains)
		}
		return sets[k]
	}
	for a, e := range seq {
		if !e.moved {
			continue
		}
		ia := e.oldIndex
		for b, f := range seq {
			if f.old == nil || b == a {
				continue
			}
			// Two moved rules may pass each other while the moves are under
			// way, whatever their final order.
			if ib := f.oldIndex; ((ib < ia) != (b < a) || f.moved) && set(ia).interacts(set(ib)) {
				return false
			}
		}
	}
	return true
}

// lis marks the pairs that form the longest run with increasing owned
// index, in desired order.
func lis(pairOf []int) []bool {
	type item struct{ di, oi int }
	var items []item
	for i, j := range pairOf {
		if j >= 0 {
			items = append(items, item{i, j})
		}
	}
	keep := make([]bool, len(pairOf))
	if len(items) == 0 {
		return keep
	}
	tails := []int{} // index into items of the tail of each length
	prev := make([]int, len(items))
	for k, it := range items {
		pos := sort.Search(len(tails), func(x int) bool { return items[tails[x]].oi >= it.oi })
		if pos > 0 {
			prev[k] = tails[pos-1]
		} else {
			prev[k] = -1
		}
		if pos == len(tails) {
			tails = append(tails, k)
		} else {
			tails[pos] = k
		}
	}
	for k := tails[len(tails)-1]; k >= 0; k = prev[k] {
		keep[items[k].di] = true
	}
	return keep
}
