package fwsync

import (
	"slices"
	"strings"
)

// waits tracks the lists of one phase whose changes are still settling.
type waits struct {
	pending []pendingList
}

type pendingList struct {
	id, name string
	doms     entrySet
}

// before returns the settle steps that must come before a change of doms:
// one for each list still settling whose changes interact with them.
func (w *waits) before(phase string, doms []string) []Step {
	if len(doms) == 0 || len(w.pending) == 0 {
		return nil
	}
	set := newEntrySet(doms)
	var steps []Step
	w.pending = slices.DeleteFunc(w.pending, func(l pendingList) bool {
		if !l.doms.interacts(set) {
			return false
		}
		steps = append(steps, Step{Kind: StepSettle, Phase: phase, List: l.id, ListName: l.name})
		return true
	})
	return steps
}

// after records that list id was sent doms and is settling.
func (w *waits) after(id, name string, doms []string) {
	if len(doms) > 0 {
		w.pending = append(w.pending, pendingList{id, name, newEntrySet(doms)})
	}
}

// entrySet holds list entries by the name they are rooted at ("*.a.b" and
// "a.b" both at "a.b"), and which roots carry a wildcard.
type entrySet struct {
	roots    map[string]bool
	wildcard map[string]bool
}

func newEntrySet(doms []string) entrySet {
	s := entrySet{roots: make(map[string]bool, len(doms)), wildcard: map[string]bool{}}
	for _, d := range doms {
		root, wild := strings.CutPrefix(d, "*.")
		s.roots[root] = true
		if wild {
			s.wildcard[root] = true
		}
	}
	return s
}

// interacts says whether some query name could match an entry of s and
// one of t: the same root, or a name under the other's wildcard. It errs
// on the side of yes (a wildcard counts as matching its root too).
func (s entrySet) interacts(t entrySet) bool {
	return s.under(t) || t.under(s)
}

// under says whether an entry of s shares a root with t or sits below one
// of t's wildcards.
func (s entrySet) under(t entrySet) bool {
	if len(t.wildcard) == 0 && len(s.roots) > len(t.roots) {
		s, t = t, s // exact roots only: look the smaller set up in the larger
	}
	for root := range s.roots {
		if t.roots[root] {
			return true
		}
		if len(t.wildcard) == 0 {
			continue
		}
		for name := root; ; {
			_, parent, ok := strings.Cut(name, ".")
			if !ok {
				break
			}
			if t.wildcard[parent] {
				return true
			}
			name = parent
		}
	}
	return false
}
