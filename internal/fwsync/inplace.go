package fwsync

import "slices"

// A rule whose action and content both change is changed in place, with
// no new rule and list, when no name it matches can be matched by another
// change of the sync: its entries (old and new) interact with no entry
// that another rule gains or loses, nor with any entry of a rule that is
// new, deleted, moved, or switches action; and its own lost entries do not
// interact with its gained ones. Then only this rule's state decides the
// outcome of its names, and it goes: remove the lost entries (each name
// loses its old match for its new one), settle, switch the action (the
// entries it keeps take their new outcome), add the gained entries. Every
// name sees its old outcome, then its new one.

// pairByOverlap pairs each unpaired desired rule with the unpaired owned
// rule of the same behaviour (sameKey) or of another that shares the most
// domains with it, and returns the desired indexes it paired.
func pairByOverlap(owned []OwnedRule, desired []DesiredRule, pairOf []int, used []bool, sameKey bool) map[int]bool {
	paired := map[int]bool{}
	for i, d := range desired {
		if pairOf[i] >= 0 {
			continue
		}
		best, at := 0, -1
		for j, o := range owned {
			if used[j] || (o.Spec.key() == d.Spec.key()) != sameKey {
				continue
			}
			if n := overlap(o.Domains, d.Domains); n > best {
				best, at = n, j
			}
		}
		if at >= 0 {
			pairOf[i], used[at], paired[i] = at, true, true
		}
	}
	return paired
}

// markInPlace marks the kept rules of seq whose action and content both
// change and that can change in place (entry.inPlace), and returns the
// desired indexes of pairs made by pairByOverlap that cannot: they are
// better replaced. Other such pairs (a monitor-only switch) keep their
// documented passage.
func markInPlace(seq []entry, byOverlap map[int]bool) []int {
	var drop []int
	var changed []entrySet // built once, when there is a candidate
	for k, e := range seq {
		if !respecs(e) {
			continue
		}
		if changed == nil {
			changed = make([]entrySet, len(seq))
			for m := range seq {
				changed[m] = newEntrySet(changedEntries(seq[m]))
			}
		}
		lost, gained := newEntrySet(diff(e.old.Domains, e.new.Domains)), newEntrySet(diff(e.new.Domains, e.old.Domains))
		ok := !e.moved && !lost.interacts(gained)
		for m := range seq {
			if ok && m != k && changed[k].interacts(changed[m]) {
				ok = false
			}
		}
		switch {
		case ok:
			seq[k].inPlace = true
		case byOverlap[e.newIndex]:
			drop = append(drop, e.newIndex)
		}
	}
	return drop
}

// respecs says whether a kept rule changes both its behaviour and its
// content.
func respecs(e entry) bool {
	return e.old != nil && e.new != nil && e.old.Spec.key() != e.new.Spec.key() && !slices.Equal(e.old.Domains, e.new.Domains)
}

// changedEntries are the entries of a rule of the merged sequence whose
// matching the sync changes: all of them for a rule that is new, deleted,
// moved or changes behaviour, else those it gains and loses.
func changedEntries(e entry) []string {
	switch {
	case e.old == nil:
		return e.new.Domains
	case e.new == nil:
		return e.old.Domains
	case e.moved || e.old.Spec.key() != e.new.Spec.key():
		return mergeSorted(e.old.Domains, diff(e.new.Domains, e.old.Domains))
	}
	return mergeSorted(diff(e.old.Domains, e.new.Domains), diff(e.new.Domains, e.old.Domains))
}

// inPlaceRemovals sends, in the add phase, the entries a rule changed in
// place loses (nothing else interacts with them, so they need no order
// against other changes), and records the rule's change.
func (p *Plan) inPlaceRemovals(e entry, i int, o Options) {
	add, rm := diff(e.new.Domains, e.old.Domains), diff(e.old.Domains, e.new.Domains)
	p.Steps = append(p.Steps, updateSteps(StepRemove, PhaseAdd, e.old, rm, o.Chunk)...)
	p.Added += len(add)
	p.Removed += len(rm)
	spec := keptSpec(e.old.Spec, e.new.Spec)
	p.Rules[i] = RuleChange{Old: &e.old.Spec, New: &spec, OldPriority: e.old.Priority, Priority: e.priority, Added: add, Removed: rm}
}

// inPlaceSwitch switches a rule changed in place once its removals have
// settled, then sends the entries it gains.
func (p *Plan) inPlaceSwitch(e entry, o Options, spec RuleSpec) {
	if len(diff(e.old.Domains, e.new.Domains)) > 0 {
		p.Steps = append(p.Steps, Step{Kind: StepSettle, Phase: PhaseSwitch, List: e.old.ListID, ListName: e.old.ListName})
	}
	p.Steps = append(p.Steps, Step{Kind: StepUpdateRule, Phase: PhaseSwitch, List: e.old.ListID, ListName: e.old.ListName, Spec: &spec})
	p.Steps = append(p.Steps, updateSteps(StepAdd, PhaseSwitch, e.old, diff(e.new.Domains, e.old.Domains), o.Chunk)...)
}
