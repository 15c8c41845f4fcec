package fwsync

import (
	"fmt"
	"slices"
	"strings"
)

// StepKind is one kind of planned action.
type StepKind int

const (
	StepDeleteList StepKind = iota
	StepMoveRule            // UpdateFirewallRule priority only
	StepCreateList
	StepAdd
	StepRemove
	StepImport
	StepSettle // wait until the list is COMPLETE
	StepCreateRule
	StepUpdateRule // action or name
	StepDeleteRule
)

// Phase names, in the order they run.
const (
	PhaseCleanup = "cleanup" // orphans, unattached: no effect on answers
	PhaseMove    = "move"    // priority moves that keep the order
	PhasePrepare = "prepare" // new lists filled before any rule uses them
	PhaseAdd     = "add"     // additions and new rules, in precedence order
	PhaseSwitch  = "switch"  // action changes on rules whose content stays
	PhaseRemove  = "remove"  // removals and old rules, in reverse order
	PhaseRetire  = "retire"  // lists of removed rules
)

// Step is one planned action. List is a list ID, or "new:N" for a list the
// sync creates (N indexes the desired rules).
type Step struct {
	Kind     StepKind
	Phase    string
	List     string
	ListName string
	Domains  []string
	Priority int
	Spec     *RuleSpec
}

// Plan is what a sync will do, and what it costs.
type Plan struct {
	Steps []Step
	// Added and Removed count domains sent.
	Added, Removed int
	// Peak is the most domains rpzfw's lists hold at any moment.
	Peak int
	// Unchanged is true when nothing needs doing.
	Unchanged bool
	// Rules says what happens to each of rpzfw's rules, old and new, in
	// precedence order after the sync.
	Rules []RuleChange
}

// RuleChange is what a sync does to one of rpzfw's rules. Its domain
// slices share the plan's and the observed rules' arrays: nothing is
// copied, so a plan costs no more memory for saying this.
type RuleChange struct {
	// Old is the rule as deployed (nil: a new rule), New the rule as
	// planned (nil: a rule the sync deletes).
	Old, New *RuleSpec
	// OldPriority is the deployed rule's priority (0 for a new rule);
	// Priority is the rule's priority once the sync is done (for a
	// deleted rule, the one it had when it went).
	OldPriority, Priority int
	// Added and Removed are the domains the sync adds to the rule's list
	// and removes from it, sorted: all of a new rule's domains, all of a
	// deleted rule's.
	Added, Removed []string
}

// Change names what happens to the rule: "create", "delete", "update"
// (domains, action or name), "move" (priority only) or "none".
func (c RuleChange) Change() string {
	switch {
	case c.Old == nil:
		return "create"
	case c.New == nil:
		return "delete"
	case len(c.Added) > 0 || len(c.Removed) > 0 || *c.Old != *c.New:
		return "update"
	case c.OldPriority != c.Priority:
		return "move"
	}
	return "none"
}

// Options tune planning.
type Options struct {
	Band Band
	// Chunk is the most domains per UpdateFirewallDomains (1000).
	Chunk int
	// ImportMin is the size from which a new list is imported from S3
	// instead of sent in chunks; 0 never imports.
	ImportMin int
	// ImportMax is the most domains one import file may hold (250000).
	ImportMax int
	// NewListName names the list for desired rule i.
	NewListName func(i int) string
}

// entry is one rule of the merged old+new sequence.
type entry struct {
	old      *OwnedRule
	new      *DesiredRule
	newIndex int
	priority int
	// moved: a kept rule whose place in the order changes. It is moved in
	// place (UpdateFirewallRule) before anything else, which is safe
	// because no name can match both it and a rule it passes.
	moved bool
	// oldIndex is the old rule's place in the deployed order.
	oldIndex int
	// inPlace: a kept rule whose action and content both change, changed
	// in place (inplace.go).
	inPlace bool
}

