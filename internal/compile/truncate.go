package compile

import (
	"cmp"
	"fmt"
	"slices"
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
	type cand struct {
		node int32
		wild bool
		src  uint8
		line uint32
	}
	var cands []cand
	for n := range t.nodes {
		nd := &t.nodes[n]
		if nd.exact != noEntry && nd.exact.blocks() {
			tr := t.trigs[nd.exactProv]
			cands = append(cands, cand{int32(n), false, tr.src, tr.line})
		}
		if nd.wild != noEntry && nd.wild.blocks() {
			tr := t.trigs[nd.wildProv]
			cands = append(cands, cand{int32(n), true, tr.src, tr.line})
		}
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if c := cmp.Compare(b.src, a.src); c != 0 {
			return c
		}
		if a.wild != b.wild {
			if a.wild {
				return 1
			}
			return -1
		}
		return cmp.Compare(b.line, a.line)
	})
	for _, c := range cands {
		if total <= maxEntries {
			return res, nil
		}
		nd := &t.nodes[c.node]
		slot, prov := &nd.exact, &nd.exactProv
		if c.wild {
			slot, prov = &nd.wild, &nd.wildProv
		}
		if *slot == noEntry {
			continue // pruned as a consequence of an earlier drop
		}
		*slot, *prov = noEntry, -1
		res.dropped++
		res.bySource[sources[c.src].Name]++
		total--
		if c.wild {
			// Only a wildcard passes outcomes down; without it, entries
			// below that undid it may repeat what they now inherit.
			freed := t.pruneBelow(c.node)
			res.freed += freed
			total -= freed
		}
	}
	if total > maxEntries {
		return res, fmt.Errorf("the policy needs %d domains for allow and passthru entries alone, more than the maximum of %d", total, maxEntries)
	}
	return res, nil
}
