package fwsync

import (
	"sync"
	"time"
)

// SettleTuner learns how long after a change to look at a list again, so
// that a steady stream of updates costs about one status read each. Every
// look that comes too early costs a call and a wait more, and one that
// comes late only costs the difference; so it probes for a shorter wait
// rarely, and after a miss goes back to a wait it has seen suffice. It is
// safe for concurrent use (Config.Tuner shares one among syncers).
type SettleTuner struct {
	mu sync.Mutex
	// delay is the tuned wait (0: nothing learned yet); short the longest
	// wait lately found too short; ok the shortest lately seen to
	// suffice (0: none since the last miss beyond it); streak the waits
	// that sufficed since the last probe or miss.
	delay, short, ok time.Duration
	streak           int
}

// NewSettleTuner returns a tuner that has learned nothing yet.
func NewSettleTuner() *SettleTuner { return &SettleTuner{} }

// probeEvery is how many waits must suffice before a shorter one is
// tried. A miss costs a status read and about a quarter of the wait;
// a probe saves 2% of it at most, so probing on every change (as
// before) cost more than it saved.
const probeEvery = 8

// get returns the tuned wait, or initial when nothing is learned.
func (t *SettleTuner) get(initial, most time.Duration) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.delay > 0 {
		return min(max(t.delay, time.Millisecond), most)
	}
	return initial
}

// sufficed records that a list changed at was seen settled at (0:
// unknown) after it, on the first look. Before anything is learned the
// wait it came after was only a guess that was never tried (the look
// came later, after other work), so the wait starts from what was seen.
func (t *SettleTuner) sufficed(initial, at time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.short = t.short * 999 / 1000 // the memory of a miss fades, so a service grown faster is found
	if at > 0 && (t.ok == 0 || at < t.ok) {
		t.ok = at
	}
	if t.delay == 0 {
		t.delay = max(initial, at)
		return
	}
	if t.streak++; t.streak < probeEvery {
		return
	}
	t.streak = 0
	// Never back within 5% of a wait that did not suffice; past ok, a
	// shorter wait gains nothing over one known to suffice.
	d := max(t.delay*98/100, t.short*21/20)
	if t.ok > 0 && d > t.ok {
		d = t.ok
	}
	t.delay = max(d, time.Millisecond)
}

// missed records that a list was still settling notYet (0: unknown)
// after its change: the longest such time seen on this change. The wait
// goes back to the shortest seen to suffice when that is past notYet;
// otherwise the service is slower than known, and the wait jumps past
// notYet (learning a slow service in one sync, not one miss at a time)
// and by at least a quarter.
func (t *SettleTuner) missed(initial, notYet time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d := t.delay
	if d == 0 {
		d = initial
	}
	t.streak = 0
	t.short = max(t.short, d, notYet)
	if t.ok > notYet && t.ok > d {
		t.delay = t.ok
		return
	}
	t.ok = 0
	t.delay = max(d*5/4, notYet*21/20, time.Millisecond)
}

// load starts from what an earlier run of the device learned.
func (t *SettleTuner) load(st *State) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if st.SettleNanos > 0 && t.delay == 0 {
		t.delay, t.short = time.Duration(st.SettleNanos), time.Duration(st.SettleShortNanos)
		t.ok, t.streak = time.Duration(st.SettleOKNanos), st.SettleStreak
	}
}

// save records what was learned in the state.
func (t *SettleTuner) save(st *State) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st.SettleNanos, st.SettleShortNanos = int64(t.delay), int64(t.short)
	st.SettleOKNanos, st.SettleStreak = int64(t.ok), t.streak
}