// MakePlan works out the steps from observed to desired, phase by phase
// (the Phase constants, in their order).
func MakePlan(obs Observed, desired []DesiredRule, o Options) (Plan, error) {
	o = o.withDefaults()
	if err := checkBand(obs, desired, o.Band); err != nil {
		return Plan{}, err
	}
	seq := merge(obs.Owned, desired, true)
	moves, ok := moveInPlace(seq, o.Band)
	if !ok {
		// The moved rules do not fit between their new neighbours: they
		// are replaced (a new rule and list, the old one removed) instead.
		seq = merge(obs.Owned, desired, false)
	}
	var p Plan
	for _, orphan := range obs.Orphans {
		p.Steps = append(p.Steps, Step{Kind: StepDeleteList, Phase: PhaseCleanup, List: orphan.ID, ListName: orphan.Name})
	}
	if !ok {
		var err error
		if moves, err = assignPriorities(seq, o.Band); err != nil {
			return Plan{}, err
		}
	}
	p.Steps = append(p.Steps, moves...)
	p.Rules = make([]RuleChange, len(seq))
	p.prepare(seq, o)
	w := p.add(seq, o)
	p.switchActions(seq, o, &w)
	p.remove(seq, o, w)
	p.Peak = peak(seq)
	p.Unchanged = len(p.Steps) == 0
	return p, nil
}

func (o Options) withDefaults() Options {
	if o.Chunk <= 0 {
		o.Chunk = 1000
	}
	if o.ImportMax <= 0 {
		o.ImportMax = 250000
	}
	if o.NewListName == nil {
		o.NewListName = func(i int) string { return fmt.Sprintf("rpzfw-%d", i) }
	}
	return o
}

// checkBand refuses a plan whose rules cannot live in band: someone
// else's rule inside it, one of ours outside it (the band changed), or
// more rules than it has priorities.
//
// The band matters only where rules are placed or moved: removing
// everything (unsync) moves nothing, so it works whatever the band and
// whoever else has rules in it. That is what the advice below relies on.
func checkBand(obs Observed, desired []DesiredRule, band Band) error {
	if len(desired) == 0 {
		return nil
	}
	for _, f := range obs.Foreign {
		if f.Priority >= band.Lo && f.Priority <= band.Hi {
			return mark(ErrForeignRule, fmt.Errorf("rule %q (priority %d, list %s) is not rpzfw's but sits inside rpzfw's priority band %s: move it out of the band "+
				"(aws route53resolver update-firewall-rule --firewall-rule-group-id <this group> --firewall-domain-list-id %s --priority <outside %s>), "+
				"or give rpzfw another band: run 'rpzfw unsync' with the same flags (it removes only rpzfw's rules, whatever their priority), then sync with --priority-band set to a range that holds no other rule",
				f.Name, f.Priority, f.ListID, band, f.ListID, band))
		}
	}
	for _, r := range obs.Owned {
		if r.Priority < band.Lo || r.Priority > band.Hi {
			return mark(ErrBand, fmt.Errorf("rpzfw's rule %q has priority %d, outside the band %s: the band changed. Sync with the band it was deployed with, "+
				"or run 'rpzfw unsync' with the same flags (it removes rpzfw's rules whatever their priority) and then sync with the new band", r.Spec.Name, r.Priority, band))
		}
	}
	if len(desired) > band.Hi-band.Lo+1 {
		return mark(ErrBand, fmt.Errorf("%d rules do not fit the priority band %s", len(desired), band))
	}
	return nil
}

