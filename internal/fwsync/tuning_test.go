package fwsync

import (
	"testing"
	"time"
)

// TestTuneFirstPoll: the wait after a change shrinks while it suffices,
// grows when it does not, and then keeps clear of the wait that did not
// suffice for a long while (each too-short wait costs a call), and the
// state carries both to the next run.
func TestTuneFirstPoll(t *testing.T) {
	s, err := New(nil, nil, nil, nil, Config{RuleGroupID: "g", PollInitial: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		s.tuneFirstPoll(true, 0)
	}
	if d := s.firstPollDelay(); d >= 2*time.Second || d < 1900*time.Millisecond {
		t.Fatalf("after three waits that sufficed: %s, want a little under 2s", d)
	}
	tooShort := s.firstPollDelay()
	s.tuneFirstPoll(false, 0)
	if d := s.firstPollDelay(); d <= tooShort*6/5 {
		t.Fatalf("after a wait that did not suffice: %s, want well over %s", d, tooShort)
	}
	for i := range 40 {
		s.tuneFirstPoll(true, 0)
		if d := s.firstPollDelay(); d <= tooShort {
			t.Fatalf("after %d waits that sufficed the wait is back to %s, which did not suffice", i+1, d)
		}
	}
	// A list seen settling 3 s after its change: the next wait starts
	// past that at once, not a quarter more per miss.
	s.tuneFirstPoll(false, 3*time.Second)
	if d := s.firstPollDelay(); d < 3*time.Second {
		t.Fatalf("after a list was seen settling at 3s: %s, want past 3s", d)
	}
	st := &State{}
	s.saveTuning(st)
	next, _ := New(nil, nil, nil, nil, Config{RuleGroupID: "g"})
	next.resumeTuning(st)
	if next.firstPollDelay() != s.firstPollDelay() || next.tooShort.Load() != s.tooShort.Load() {
		t.Fatalf("the next run starts from %s, not %s", next.firstPollDelay(), s.firstPollDelay())
	}
}
