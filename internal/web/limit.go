package web

import (
	"sync"
	"time"
)

// maxKeys bounds the failure table. Past it, windows that ended are
// dropped, and if none has, all are: under a flood of distinct keys the
// limit is approximate rather than the memory unbounded.
const maxKeys = 10_000

// failures counts failed logins per key (a client address, a user name)
// in fixed windows.
type failures struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	now    func() time.Time
	keys   map[string]*window
}

type window struct {
	start time.Time
	n     int
}

func newFailures(max int, w time.Duration, now func() time.Time) *failures {
	return &failures{max: max, window: w, now: now, keys: map[string]*window{}}
}

// blocked says whether key has used up its failures, and until when.
func (f *failures) blocked(key string) (bool, time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w, ok := f.keys[key]
	if !ok {
		return false, time.Time{}
	}
	end := w.start.Add(f.window)
	if !f.now().Before(end) {
		delete(f.keys, key)
		return false, time.Time{}
	}
	return w.n >= f.max, end
}

// fail counts a failure of key.
func (f *failures) fail(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	w, ok := f.keys[key]
	if ok && !now.Before(w.start.Add(f.window)) {
		ok = false
	}
	if !ok {
		if len(f.keys) >= maxKeys {
			for k, x := range f.keys {
				if !now.Before(x.start.Add(f.window)) {
					delete(f.keys, k)
				}
			}
			if len(f.keys) >= maxKeys {
				clear(f.keys)
			}
		}
		w = &window{start: now}
		f.keys[key] = w
	}
	w.n++
}

// reset forgets key's failures (a user who logged in).
func (f *failures) reset(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.keys, key)
}