// prepare creates and fills the lists of new rules before any rule uses
// them, chunks round-robin across lists so their settling overlaps (or
// one import for a large list).
func (p *Plan) prepare(seq []entry, o Options) {
	type fill struct {
		ref, name string
		chunks    [][]string
	}
	var fills []fill
	for _, e := range seq {
		if e.old != nil || e.new == nil {
			continue
		}
		ref := fmt.Sprintf("new:%d", e.newIndex)
		p.Steps = append(p.Steps, Step{Kind: StepCreateList, Phase: PhasePrepare, List: ref, ListName: o.NewListName(e.newIndex)})
		doms := e.new.Domains
		if o.ImportMin > 0 && len(doms) >= o.ImportMin {
			n := min(len(doms), o.ImportMax)
			p.Steps = append(p.Steps, Step{Kind: StepImport, Phase: PhasePrepare, List: ref, ListName: o.NewListName(e.newIndex), Domains: doms[:n]})
			doms = doms[n:]
		}
		fills = append(fills, fill{ref, o.NewListName(e.newIndex), chunk(doms, o.Chunk)})
		p.Added += len(e.new.Domains)
	}
	for round := 0; ; round++ {
		any := false
		for _, f := range fills {
			if round < len(f.chunks) {
				p.Steps = append(p.Steps, Step{Kind: StepAdd, Phase: PhasePrepare, List: f.ref, ListName: f.name, Domains: f.chunks[round]})
				any = true
			}
		}
		if !any {
			break
		}
	}
}

// add sends the additions of kept rules and creates new rules, in
// precedence order. A list is waited for only where it matters: before a
// later rule's additions or creation when their entries interact with an
// earlier rule's additions still settling (a name the earlier rule gains
// must not reach the later one first). The lists still settling at the end
// of the phase are returned: an action switch or a removal waits for those
// whose additions interact with it (a name must have its new match before
// it loses its old one), and the rest settle side by side with them (a
// list's own later change waits for it anyway: the service takes one change
// at a time).
func (p *Plan) add(seq []entry, o Options) waits {
	var w waits
	for i := 0; i < len(seq); i++ {
		e := seq[i]
		switch {
		case partRun(seq, i) > i+1:
			j := partRun(seq, i)
			p.addRun(seq, i, j, o, &w)
			i = j - 1
		case e.inPlace:
			p.inPlaceRemovals(e, i, o)
		case e.old != nil && e.new != nil:
			add := diff(e.new.Domains, e.old.Domains)
			p.Steps = append(p.Steps, w.before(PhaseAdd, add)...)
			p.Steps = append(p.Steps, updateSteps(StepAdd, PhaseAdd, e.old, add, o.Chunk)...)
			w.after(e.old.ListID, e.old.ListName, add)
			p.Added += len(add)
			spec := keptSpec(e.old.Spec, e.new.Spec)
			p.Rules[i] = RuleChange{Old: &e.old.Spec, New: &spec, OldPriority: e.old.Priority, Priority: e.priority, Added: add}
		case e.new != nil:
			p.Rules[i] = RuleChange{New: &e.new.Spec, Priority: e.priority, Added: e.new.Domains}
			ref := fmt.Sprintf("new:%d", e.newIndex)
			spec := e.new.Spec
			p.Steps = append(p.Steps, w.before(PhaseAdd, e.new.Domains)...)
			p.Steps = append(p.Steps,
				Step{Kind: StepSettle, Phase: PhaseAdd, List: ref, ListName: o.NewListName(e.newIndex)},
				Step{Kind: StepCreateRule, Phase: PhaseAdd, List: ref, ListName: o.NewListName(e.newIndex), Priority: e.priority, Spec: &spec})
		}
	}
	return w
}

// switchActions changes the action or name of kept rules, each once the
// additions its names interact with have settled (w); a rule whose name
// changed only in its position number keeps its name (keptSpec), so a rule
// that merely moved costs no call here.
func (p *Plan) switchActions(seq []entry, o Options, w *waits) {
	for _, e := range seq {
		if e.old == nil || e.new == nil {
			continue
		}
		if spec := keptSpec(e.old.Spec, e.new.Spec); e.inPlace {
			p.inPlaceSwitch(e, o, spec)
		} else if spec != e.old.Spec {
			if spec.key() != e.old.Spec.key() {
				p.Steps = append(p.Steps, w.before(PhaseSwitch, e.old.Domains)...)
			}
			p.Steps = append(p.Steps, Step{Kind: StepUpdateRule, Phase: PhaseSwitch, List: e.old.ListID, ListName: e.old.ListName, Spec: &spec})
		}
	}
}

