package main

import (
	"cmp"
	"context"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// hitChunk is how many hits go in one log object (one transaction): the
// first version's size, so the same objects are stored.
const hitChunk = 200_000

// loadHits stores n hits over the 30 days before now, with the counts
// and rollups the pipeline makes (and 20 resolutions without a hit for
// each). The hits go in objects of hitChunk; the counts and rollups are
// summed over all of them and written last in key order, which stores
// the same rows as the pipeline would, many times faster than one
// object's upserts after another's.
//
// One goroutine draws the hits and sums them while the store writes the
// previous chunk. The objects are written one after another, as one
// writer of the pipeline would: concurrent objects would interleave the
// hits' pages and split their indexes' pages in the middle, and the
// reports would be timed on another layout than the pipeline makes.
func loadHits(ctx context.Context, st store.Store, w *world, n int, now time.Time) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type chunk struct {
		key  string
		hits []store.Hit
	}
	chunks := make(chan chunk, 1)
	agg := newStreamAgg(w.org)
	go func() {
		defer close(chunks)
		drawHits(ctx, w, n, now, agg, func(done int, hits []store.Hit) bool {
			select {
			case chunks <- chunk{"h" + strconv.Itoa(done), hits}:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	for c := range chunks {
		if err := ingestRows(ctx, st, c.key, now, w.org, c.hits, nil, nil); err != nil {
			return err // the deferred cancel stops the drawing
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	counts, rolls := agg.rows()
	return ingestRows(ctx, st, "rollups", now, w.org, nil, counts, rolls)
}

// drawHits draws the n hits in time order, sums each into agg and hands
// them on in chunks of hitChunk (with the index of the chunk's first hit)
// until emit says stop. The draws are those of the first version of this
// benchmark, so every version stores the same hits.
func drawHits(ctx context.Context, w *world, n int, now time.Time, agg *streamAgg, emit func(int, []store.Hit) bool) {
	rng := mrand.New(mrand.NewPCG(7, 8))
	names, clients := newZipf(rng, 1.2, 100_000), newZipf(rng, 1.1, 5_000)
	from := now.Add(-30 * 24 * time.Hour)
	step := 30 * 24 * time.Hour / time.Duration(n)
	for done := 0; done < n; done += hitChunk {
		if ctx.Err() != nil {
			return
		}
		hits := make([]store.Hit, 0, min(hitChunk, n-done))
		for i := done; i < min(done+hitChunk, n); i++ {
			dom := names.next()
			d := w.devices[rng.IntN(len(w.devices))]
			action := store.ActionBlock
			if dom%7 == 0 {
				action = store.ActionAlert
			}
			c := clients.next()
			h := store.Hit{OrgID: w.org, DeviceID: d.ID, At: from.Add(time.Duration(i) * step), QueryName: "d" + strconv.Itoa(dom) + ".bad.example.",
				QueryType: "A", Rcode: "NXDOMAIN", SrcAddr: "10.1." + strconv.Itoa(c/250) + "." + strconv.Itoa(c%250), SrcID: "i-0123", VPCID: "vpc-a",
				Action: action, Kind: store.KindBlock, Rule: "rpzfw-" + strconv.Itoa(dom%8+1) + "-nxdomain", ListID: listID,
				Entry: "*.bad.example", Source: "feed" + strconv.Itoa(dom%5), Line: dom}
			hits = append(hits, h)
			agg.add(h)
		}
		if !emit(done, hits) {
			return
		}
	}
}

func ingestRows(ctx context.Context, st store.Store, key string, now time.Time, org int64, hits []store.Hit, counts []store.Count, rolls []store.Rollup) error {
	obj := store.LogObject{Queue: benchQueue, Bucket: "b", Key: key, ETag: "e", OrgID: org, Lines: int64(len(hits)), ProcessedAt: now}
	_, err := st.IngestObject(ctx, obj, func(iw store.IngestWriter) error {
		if err := iw.AddHits(ctx, hits); err != nil {
			return err
		}
		for len(counts) > 0 {
			n := min(len(counts), 100_000)
			if err := iw.AddCounts(ctx, counts[:n]); err != nil {
				return err
			}
			counts = counts[n:]
		}
		for len(rolls) > 0 {
			n := min(len(rolls), 100_000)
			if err := iw.AddRollups(ctx, rolls[:n]); err != nil {
				return err
			}
			rolls = rolls[n:]
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storing object %s: %w", key, err)
	}
	return nil
}

// streamAgg sums the counts and rollups of hits as the pipeline does, for
// hits that come in time order: each stream (a table's dimension and
// width) holds only its current bucket, and a bucket that is over is
// sorted and appended to the stream's rows. The rows then come out in
// the order of the tables' keys without sorting millions of them.
type streamAgg struct {
	org    int64
	counts []*countStream
	rolls  []*rollStream
}

type countStream struct {
	w    time.Duration
	cur  time.Time
	sums map[countKey]int64
	out  []store.Count
}

type countKey struct {
	dev    int64
	action string
}

type rollStream struct {
	dim  string
	w    time.Duration
	cur  time.Time
	sums map[rollKey]int64
	out  []store.Rollup
}

type rollKey struct {
	dev                   int64
	action, source, value string
}

func newStreamAgg(org int64) *streamAgg {
	a := &streamAgg{org: org}
	for _, w := range []time.Duration{time.Minute, time.Hour} {
		a.counts = append(a.counts, &countStream{w: w, sums: map[countKey]int64{}})
	}
	// In key order: "client" before "rule", then width.
	for _, s := range []struct {
		dim string
		w   time.Duration
	}{{store.DimClient, time.Hour}, {store.DimClient, 24 * time.Hour}, {store.DimRule, time.Minute}, {store.DimRule, time.Hour}, {store.DimRule, 24 * time.Hour}} {
		a.rolls = append(a.rolls, &rollStream{dim: s.dim, w: s.w, sums: map[rollKey]int64{}})
	}
	return a
}

func (a *streamAgg) add(h store.Hit) {
	for _, s := range a.counts {
		if b := h.At.Truncate(s.w); !b.Equal(s.cur) {
			s.flush(a.org)
			s.cur = b
		}
		s.sums[countKey{h.DeviceID, h.Action}]++
		s.sums[countKey{h.DeviceID, store.ActionNone}] += 20
	}
	for _, s := range a.rolls {
		if b := h.At.Truncate(s.w); !b.Equal(s.cur) {
			s.flush(a.org)
			s.cur = b
		}
		if s.dim == store.DimRule {
			s.sums[rollKey{h.DeviceID, h.Action, h.Source, h.Rule}]++
		} else {
			s.sums[rollKey{h.DeviceID, "", "", h.SrcAddr}]++
		}
	}
}

func (s *countStream) flush(org int64) {
	start := len(s.out)
	for k, n := range s.sums {
		s.out = append(s.out, store.Count{OrgID: org, DeviceID: k.dev, Width: s.w, At: s.cur, Action: k.action, N: n})
	}
	slices.SortFunc(s.out[start:], func(x, y store.Count) int {
		return cmp.Or(cmp.Compare(x.DeviceID, y.DeviceID), cmp.Compare(x.Action, y.Action))
	})
	clear(s.sums)
}

func (s *rollStream) flush(org int64) {
	start := len(s.out)
	for k, n := range s.sums {
		s.out = append(s.out, store.Rollup{OrgID: org, DeviceID: k.dev, Dim: s.dim, Width: s.w, At: s.cur, Action: k.action, Source: k.source, Value: k.value, N: n})
	}
	slices.SortFunc(s.out[start:], func(x, y store.Rollup) int {
		return cmp.Or(cmp.Compare(x.DeviceID, y.DeviceID), cmp.Compare(x.Action, y.Action), cmp.Compare(x.Source, y.Source), cmp.Compare(x.Value, y.Value))
	})
	clear(s.sums)
}

// rows ends the last buckets and lists the sums in the order of the
// tables' keys.
func (a *streamAgg) rows() ([]store.Count, []store.Rollup) {
	nc, nr := 0, 0
	for _, s := range a.counts {
		s.flush(a.org)
		nc += len(s.out)
	}
	for _, s := range a.rolls {
		s.flush(a.org)
		nr += len(s.out)
	}
	cs, rs := make([]store.Count, 0, nc), make([]store.Rollup, 0, nr)
	for _, s := range a.counts {
		cs = append(cs, s.out...)
		s.out = nil
	}
	for _, s := range a.rolls {
		rs = append(rs, s.out...)
		s.out = nil
	}
	return cs, rs
}
