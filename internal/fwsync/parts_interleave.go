package fwsync

// The parts of one split plan rule that sit side by side in the merged
// sequence act as one rule: the same action, no rule between them. A name
// that two of them gain (or lose) gets the same outcome from either, so
// their additions need no order among themselves, nor their removals, and
// their chunks go round-robin so that the lists settle side by side: each
// part waits, before the group's turn, for the other changes it interacts
// with, and is recorded as settling after it. Removals still wait for the
// additions they interact with, the group's own included (a domain moved
// between parts is added before it is removed).

// groupable says whether seq[k] is a kept part of a split rule that may
// share its turn with its neighbours of the same group.
func groupable(e entry) bool {
	return e.old != nil && e.new != nil && e.new.group != 0 && !e.inPlace && !e.moved
}

// partRun returns the end (exclusive) of the run of parts of one group
// that starts at seq[i]: i+1 when seq[i] stands alone.
func partRun(seq []entry, i int) int {
	j := i + 1
	for groupable(seq[i]) && j < len(seq) && groupable(seq[j]) && seq[j].new.group == seq[i].new.group {
		j++
	}
	return j
}

// runStart returns the start of the run of parts of one group that ends
// at seq[i] (inclusive).
func runStart(seq []entry, i int) int {
	s := i
	for groupable(seq[i]) && s > 0 && groupable(seq[s-1]) && seq[s-1].new.group == seq[i].new.group {
		s--
	}
	return s
}

// addRun sends the additions of the parts seq[i:j], chunks round-robin.
func (p *Plan) addRun(seq []entry, i, j int, o Options, w *waits) {
	var lists [][]Step
	adds := make([][]string, j-i)
	for k := i; k < j; k++ {
		e := seq[k]
		adds[k-i] = diff(e.new.Domains, e.old.Domains)
		p.Steps = append(p.Steps, w.before(PhaseAdd, adds[k-i])...)
		lists = append(lists, updateSteps(StepAdd, PhaseAdd, e.old, adds[k-i], o.Chunk))
		p.Added += len(adds[k-i])
		spec := keptSpec(e.old.Spec, e.new.Spec)
		p.Rules[k] = RuleChange{Old: &e.old.Spec, New: &spec, OldPriority: e.old.Priority, Priority: e.priority, Added: adds[k-i]}
	}
	p.Steps = append(p.Steps, roundRobin(lists)...)
	for k := i; k < j; k++ {
		w.after(seq[k].old.ListID, seq[k].old.ListName, adds[k-i])
	}
}

// removeRun sends the removals of the parts seq[s:i+1], the last part
// first, chunks round-robin.
func (p *Plan) removeRun(seq []entry, s, i int, o Options, w *waits) {
	var lists [][]Step
	rms := make([][]string, i+1-s)
	for k := i; k >= s; k-- {
		e := seq[k]
		rms[k-s] = diff(e.old.Domains, e.new.Domains)
		p.Steps = append(p.Steps, w.before(PhaseRemove, rms[k-s])...)
		lists = append(lists, updateSteps(StepRemove, PhaseRemove, e.old, rms[k-s], o.Chunk))
		p.Removed += len(rms[k-s])
		p.Rules[k].Removed = rms[k-s]
	}
	p.Steps = append(p.Steps, roundRobin(lists)...)
	for k := i; k >= s; k-- {
		w.after(seq[k].old.ListID, seq[k].old.ListName, rms[k-s])
	}
}

// roundRobin interleaves lists of steps: the first of each, then the
// second of each, and so on.
func roundRobin(lists [][]Step) []Step {
	var out []Step
	for r := 0; ; r++ {
		n := len(out)
		for _, l := range lists {
			if r < len(l) {
				out = append(out, l[r])
			}
		}
		if len(out) == n {
			return out
		}
	}
}
