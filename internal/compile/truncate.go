package compile

import (
	"fmt"
	"math"
)

// truncation reports what truncate removed.
type truncation struct {
	dropped  int
	bySource map[string]int
	// freed counts allow and passthru entries that became unnecessary
	// because the block they carved out of was dropped.
	freed int
}

// truncate removes block entries until the tree holds at most maxEntries
// entries. It drops the lowest-precedence blocks first (last source first;
// exact names before wildcards; later lines first) and never an ALLOW or
// ALERT entry: without a block entry a name falls through to a shallower
// entry, which either blocks too (the full policy blocked it) or lets it
// through. So nothing the full policy lets through is ever blocked.
func (t *tree) truncate(maxEntries int, sources []Source) (truncation, error) {
	res := truncation{bySource: map[string]int{}}
	total := t.count()
	if total <= maxEntries {
		return res, nil
	}
	cands, keys := t.dropOrder()
	for i, c := range cands {
		if total <= maxEntries {
			return res, nil
		}
		wild := c&1 == 1
		nd := &t.nodes[c/2]
		slot, prov := &nd.exact, &nd.exactProv
		if wild {
			slot, prov = &nd.wild, &nd.wildProv
		}
		if *slot == noEntry {
			continue // pruned as a consequence of an earlier drop
		}
		*slot, *prov = noEntry, -1
		res.dropped++
		res.bySource[sources[dropSource(keys[i])].Name]++
		total--
		if wild {
			// Only a wildcard passes outcomes down; without it, entries
			// below that undid it may repeat what they now inherit.
			freed := t.pruneBelow(c / 2)
			res.freed += freed
			total -= freed
		}
	}
	if total > maxEntries {
		return res, fmt.Errorf("the policy needs %d domains for allow and passthru entries alone, more than the maximum of %d", total, maxEntries)
	}
	return res, nil
}

// dropOrder returns the block entries (node*2, +1 for the wildcard entry)
// in the order truncate drops them: last source first, exact names before
// wildcards, later lines first, and in tree order when all that is equal.
// keys[i] is cands[i]'s sort key, which dropSource reads.
func (t *tree) dropOrder() (cands []int32, keys []uint64) {
	n := 0
	for i := range t.nodes {
		nd := &t.nodes[i]
		if nd.exact != noEntry && nd.exact.blocks() {
			n++
		}
		if nd.wild != noEntry && nd.wild.blocks() {
			n++
		}
	}
	cands, keys = make([]int32, 0, n), make([]uint64, 0, n)
	key := func(prov int32, wild uint64) uint64 {
		tr := t.trigs[prov]
		return uint64(MaxSources-1-int(tr.src))<<33 | wild<<32 | uint64(math.MaxUint32-tr.line)
	}
	for i := range t.nodes {
		nd := &t.nodes[i]
		if nd.exact != noEntry && nd.exact.blocks() {
			cands, keys = append(cands, int32(i)*2), append(keys, key(nd.exactProv, 0))
		}
		if nd.wild != noEntry && nd.wild.blocks() {
			cands, keys = append(cands, int32(i)*2+1), append(keys, key(nd.wildProv, 1))
		}
	}
	if len(cands) > 0 {
		radixPairs(keys, cands, make([]uint64, len(keys)), make([]int32, len(cands)))
	}
	return cands, keys
}

// dropSource is the source of a dropOrder key.
func dropSource(key uint64) int { return MaxSources - 1 - int(key>>33) }