// remove sends the removals of kept rules and deletes old rules, in
// reverse precedence order, then retires the old rules' lists. A list is
// waited for only before an earlier rule loses entries that interact with
// its removals still settling (a name must not lose its old match while a
// later leftover could still catch it), or whose additions still settling
// interact with them (w, from the add phase); the rest settle side by side.
func (p *Plan) remove(seq []entry, o Options, w waits) {
	var retire []Step
	for i := len(seq) - 1; i >= 0; i-- {
		e := seq[i]
		switch {
		case runStart(seq, i) < i:
			s := runStart(seq, i)
			p.removeRun(seq, s, i, o, &w)
			i = s
		case e.inPlace: // its removals went before its switch
		case e.old != nil && e.new != nil:
			rm := diff(e.old.Domains, e.new.Domains)
			p.Steps = append(p.Steps, w.before(PhaseRemove, rm)...)
			p.Steps = append(p.Steps, updateSteps(StepRemove, PhaseRemove, e.old, rm, o.Chunk)...)
			w.after(e.old.ListID, e.old.ListName, rm)
			p.Removed += len(rm)
			p.Rules[i].Removed = rm
		case e.old != nil:
			p.Steps = append(p.Steps, w.before(PhaseRemove, e.old.Domains)...)
			p.Steps = append(p.Steps, Step{Kind: StepDeleteRule, Phase: PhaseRemove, List: e.old.ListID, ListName: e.old.ListName})
			retire = append(retire, Step{Kind: StepDeleteList, Phase: PhaseRetire, List: e.old.ListID, ListName: e.old.ListName})
			p.Removed += len(e.old.Domains)
			p.Rules[i] = RuleChange{Old: &e.old.Spec, OldPriority: e.old.Priority, Priority: e.priority, Removed: e.old.Domains}
		}
	}
	p.Steps = append(p.Steps, retire...)
}

// keptSpec is what a kept rule becomes: the new settings, under the old
// name when the names differ only in the position number the compiler puts
// in them ("rpzfw-3-nxdomain" for "rpzfw-2-nxdomain"). A rule that moved
// because another was added or dropped before it keeps its name rather than
// cost a rename-only UpdateFirewallRule; a name is a label, and its number
// says nothing about where the rule sits (its priority does).
func keptSpec(old, new RuleSpec) RuleSpec {
	if samePlace(old.Name, new.Name) {
		new.Name = old.Name
	}
	return new
}

