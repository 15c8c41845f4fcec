package querylog

import (
	"context"
	"testing"
	"time"
)

// TestWakeReadsDevicesNow: a device added (or a VPC learned) after the
// start is seen at a wake, not at the next refresh tick, so the lines of
// its first minutes are not counted for no device.
func TestWakeReadsDevicesNow(t *testing.T) {
	s := openStore(t)
	testDevice(t, s, "o", "first", "rslvr-frg-1", testQueue, "vpc-a")
	q := &fakeSQS{}
	m, err := New(Config{Store: s, Refresh: time.Hour, Visibility: 2 * time.Second, RetryBase: time.Millisecond,
		Clients: func(context.Context, QueueSpec) (Clients, error) { return Clients{SQS: q, S3: fakeS3{}}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown(context.Background()) })
	groups := func() map[string]bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		out := map[string]bool{}
		for _, c := range m.consumers {
			for rg := range c.ing.devs.Load().byGroup {
				out[rg] = true
			}
		}
		return out
	}
	if g := groups(); !g["rslvr-frg-1"] || len(g) != 1 {
		t.Fatalf("after the start the consumers know %v", g)
	}
	testDevice(t, s, "o", "second", "rslvr-frg-2", testQueue, "vpc-b")
	m.Wake()
	waitUntil(t, "the second device's rule group known", func() bool { return groups()["rslvr-frg-2"] })
}
