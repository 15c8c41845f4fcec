package compile

// node is one name of the policy tree: a trigger name or an ancestor of one.
// Nodes live in one slice in pre-order (a parent before its subtree), so
// passes that need ancestors first walk it forwards and passes that need
// descendants first walk it backwards.
type node struct {
	parent int32
	// The node's name is trigs[nameRef].name[nameOff:]: every node is a
	// suffix of some trigger name, so names are not stored twice.
	nameRef, nameOff int32
	// trigs[first:end] are the records at this node.
	first, end int32
	depth      uint16
	// mask has bit k set when source k has a record at or below this node:
	// for zones, the node exists there (possibly as an empty non-terminal).
	mask uint64
	// The longest-match entries: the outcome of "name" and of "*.name", or
	// noEntry. prov is the deciding record (index in trigs), -1 for none.
	exact, wild         Outcome
	exactProv, wildProv int32
}

type tree struct {
	trigs []trig
	nodes []node
}

func (t *tree) name(n int32) string {
	nd := &t.nodes[n]
	if nd.nameRef < 0 {
		return ""
	}
	return t.trigs[nd.nameRef].name[nd.nameOff:]
}

func isAncestorOrSelf(anc, name string) bool {
	if anc == "" || anc == name {
		return true
	}
	return len(name) > len(anc) && name[len(name)-len(anc)-1] == '.' && name[len(name)-len(anc):] == anc
}

// buildTree makes the node slice from sorted, prepared records, adding the
// empty non-terminals between a record and its closest ancestor record.
func buildTree(trigs []trig) *tree {
	t := &tree{trigs: trigs, nodes: make([]node, 1, len(trigs)+len(trigs)/4+1)}
	t.nodes[0] = node{parent: -1, nameRef: -1}
	stack := []int32{0}
	for i := 0; i < len(trigs); {
		j := i + 1
		for j < len(trigs) && trigs[j].name == trigs[i].name {
			j++
		}
		name := trigs[i].name
		for !isAncestorOrSelf(t.name(stack[len(stack)-1]), name) {
			stack = stack[:len(stack)-1]
		}
		top := stack[len(stack)-1]
		if top == 0 && name == "" {
			t.nodes[0].first, t.nodes[0].end = int32(i), int32(j)
			i = j
			continue
		}
		topName := t.name(top)
		limit := len(name)
		if topName != "" {
			limit = len(name) - len(topName) - 1
		}
		push := func(off int, first, end int) {
			parent := stack[len(stack)-1]
			t.nodes = append(t.nodes, node{
				parent: parent, nameRef: int32(i), nameOff: int32(off),
				first: int32(first), end: int32(end), depth: t.nodes[parent].depth + 1,
			})
			stack = append(stack, int32(len(t.nodes)-1))
		}
		for k := limit - 1; k > 0; k-- {
			if name[k] == '.' {
				push(k+1, 0, 0) // an empty non-terminal
			}
		}
		push(0, i, j)
		i = j
	}
	for n := range t.nodes {
		nd := &t.nodes[n]
		for _, tr := range trigs[nd.first:nd.end] {
			nd.mask |= 1 << tr.src
		}
	}
	for n := len(t.nodes) - 1; n > 0; n-- {
		t.nodes[t.nodes[n].parent].mask |= t.nodes[n].mask
	}
	return t
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
		own := t.trigs[nd.first:nd.end]
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
