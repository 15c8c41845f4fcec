package main

import (
	"context"
	"sync"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// parallelTops lets querylog.MakeTops make several buckets' tops at once,
// one on each of its stores, so the bench makes the same tops as the
// pipeline (same buckets, same K) with every core. MakeTops hands the
// bucket to a free store and returns; TopsToMake first waits for the
// buckets in hand, so it never lists one being made. The buckets are
// independent: each bucket's tops are its own rows, written in its own
// transaction. On SQLite each store is a connection of its own (WAL
// lets them read at once; their short writes queue for the lock); on
// PostgreSQL the one store's pool serves them all.
type parallelTops struct {
	store.LogTops
	free chan store.LogTops
	wg   sync.WaitGroup
	mu   sync.Mutex
	err  error
	// made counts the buckets made.
	made int
}

func newParallelTops(stores ...store.LogTops) *parallelTops {
	p := &parallelTops{LogTops: stores[0], free: make(chan store.LogTops, len(stores))}
	for _, s := range stores {
		p.free <- s
	}
	return p
}

func (p *parallelTops) MakeTops(ctx context.Context, b store.TopsBucket, k int) error {
	if err := p.failed(); err != nil {
		return err
	}
	var st store.LogTops
	select {
	case st = <-p.free:
	case <-ctx.Done():
		return ctx.Err()
	}
	p.wg.Go(func() {
		defer func() { p.free <- st }()
		err := st.MakeTops(ctx, b, k)
		p.mu.Lock()
		defer p.mu.Unlock()
		if err == nil {
			p.made++
		} else if p.err == nil {
			p.err = err
		}
	})
	return nil
}

func (p *parallelTops) TopsToMake(ctx context.Context, width time.Duration, since, before time.Time, limit int) ([]store.TopsBucket, error) {
	if err := p.wait(); err != nil {
		return nil, err
	}
	return p.LogTops.TopsToMake(ctx, width, since, before, limit)
}

// wait waits for the buckets in hand and says the first error.
func (p *parallelTops) wait() error {
	p.wg.Wait()
	return p.failed()
}

func (p *parallelTops) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}
