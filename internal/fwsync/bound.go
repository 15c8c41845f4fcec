package fwsync

// Bounds are the fewest calls any safe, diff-based sync could make for the
// changes a plan carries out, to print beside the calls made.
type Bounds struct {
	// Updates is the fewest UpdateFirewallDomains (and imports): for each
	// list, one call per 1000 domains it gains and one per 1000 it loses
	// (a new list filled from the staging bucket: one import per file).
	// A list deleted with its rule costs none.
	Updates int
	// Calls is the make-before-break floor: the two reads every sync
	// makes (the group's rules, the account's lists), Updates, one status
	// read per list changed (a list must be seen settled before a rule
	// uses it and before its content is recorded), and each rule and list
	// the plan creates, moves, switches or deletes.
	Calls int
}

// PlanBounds works out the bounds of a plan's steps.
func PlanBounds(p Plan) Bounds {
	type perList struct{ add, remove, imports int }
	lists := map[string]*perList{}
	at := func(id string) *perList {
		l := lists[id]
		if l == nil {
			l = &perList{}
			lists[id] = l
		}
		return l
	}
	other := 0
	for _, s := range p.Steps {
		switch s.Kind {
		case StepAdd:
			at(s.List).add += len(s.Domains)
		case StepRemove:
			at(s.List).remove += len(s.Domains)
		case StepImport:
			at(s.List).imports++
		case StepCreateList, StepCreateRule, StepDeleteRule, StepDeleteList, StepMoveRule, StepUpdateRule:
			other++
		}
	}
	var b Bounds
	for _, l := range lists {
		b.Updates += l.imports + ceilDiv(l.add, 1000) + ceilDiv(l.remove, 1000)
	}
	b.Calls = 2 + b.Updates + len(lists) + other
	return b
}
