package main

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/querylog"
	"github.com/rpzfw/rpzfw/internal/store"
)

// fakeTops lists the buckets not made yet, as the store does: a bucket
// listed again while it is being made would be made twice.
type fakeTops struct {
	mu    sync.Mutex
	hours []time.Time
	made  map[time.Time]int
}

func (f *fakeTops) TopsToMake(_ context.Context, width time.Duration, since, before time.Time, limit int) ([]store.TopsBucket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.TopsBucket
	for _, h := range f.hours {
		if width == time.Hour && f.made[h] == 0 && !h.Before(since) && h.Before(before) && len(out) < limit {
			out = append(out, store.TopsBucket{OrgID: 1, Width: width, At: h})
		}
	}
	return out, nil
}

func (f *fakeTops) MakeTops(_ context.Context, b store.TopsBucket, _ int) error {
	time.Sleep(time.Millisecond) // long enough for a second listing to see it unmade
	f.mu.Lock()
	defer f.mu.Unlock()
	f.made[b.At]++
	return nil
}

func (f *fakeTops) TopsMade(context.Context, int64, time.Duration, time.Time, time.Time) ([]time.Time, error) {
	return nil, nil
}

func TestParallelTopsMakesEachBucketOnce(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, workers := range []int{1, 2, 7} {
		f := &fakeTops{made: map[time.Time]int{}}
		for i := range 250 {
			f.hours = append(f.hours, now.Add(-time.Duration(i+1)*time.Hour))
		}
		stores := make([]store.LogTops, workers)
		for i := range stores {
			stores[i] = f
		}
		p := newParallelTops(stores...)
		err := querylog.MakeTops(context.Background(), p, now, 31*24*time.Hour, 1000)
		if werr := p.wait(); err == nil {
			err = werr
		}
		if err != nil {
			t.Fatalf("%d workers: %v", workers, err)
		}
		for _, h := range f.hours {
			if f.made[h] != 1 {
				t.Errorf("%d workers: the hour %s made %d times, want once", workers, h.Format(time.RFC3339), f.made[h])
			}
		}
	}
}
