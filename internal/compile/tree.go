package compile

// node is one name of the policy tree: a trigger name or an ancestor of one.
// Nodes live in one slice in pre-order (a parent before its subtree), so
// passes that need ancestors first walk it forwards and passes that need
// descendants first walk it backwards.
type node struct {
	parent int32
	// The node's name is names.at(nameOff, nameLen): every node is a
	// suffix of some trigger name, so names are not stored twice.
	nameOff uint32
	// trigs[first:first+count] are the records at this node.
	first int32
	// The longest-match entries: the outcome of "name" and of "*.name", or
	// noEntry. prov is the deciding record (index in trigs), -1 for none.
	exactProv, wildProv int32
	// mask has bit k set when source k has a record at or below this node:
	// for zones, the node exists there (possibly as an empty non-terminal).
	mask                  uint64
	exact, wild           Outcome
	nameLen, count, depth uint8 // a name of 255 bytes has at most 128 labels
}

type tree struct {
	trigs []trig
	names names
	nodes []node
}

func (t *tree) name(n int32) string {
	nd := &t.nodes[n]
	return t.names.at(nd.nameOff, nd.nameLen)
}

// end is the end of n's records in trigs.
func (nd *node) end() int32 { return nd.first + int32(nd.count) }

func isAncestorOrSelf(anc, name string) bool {
	if anc == "" || anc == name {
		return true
	}
	return len(name) > len(anc) && name[len(name)-len(anc)-1] == '.' && name[len(name)-len(anc):] == anc
}

// buildTree makes the node slice from sorted, prepared records, adding the
// empty non-terminals between a record and its closest ancestor record.
// A first pass counts the nodes, so the slice is made to size.
func buildTree(trigs []trig, names names) *tree {
	t := &tree{trigs: trigs, names: names}
	count := 1
	t.walk(func(int32, int, int, int) int32 { count++; return int32(count - 1) })
	t.nodes = make([]node, 1, count)
	t.nodes[0] = node{parent: -1}
	t.walk(func(parent int32, first, off, end int) int32 {
		tr := trigs[first]
		t.nodes = append(t.nodes, node{
			parent: parent, nameOff: tr.off + uint32(off), nameLen: tr.nlen - uint8(off),
			first: int32(first), count: uint8(end - first), depth: t.nodes[parent].depth + 1,
		})
		return int32(len(t.nodes) - 1)
	})
	for n := range t.nodes {
		nd := &t.nodes[n]
		for _, tr := range trigs[nd.first:nd.end()] {
			nd.mask |= 1 << tr.src
		}
	}
	for n := len(t.nodes) - 1; n > 0; n-- {
		t.nodes[t.nodes[n].parent].mask |= t.nodes[n].mask
	}
	return t
}

// walk calls push for every node but the root in pre-order: its parent,
// the run of records that holds its name, the offset of its name in their
// name, and the end of the records at the node (first for an empty
// non-terminal). push returns the node's index. When the slice is not
// built yet (the counting pass), names come from the records alone.
func (t *tree) walk(push func(parent int32, first, off, end int) int32) {
	type frame struct {
		n    int32
		name string
	}
	stack := []frame{{0, ""}}
	for i := 0; i < len(t.trigs); {
		name := t.trigs[i].name(t.names)
		j := i + 1
		for j < len(t.trigs) && t.trigs[j].name(t.names) == name {
			j++
		}
		for !isAncestorOrSelf(stack[len(stack)-1].name, name) {
			stack = stack[:len(stack)-1]
		}
		top := stack[len(stack)-1]
		if top.n == 0 && name == "" {
			if len(t.nodes) > 0 {
				t.nodes[0].first, t.nodes[0].count = int32(i), uint8(j-i)
			}
			i = j
			continue
		}
		limit := len(name)
		if top.name != "" {
			limit = len(name) - len(top.name) - 1
		}
		for k := limit - 1; k > 0; k-- {
			if name[k] == '.' {
				n := push(stack[len(stack)-1].n, i, k+1, i) // an empty non-terminal
				stack = append(stack, frame{n, name[k+1:]})
			}
		}
		n := push(stack[len(stack)-1].n, i, 0, j)
		stack = append(stack, frame{n, name})
		i = j
	}
}

