package compile

// layering assigns every entry to a rule so that first match in rule order
// equals longest match. An entry at node n can match the same query as the
// wildcard entry of any strict ancestor of n; when their outcomes differ,
// the deeper one must sit in an earlier rule. Entries with equal outcomes
// never need ordering, so each rule holds one outcome and as many entries
// as the constraints let in.
//
// Finding the fewest rules for such constraints is hard in general; the
// greedy below is the usual critical-path heuristic: among outcomes whose
// entries are free to go, take the one heading the longest remaining chain,
// and put every free entry of it in the next rule. lowerBound (the longest
// chain of alternating outcomes) says how close it came.
type layering struct {
	// layer of each node's exact and wild entry (-1 when absent).
	exactLayer, wildLayer []int32
	colors                []Outcome // outcome of each layer
	lowerBound            int
}

func (t *tree) layer() layering {
	nn := len(t.nodes)
	// nwa is the nearest strict ancestor with a wildcard entry.
	nwa := make([]int32, nn)
	for n := range t.nodes {
		nwa[n] = -1
		if n == 0 {
			continue
		}
		p := t.nodes[n].parent
		if t.nodes[p].wild != noEntry {
			nwa[n] = p
		} else {
			nwa[n] = nwa[p]
		}
	}
	// pending counts, per wildcard entry, the entries of other outcomes
	// below it that must be placed first; rank is the length of the longest
	// chain from an entry to the shallowest wildcard it must precede.
	pending := make([]int32, nn)
	rankExact := make([]int32, nn)
	rankWild := make([]int32, nn)
	rankOf := func(n int32, color Outcome) int32 {
		r := int32(1)
		for a := nwa[n]; a >= 0; a = nwa[a] {
			if t.nodes[a].wild != color {
				pending[a]++
				r = max(r, rankWild[a]+1)
			}
		}
		return r
	}
	lb := 0
	for n := range t.nodes {
		nd := &t.nodes[n]
		if nd.wild != noEntry {
			rankWild[n] = rankOf(int32(n), nd.wild)
			lb = max(lb, int(rankWild[n]))
		}
		if nd.exact != noEntry {
			rankExact[n] = rankOf(int32(n), nd.exact)
			lb = max(lb, int(rankExact[n]))
		}
	}

	type ref = int32 // node*2 + 1 for the wildcard entry
	// A bucket is first made for all the entries of its outcome, so that
	// a million entries are not appended into ever larger slices.
	sizes := t.entriesByOutcome()
	buckets := map[Outcome][]ref{}
	best := map[Outcome]int32{}
	add := func(r ref, color Outcome, rank int32) {
		b, ok := buckets[color]
		if !ok {
			b = make([]ref, 0, sizes[color])
			delete(sizes, color) // a bucket made again later is small
		}
		buckets[color] = append(b, r)
		best[color] = max(best[color], rank)
	}
	for n := range t.nodes {
		nd := &t.nodes[n]
		if nd.exact != noEntry {
			add(ref(n*2), nd.exact, rankExact[n])
		}
		if nd.wild != noEntry && pending[n] == 0 {
			add(ref(n*2+1), nd.wild, rankWild[n])
		}
	}
	// Every outcome needs a rule of its own, so that bounds the count too.
	res := layering{exactLayer: make([]int32, nn), wildLayer: make([]int32, nn), lowerBound: max(lb, len(buckets)+countWaiting(t, pending, buckets))}
	for i := range res.exactLayer {
		res.exactLayer[i], res.wildLayer[i] = -1, -1
	}
	for len(buckets) > 0 {
		var pick Outcome
		first := true
		for c, r := range best {
			if first || r > best[pick] || (r == best[pick] && c < pick) {
				pick, first = c, false
			}
		}
		layer := int32(len(res.colors))
		res.colors = append(res.colors, pick)
		refs := buckets[pick]
		delete(buckets, pick)
		delete(best, pick)
		for _, r := range refs {
			n := r / 2
			if r%2 == 1 {
				res.wildLayer[n] = layer
			} else {
				res.exactLayer[n] = layer
			}
			for a := nwa[n]; a >= 0; a = nwa[a] {
				if c := t.nodes[a].wild; c != pick {
					if pending[a]--; pending[a] == 0 {
						add(a*2+1, c, rankWild[a])
					}
				}
			}
		}
	}
	return res
}

// countWaiting counts the outcomes that only wildcards still waiting on
// others have, which the initial buckets do not show.
func countWaiting(t *tree, pending []int32, buckets map[Outcome][]int32) int {
	extra := map[Outcome]bool{}
	for n := range t.nodes {
		if c := t.nodes[n].wild; c != noEntry && pending[n] > 0 {
			if _, ok := buckets[c]; !ok {
				extra[c] = true
			}
		}
	}
	return len(extra)
}

// entriesByOutcome counts the entries of each outcome.
func (t *tree) entriesByOutcome() map[Outcome]int {
	sizes := map[Outcome]int{}
	for n := range t.nodes {
		if c := t.nodes[n].exact; c != noEntry {
			sizes[c]++
		}
		if c := t.nodes[n].wild; c != noEntry {
			sizes[c]++
		}
	}
	return sizes
}
