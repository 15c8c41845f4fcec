package fwsync

import (
	"slices"
	"strings"
)

// orphanContent is a list no rule uses that this sync may refill for a
// new rule instead of deleting it and filling a new one.
type orphanContent struct {
	id, name string
	domains  []string // sorted
}

// reusableOrphans picks, among the orphans, the lists this sync may take:
// those this state created (its instance is in their names) and those it
// adopted because they were older than OrphanGrace (aged). A list another
// state created and a rule stopped using may be another host's to
// delete or refill: it is deleted as before, never refilled here.
func reusableOrphans(st *State, prefix string, orphans []OrphanList, content map[string][]string, aged map[string]bool) []orphanContent {
	var out []orphanContent
	for _, o := range orphans {
		own := st.Instance != "" && strings.HasPrefix(o.Name, prefix+st.Instance)
		if !own && !aged[o.ID] {
			continue
		}
		out = append(out, orphanContent{id: o.ID, name: o.Name, domains: content[o.ID]})
	}
	return out
}

// reuseOrphans rewrites a plan so that new lists are filled from orphans
// whose content is close, rather than the orphan deleted and a new list
// created and filled. An orphan is close to a new list when bringing it
// to the list's content (REMOVE, then ADD, in chunks) takes no more update
// calls than filling a new one: it saves the create and the delete, and
// costs no more rounds of settling. The orphan is unattached, so refilling
// it is as safe as filling a new list; removals go first, so it never
// holds more than it held or than the new list will (the plan's peak grows
// only by what an orphan holds beyond the list it becomes).
func reuseOrphans(p Plan, usable []orphanContent, chunkSize int) Plan {
	if len(usable) == 0 {
		return p
	}
	taken := map[string]bool{}
	var refs []string
	for _, s := range p.Steps {
		if s.Kind == StepCreateList && s.Phase == PhasePrepare {
			refs = append(refs, s.List)
		}
	}
	for _, ref := range refs {
		want, fills := newListContent(p.Steps, ref)
		best, bestCost := -1, 0
		for j, o := range usable {
			if taken[o.id] {
				continue
			}
			cost := updateCalls(diff(o.domains, want), chunkSize) + updateCalls(diff(want, o.domains), chunkSize)
			if cost <= fills && (best < 0 || cost < bestCost) {
				best, bestCost = j, cost
			}
		}
		if best < 0 {
			continue
		}
		o := usable[best]
		taken[o.id] = true
		p = refill(p, ref, o, want, chunkSize)
	}
	// The cleanup no longer deletes the orphans taken.
	p.Steps = slices.DeleteFunc(p.Steps, func(s Step) bool { return s.Kind == StepDeleteList && s.Phase == PhaseCleanup && taken[s.List] })
	return p
}

// newListContent returns the domains the prepare phase puts in the new
// list ref, sorted, and how many calls it takes.
func newListContent(steps []Step, ref string) ([]string, int) {
	var want []string
	calls := 0
	for _, s := range steps {
		if s.List == ref && s.Phase == PhasePrepare && (s.Kind == StepAdd || s.Kind == StepImport) {
			want = append(want, s.Domains...)
			calls++
		}
	}
	slices.Sort(want)
	return slices.Compact(want), calls
}

func updateCalls(doms []string, size int) int { return ceilDiv(len(doms), size) }

// refill replaces, in p, the creation and filling of the new list ref
// with REMOVE and ADD chunks that bring orphan o to want, and makes every
// later step that names ref name o instead. Removals go where the list
// would have been created; additions, when removals come first, after the
// rest of the prepare phase, so the list settles from its removals while
// the other lists fill.
func refill(p Plan, ref string, o orphanContent, want []string, size int) Plan {
	remove, add := diff(o.domains, want), diff(want, o.domains)
	chunks := func(kind StepKind, doms []string) []Step {
		var out []Step
		for _, c := range chunk(doms, size) {
			out = append(out, Step{Kind: kind, Phase: PhasePrepare, List: o.id, ListName: o.name, Domains: c})
		}
		return out
	}
	first, later := chunks(StepRemove, remove), chunks(StepAdd, add)
	if len(first) == 0 {
		first, later = later, nil
	}
	var steps []Step
	lastPrepare := -1
	for _, s := range p.Steps {
		switch {
		case s.List == ref && s.Kind == StepCreateList:
			steps = append(steps, first...)
		case s.List == ref && s.Phase == PhasePrepare && (s.Kind == StepAdd || s.Kind == StepImport):
			// replaced by the chunks above
		case s.List == ref:
			s.List, s.ListName = o.id, o.name
			steps = append(steps, s)
		default:
			steps = append(steps, s)
		}
		if len(steps) > 0 && steps[len(steps)-1].Phase == PhasePrepare {
			lastPrepare = len(steps) - 1
		}
	}
	steps = slices.Insert(steps, lastPrepare+1, later...)
	p.Steps = steps
	p.Added += len(add) - len(want)
	p.Removed += len(remove)
	p.Peak += max(0, len(o.domains)-len(want))
	return p
}