// evaluate computes, for every node, the policy outcome of the name itself
// (E) and of the names below it that are not in the tree (W), and keeps an
// entry wherever E or W differs from the parent's W: the longest-match
// form of the policy. It is the only place that knows RPZ lookup rules.
func (t *tree) evaluate(sources []Source) {
	k := len(sources)
	maxDepth := 0
	for i := range t.nodes {
		maxDepth = max(maxDepth, int(t.nodes[i].depth))
	}
	// cw[d*k+s] is, for the node on the current path at depth d, the
	// wildcard record of source s that covers names below it that the
	// source does not hold (for a zone: the wildcard of the closest
	// encloser), or -1.
	cw := make([]int32, (maxDepth+2)*k)
	for i := range cw[:k] {
		cw[i] = -1
	}
	// wAt[d] is W of the node on the current path at depth d.
	wAt := make([]Outcome, maxDepth+2)
	wProvAt := make([]int32, maxDepth+2)
	for n := range t.nodes {
		nd := &t.nodes[n]
		d := int(nd.depth) + 1 // slot 0 is the parent of the root
		up, here := cw[(d-1)*k:d*k], cw[d*k:(d+1)*k]
		own := t.trigs[nd.first:nd.end()]
		ownRec := func(s int, wild bool) int32 {
			for i, tr := range own {
				if int(tr.src) == s && tr.wild == wild {
					return nd.first + int32(i)
				}
			}
			return -1
		}
		for s := range k {
			w := ownRec(s, true)
			switch {
			case w >= 0:
				here[s] = w
			case sources[s].Kind == KindZone && nd.mask&(1<<s) != 0:
				here[s] = -1 // the closest encloser is this node, which has no wildcard
			default:
				here[s] = up[s]
			}
		}
		e, eProv := NoMatch, int32(-1)
		for s := range k {
			if r := ownRec(s, false); r >= 0 {
				e, eProv = t.trigs[r].out, r
				break
			}
			if sources[s].Kind == KindZone && nd.mask&(1<<s) != 0 {
				continue // the name exists in the zone without data: no rewrite
			}
			if up[s] >= 0 {
				e, eProv = t.trigs[up[s]].out, up[s]
				break
			}
		}
		w, wProv := NoMatch, int32(-1)
		for s := range k {
			if here[s] >= 0 {
				w, wProv = t.trigs[here[s]].out, here[s]
				break
			}
		}
		wAt[d], wProvAt[d] = w, wProv
		inherited := wAt[d-1] // slot 0 stays NoMatch: nothing is above the root
		nd.exact, nd.exactProv, nd.wild, nd.wildProv = noEntry, -1, noEntry, -1
		if n != 0 && e != inherited {
			nd.exact, nd.exactProv = e, eProv
		}
		if w != inherited {
			nd.wild, nd.wildProv = w, wProv
		}
	}
}

// pruneBelow removes entries in the subtree of n (n excluded) that repeat
// what they inherit, after n's wildcard entry was dropped, and returns how
// many it removed. The subtree is the run of nodes after n that are deeper
// than n, since nodes are in pre-order.
func (t *tree) pruneBelow(n int32) int {
	above := NoMatch
	for a := t.nodes[n].parent; a >= 0; a = t.nodes[a].parent {
		if t.nodes[a].wild != noEntry {
			above = t.nodes[a].wild
			break
		}
	}
	// eff[d] is what the node on the current path at depth d passes down.
	base := int(t.nodes[n].depth)
	eff := []Outcome{above}
	removed := 0
	for i := n + 1; int(i) < len(t.nodes) && int(t.nodes[i].depth) > base; i++ {
		nd := &t.nodes[i]
		d := int(nd.depth) - base
		eff = eff[:d]
		inherited := eff[d-1]
		if nd.exact != noEntry && nd.exact == inherited {
			nd.exact, nd.exactProv = noEntry, -1
			removed++
		}
		if nd.wild != noEntry && nd.wild == inherited {
			nd.wild, nd.wildProv = noEntry, -1
			removed++
		}
		if nd.wild != noEntry {
			inherited = nd.wild
		}
		eff = append(eff, inherited)
	}
	return removed
}

// count returns the number of entries.
func (t *tree) count() int {
	c := 0
	for i := range t.nodes {
		if t.nodes[i].exact != noEntry {
			c++
		}
		if t.nodes[i].wild != noEntry {
			c++
		}
	}
	return c
}

// entry names an entry for messages and output.
func (t *tree) entry(n int32, wild bool) string {
	name := t.name(n)
	switch {
	case !wild:
		return name
	case name == "":
		return "*"
	default:
		return "*." + name
	}
}
