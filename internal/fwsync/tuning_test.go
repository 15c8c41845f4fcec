package fwsync

import (
	"github.com/rpzfw/rpzfw/internal/dnsfw"
	"testing"
	"time"
)

const ms = time.Millisecond

// TestSettleTuner: the wait after a change starts from what was first
// seen (not the untried initial guess), probes shorter only after a
// streak of waits that sufficed, goes back to a wait known to suffice
// after a miss, jumps past a slower service at once, and keeps clear of a
// wait that did not suffice; the state carries it all to the next run.
func TestSettleTuner(t *testing.T) {
	const initial, most = 500 * ms, time.Minute
	tu := NewSettleTuner()
	if d := tu.get(initial, most); d != initial {
		t.Fatalf("before anything is learned: %s, want the initial %s", d, initial)
	}
	// A first sync saw its list settled 2 s after the change.
	tu.sufficed(initial, 2000*ms)
	if d := tu.get(initial, most); d != 2000*ms {
		t.Fatalf("after a list was first seen settled at 2s: %s, want 2s (the 500ms guess was never tried)", d)
	}
	// Waits that suffice keep it until a streak of them, then one probe.
	for i := 1; i < probeEvery; i++ {
		tu.sufficed(initial, 2000*ms)
		if d := tu.get(initial, most); d != 2000*ms {
			t.Fatalf("after %d waits that sufficed: %s, want 2s until %d have", i, d, probeEvery)
		}
	}
	tu.sufficed(initial, 2000*ms)
	probe := tu.get(initial, most)
	if probe >= 2000*ms || probe < 1900*ms {
		t.Fatalf("after %d waits that sufficed: %s, want a probe a little under 2s", probeEvery, probe)
	}
	// The probe was too short: back to the 2 s known to suffice.
	tu.missed(initial, probe)
	if d := tu.get(initial, most); d != 2000*ms {
		t.Fatalf("after a probe at %s missed: %s, want back to 2s", probe, d)
	}
	// It never probes within 5% of the miss again for a long while.
	for i := range 4 * probeEvery {
		tu.sufficed(initial, tu.get(initial, most))
		if d := tu.get(initial, most); d <= probe {
			t.Fatalf("after %d more waits that sufficed: %s, back at the %s that missed", i+1, d, probe)
		}
	}
	// The service grew slower: seen settling 3 s after a change. The
	// wait jumps past it at once rather than a quarter per miss.
	tu.missed(initial, 3000*ms)
	if d := tu.get(initial, most); d < 3000*ms {
		t.Fatalf("after a list was seen settling at 3s: %s, want past 3s", d)
	}
	// A wait that did not suffice raises it by a quarter at least.
	before := tu.get(initial, most)
	tu.missed(initial, 0)
	if d := tu.get(initial, most); d < before*5/4 {
		t.Fatalf("after a wait of %s missed: %s, want at least a quarter more", before, d)
	}
	st := &State{}
	tu.save(st)
	next := NewSettleTuner()
	next.load(st)
	if next.get(initial, most) != tu.get(initial, most) || next.short != tu.short || next.ok != tu.ok || next.streak != tu.streak {
		t.Fatalf("the next run starts from %+v, not %+v", next, tu)
	}
}

// TestCheckSorted: the planner diffs sorted slices, so a plan whose
// domains are out of order or repeated is refused, not synced wrongly.
func TestCheckSorted(t *testing.T) {
	for _, c := range []struct {
		domains []string
		ok      bool
	}{
		{nil, true},
		{[]string{"a.example"}, true},
		{[]string{"a.example", "zz10.example", "zz9.example"}, true},
		{[]string{"a.example", "zz9.example", "zz10.example"}, false},
		{[]string{"a.example", "a.example"}, false},
	} {
		err := checkSorted([]dnsfw.Rule{{Name: "r", Domains: c.domains}})
		if (err == nil) != c.ok {
			t.Errorf("%v: err %v, want ok %v", c.domains, err, c.ok)
		}
	}
}

// TestSharedTuner: syncers given one Tuner (the devices of one account)
// start from what any of them learned; one without starts afresh.
func TestSharedTuner(t *testing.T) {
	shared := NewSettleTuner()
	mk := func(tu *SettleTuner) *Syncer {
		s, err := New(nil, nil, nil, nil, Config{RuleGroupID: "g", Tuner: tu})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b, alone := mk(shared), mk(shared), mk(nil)
	a.tuner.sufficed(a.cfg.PollInitial, 2300*ms)
	if d := b.firstPollDelay(); d != 2300*ms {
		t.Errorf("a syncer sharing the tuner waits %s, want the 2.3s another learned", d)
	}
	if d := alone.firstPollDelay(); d != alone.cfg.PollInitial {
		t.Errorf("a syncer with its own tuner waits %s, want the initial %s", d, alone.cfg.PollInitial)
	}
}