// samePlace says whether two rule names differ at most in their second
// dash-separated field, when that field is a number in both.
func samePlace(a, b string) bool {
	if a == b {
		return true
	}
	pa, pb := strings.SplitN(a, "-", 3), strings.SplitN(b, "-", 3)
	if len(pa) != 3 || len(pb) != 3 || pa[0] != pb[0] || pa[2] != pb[2] {
		return false
	}
	return isNumber(pa[1]) && isNumber(pb[1])
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// assignPriorities gives new rules a priority between their neighbours.
// When a gap is too small, every rule is spread over the band first, with
// moves ordered so that no rule ever passes another: downward moves from
// the first rule on, then upward moves from the last rule back.
func assignPriorities(seq []entry, band Band) ([]Step, error) {
	if fitGaps(seq, band) {
		return nil, nil
	}
	step := (band.Hi - band.Lo + 1) / (len(seq) + 1)
	if step < 1 {
		return nil, mark(ErrBand, fmt.Errorf("the priority band %s is too narrow: the change holds %d old and new rules at once; widen --priority-band", band, len(seq)))
	}
	var down, up []Step
	for i := range seq {
		target := band.Lo + (i+1)*step
		if seq[i].old != nil && seq[i].old.Priority != target {
			mv := Step{Kind: StepMoveRule, Phase: PhaseMove, List: seq[i].old.ListID, ListName: seq[i].old.ListName, Priority: target}
			if target < seq[i].old.Priority {
				down = append(down, mv)
			} else {
				up = append([]Step{mv}, up...)
			}
		}
		seq[i].priority = target
	}
	return append(down, up...), nil
}

// moveInPlace gives the rules of seq their priorities when some kept rules
// move (entry.moved): new and moved rules go in the gaps between the rules
// that stay, and each moved rule gets one UpdateFirewallRule, in the move
// phase, ordered so that none goes to a priority another still holds. It
// reports false when there are no moved rules, when a gap is too narrow, or
// when no such order exists.
func moveInPlace(seq []entry, band Band) ([]Step, bool) {
	if !slices.ContainsFunc(seq, func(e entry) bool { return e.moved }) || !fitGaps(seq, band) {
		return nil, false
	}
	held := map[int]bool{} // priorities moved rules still hold
	var todo []entry
	for _, e := range seq {
		if e.moved {
			held[e.old.Priority] = true
			todo = append(todo, e)
		}
	}
	var moves []Step
	for len(todo) > 0 {
		i := slices.IndexFunc(todo, func(e entry) bool { return !held[e.priority] })
		if i < 0 {
			return nil, false
		}
		e := todo[i]
		todo = slices.Delete(todo, i, i+1)
		delete(held, e.old.Priority)
		moves = append(moves, Step{Kind: StepMoveRule, Phase: PhaseMove, List: e.old.ListID, ListName: e.old.ListName, Priority: e.priority})
	}
	return moves, true
}

// fitGaps places new rules evenly in the gaps between existing ones, and
// reports whether every gap was wide enough.
func fitGaps(seq []entry, band Band) bool {
	lo := band.Lo - 1
	for i := 0; i < len(seq); {
		if seq[i].old != nil && !seq[i].moved {
			lo = seq[i].old.Priority
			i++
			continue
		}
		j := i
		for j < len(seq) && (seq[j].old == nil || seq[j].moved) {
			j++
		}
		hi := band.Hi + 1
		if j < len(seq) {
			hi = seq[j].old.Priority
		}
		n := j - i
		if hi-lo-1 < n {
			return false
		}
		gap := (hi - lo) / (n + 1)
		for k := 0; k < n; k++ {
			seq[i+k].priority = lo + (k+1)*gap
		}
		i = j
	}
	return true
}

// updateSteps sends doms to a kept rule's list in chunks; when the list
// must settle is the caller's (waits).
func updateSteps(kind StepKind, phase string, r *OwnedRule, doms []string, size int) []Step {
	var steps []Step
	for _, c := range chunk(doms, size) {
		steps = append(steps, Step{Kind: kind, Phase: phase, List: r.ListID, ListName: r.ListName, Domains: c})
	}
	return steps
}

// diff returns the sorted a minus b.
func diff(a, b []string) []string {
	var out []string
	j := 0
	for _, x := range a {
		for j < len(b) && b[j] < x {
			j++
		}
		if j < len(b) && b[j] == x {
			continue
		}
		out = append(out, x)
	}
	return out
}

func chunk(s []string, n int) [][]string {
	var out [][]string
	for len(s) > 0 {
		k := min(n, len(s))
		out = append(out, s[:k])
		s = s[k:]
	}
	return out
}

// peak is the most domains rpzfw holds during the sync: after additions,
// before removals.
func peak(seq []entry) int {
	n := 0
	for _, e := range seq {
		switch {
		case e.old != nil && e.new != nil:
			n += len(e.old.Domains) + len(diff(e.new.Domains, e.old.Domains))
		case e.old != nil:
			n += len(e.old.Domains)
		default:
			n += len(e.new.Domains)
		}
	}
	return n
}
