package main

import (
	"cmp"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// TestStreamAggSumsAsAMap holds the streaming sums to the plain way: one
// map of every key, sorted in the tables' key order at the end.
func TestStreamAggSumsAsAMap(t *testing.T) {
	w := &world{org: 3}
	for _, id := range []int64{4, 5, 9, 11, 12} {
		w.devices = append(w.devices, store.Device{ID: id})
	}
	now := time.Date(2026, 12, 1, 15, 4, 5, 6, time.UTC)
	for _, n := range []int{1, 999, 50_000, 250_001} {
		agg := newStreamAgg(w.org)
		wantCounts, wantRolls := map[store.Count]int64{}, map[store.Rollup]int64{}
		got := 0
		drawHits(context.Background(), w, n, now, agg, func(_ int, hits []store.Hit) bool {
			for _, h := range hits {
				refAdd(wantCounts, wantRolls, h)
			}
			got += len(hits)
			return true
		})
		if got != n {
			t.Fatalf("%d hits: drew %d", n, got)
		}
		counts, rolls := agg.rows()
		if want := refRows(wantCounts, w.org); !slices.Equal(counts, want) {
			t.Errorf("%d hits: %d counts, want %d (or another order)", n, len(counts), len(want))
		}
		if want := refRows(wantRolls, w.org); !slices.Equal(rolls, want) {
			t.Errorf("%d hits: %d rollups, want %d (or another order)", n, len(rolls), len(want))
		}
	}
}

// refAdd sums a hit as the pipeline does, keyed by the row less its org
// and sum.
func refAdd(counts map[store.Count]int64, rolls map[store.Rollup]int64, h store.Hit) {
	for _, w := range []time.Duration{time.Minute, time.Hour} {
		counts[store.Count{DeviceID: h.DeviceID, Width: w, At: h.At.Truncate(w), Action: h.Action}]++
		counts[store.Count{DeviceID: h.DeviceID, Width: w, At: h.At.Truncate(w), Action: store.ActionNone}] += 20
	}
	for _, w := range []time.Duration{time.Minute, time.Hour, 24 * time.Hour} {
		rolls[store.Rollup{Dim: store.DimRule, Width: w, At: h.At.Truncate(w), DeviceID: h.DeviceID, Action: h.Action, Source: h.Source, Value: h.Rule}]++
	}
	for _, w := range []time.Duration{time.Hour, 24 * time.Hour} {
		rolls[store.Rollup{Dim: store.DimClient, Width: w, At: h.At.Truncate(w), DeviceID: h.DeviceID, Value: h.SrcAddr}]++
	}
}

func refRows[T store.Count | store.Rollup](sums map[T]int64, org int64) []T {
	var out []T
	for k, n := range sums {
		switch r := any(&k).(type) {
		case *store.Count:
			r.OrgID, r.N = org, n
		case *store.Rollup:
			r.OrgID, r.N = org, n
		}
		out = append(out, k)
	}
	slices.SortFunc(out, func(x, y T) int { return refCompare(any(x), any(y)) })
	return out
}

// refCompare orders rows as their table's key does.
func refCompare(x, y any) int {
	if a, ok := x.(store.Count); ok {
		b := y.(store.Count)
		return cmp.Or(cmp.Compare(a.Width, b.Width), a.At.Compare(b.At), cmp.Compare(a.DeviceID, b.DeviceID), cmp.Compare(a.Action, b.Action))
	}
	a, b := x.(store.Rollup), y.(store.Rollup)
	return cmp.Or(cmp.Compare(a.Dim, b.Dim), cmp.Compare(a.Width, b.Width), a.At.Compare(b.At), cmp.Compare(a.DeviceID, b.DeviceID),
		cmp.Compare(a.Action, b.Action), cmp.Compare(a.Source, b.Source), cmp.Compare(a.Value, b.Value))
}
