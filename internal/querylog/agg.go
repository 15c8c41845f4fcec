package querylog

import (
	"bufio"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// An object's rows are gathered before its transaction: counts and rollups
// in maps, hits in a slice. Both are bounded: past maxKeys or maxHits they
// go to a spill file, replayed into the transaction at the end. Counts and
// rollups add up in the store, so a key spilled twice is simply added
// twice. Memory is bounded whatever the object's size; disk is not, and
// holds no more than the rows themselves.

// Bounds of an object's rows in memory.
const (
	maxKeys = 100_000
	maxHits = 5_000
)

// Action codes, for keys that do not allocate.
const (
	actNone uint8 = iota
	actBlock
	actAlert
)

var actionNames = [...]string{store.ActionNone, store.ActionBlock, store.ActionAlert}

type countKey struct {
	dev    int64
	minute int64
	act    uint8
}

type ruleKey struct {
	dev          int64
	minute       int64
	act          uint8
	source, rule string
}

// valueKey holds the client map of one device and hour; the client is
// the inner map's key, looked up from
// bytes without allocating.
type valueKey struct {
	dev  int64
	hour int64
}

type agg struct {
	// orgs gives each device's organization; device 0 (unattributed)
	// belongs to the queue's.
	orgs    map[int64]int64
	counts  map[countKey]int64
	rules   map[ruleKey]int64
	clients map[valueKey]map[string]*int64
	keys    int
	hits    []store.Hit
	spill   *spill
	dir     string
}

func newAgg(orgs map[int64]int64, dir string) *agg {
	a := &agg{orgs: orgs, dir: dir}
	a.reset()
	return a
}

func (a *agg) reset() {
	a.counts = map[countKey]int64{}
	a.rules = map[ruleKey]int64{}
	a.clients = map[valueKey]map[string]*int64{}
	a.keys = 0
}

func (a *agg) count(dev, minute int64, act uint8) {
	k := countKey{dev, minute, act}
	if _, ok := a.counts[k]; !ok {
		a.keys++
	}
	a.counts[k]++
}

func (a *agg) value(m map[valueKey]map[string]*int64, k valueKey, v []byte) {
	inner := m[k]
	if inner == nil {
		inner = map[string]*int64{}
		m[k] = inner
	}
	if n := inner[string(v)]; n != nil { // a lookup by string(v) does not allocate
		*n++
		return
	}
	one := int64(1)
	inner[string(v)] = &one
	a.keys++
}

// client counts a resolution of dev by the client address, whatever its
// action and source: the client rollups serve distinct clients (tops by
// client come from the hits), and fewer keys make them smaller.
func (a *agg) client(dev, hour int64, addr []byte) {
	a.value(a.clients, valueKey{dev, hour}, addr)
}

// hit adds a hit and its rollups.
func (a *agg) hit(h store.Hit, act uint8, minute, hour int64) {
	rk := ruleKey{h.DeviceID, minute, act, h.Source, h.Rule}
	if _, ok := a.rules[rk]; !ok {
		a.keys++
	}
	a.rules[rk]++
	a.hits = append(a.hits, h)
}

// full says the maps or hits should be spilled.
func (a *agg) full() bool { return a.keys >= maxKeys || len(a.hits) >= maxHits }

// rows turns the maps into counts and rollups of every width.
func (a *agg) rows() ([]store.Count, []store.Rollup) {
	var counts []store.Count
	for k, n := range a.counts {
		at := time.Unix(k.minute*60, 0).UTC()
		for _, w := range []time.Duration{time.Minute, time.Hour} {
			counts = append(counts, store.Count{OrgID: a.orgs[k.dev], DeviceID: k.dev, Width: w, At: at.Truncate(w), Action: actionNames[k.act], N: n})
		}
	}
	var rolls []store.Rollup
	for k, n := range a.rules {
		at := time.Unix(k.minute*60, 0).UTC()
		for _, w := range []time.Duration{time.Minute, time.Hour, 24 * time.Hour} {
			rolls = append(rolls, store.Rollup{OrgID: a.orgs[k.dev], DeviceID: k.dev, Dim: store.DimRule, Width: w, At: at.Truncate(w),
				Action: actionNames[k.act], Source: k.source, Value: k.rule, N: n})
		}
	}
	for k, inner := range a.clients {
		at := time.Unix(k.hour*3600, 0).UTC()
		for v, n := range inner {
			for _, w := range []time.Duration{time.Hour, 24 * time.Hour} {
				rolls = append(rolls, store.Rollup{OrgID: a.orgs[k.dev], DeviceID: k.dev, Dim: store.DimClient, Width: w, At: at.Truncate(w),
					Value: v, N: *n})
			}
		}
	}
	return counts, rolls
}

// flush moves what is in memory to the spill file.
func (a *agg) flush() error {
	if a.spill == nil {
		s, err := newSpill(a.dir)
		if err != nil {
			return err
		}
		a.spill = s
	}
	counts, rolls := a.rows()
	if err := a.spill.put(spillChunk{Hits: a.hits, Counts: counts, Rollups: rolls}); err != nil {
		return err
	}
	a.hits = a.hits[:0]
	a.reset()
	return nil
}

// write adds everything to the object's transaction.
func (a *agg) write(ctx context.Context, w store.IngestWriter) error {
	if a.spill != nil {
		if err := a.spill.replay(ctx, w); err != nil {
			return err
		}
	}
	counts, rolls := a.rows()
	return writeChunk(ctx, w, spillChunk{Hits: a.hits, Counts: counts, Rollups: rolls})
}

// close removes the spill file.
func (a *agg) close() {
	if a.spill != nil {
		a.spill.close()
		a.spill = nil
	}
}

func writeChunk(ctx context.Context, w store.IngestWriter, c spillChunk) error {
	if err := w.AddHits(ctx, c.Hits); err != nil {
		return err
	}
	if err := w.AddCounts(ctx, c.Counts); err != nil {
		return err
	}
	return w.AddRollups(ctx, c.Rollups)
}

type spillChunk struct {
	Hits    []store.Hit
	Counts  []store.Count
	Rollups []store.Rollup
}

// spill is a temporary file of chunks, deleted when closed.
type spill struct {
	f   *os.File
	bw  *bufio.Writer
	enc *gob.Encoder
}

func newSpill(dir string) (*spill, error) {
	f, err := os.CreateTemp(dir, "rpzfw-querylog-*.spill")
	if err != nil {
		return nil, fmt.Errorf("a large log object needs a spill file: %w", err)
	}
	os.Remove(f.Name()) // gone when closed, even after a crash
	bw := bufio.NewWriterSize(f, 256<<10)
	return &spill{f: f, bw: bw, enc: gob.NewEncoder(bw)}, nil
}

func (s *spill) put(c spillChunk) error {
	if err := s.enc.Encode(c); err != nil {
		return fmt.Errorf("writing the spill file: %w", err)
	}
	return nil
}

func (s *spill) replay(ctx context.Context, w store.IngestWriter) error {
	if err := s.bw.Flush(); err != nil {
		return fmt.Errorf("writing the spill file: %w", err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("reading the spill file: %w", err)
	}
	dec := gob.NewDecoder(bufio.NewReaderSize(s.f, 256<<10))
	for {
		var c spillChunk
		err := dec.Decode(&c)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the spill file: %w", err)
		}
		if err := writeChunk(ctx, w, c); err != nil {
			return err
		}
	}
}

func (s *spill) close() { s.f.Close() }
