// Package scheduler decides when to sync which device, and runs the syncs.
//
// Every Poll it reads the devices from the store, learns the accounts it
// does not know yet, and groups devices by lease key (endpoint, account,
// region: the unit of AWS's 5 requests/s). It holds a lease on a key
// (store.Leases) before syncing any of its devices, renews the leases it
// holds at every poll, and cancels a key's syncs when its lease is lost.
// The syncs of one key share one rate limiter; one device never has two
// syncs at once.
//
// A device syncs on "sync now", when its settings, its policy or a source
// of its policy changed, when a sync stopped half way, on first sight by
// this instance, and every Reconcile. Soft errors are retried with
// exponential backoff; hard errors wait for a change or "sync now" (see
// Classify). The shrink guard stops a sync that would remove most of what
// is deployed unless the device or its policy changed since its last
// success, or "sync now" follows the refusal (allowShrink). What this
// instance last tried for a device is kept in memory:
// after a restart a hard-failed device is tried again only if it changed
// since its last success.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/policydoc"
	"github.com/rpzfw/rpzfw/internal/secret"
	"github.com/rpzfw/rpzfw/internal/store"
)

// Config configures a Scheduler. Zero values take the defaults.
type Config struct {
	Store   store.Store
	Keyring *secret.Keyring
	// Instance names this process in leases and sync history; unique per
	// process.
	Instance string
	Log      *slog.Logger
	// Now is the clock of schedules and leases (default time.Now).
	Now func() time.Time
	// Rand returns a number in [0,1) for backoff jitter (default
	// math/rand).
	Rand func() float64
	// Poll is how often the store is read for changes (default 1s);
	// Wake looks at once.
	Poll time.Duration
	// Reconcile is how often a device is synced when nothing changed, to
	// repair drift (default 15m).
	Reconcile time.Duration
	// LeaseTTL is how long a lease lasts unrenewed (default 15s).
	LeaseTTL time.Duration
	// Rate is the API calls per second per lease key (default 5).
	Rate float64
	// BackoffMin and BackoffMax bound the wait after a soft error
	// (defaults 10s and 10m).
	BackoffMin, BackoffMax time.Duration
	// DataDir holds the feed caches.
	DataDir string
	// PolicyOptions anchor the stored policies' relative paths (default
	// BaseDir: DataDir/predefined, where the service writes the files of
	// the pre-defined policies).
	PolicyOptions policydoc.Options
	// SandboxEndpoint is the built-in emulator's URL ("": no sandbox).
	SandboxEndpoint string
	// NotifyListen, when set, answers DNS NOTIFY for the zone-transfer
	// sources of the policies in use (UDP).
	NotifyListen string
	Registerer   prometheus.Registerer
	// SettlePoll is fwsync's first wait for a list to settle (0: its
	// default); tests against a fast emulator shorten it.
	SettlePoll time.Duration
	// MaxAttempts bounds the SDK's retries of one call before the sync
	// fails softly and the scheduler's backoff takes over (0: awsclient's
	// default).
	MaxAttempts int
	// Stored, when set, is called after a device's status is stored at the
	// end of a sync: the log pipeline reads the rule group's VPCs from it
	// and must not attribute lines with an older set.
	Stored func()
}

func (c *Config) defaults() error {
	if c.Store == nil {
		return errors.New("scheduler: a store is required")
	}
	if c.Instance == "" {
		return errors.New("scheduler: an instance name is required")
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	setDefault(&c.Poll, time.Second)
	setDefault(&c.Reconcile, 15*time.Minute)
	setDefault(&c.LeaseTTL, 15*time.Second)
	setDefault(&c.BackoffMin, 10*time.Second)
	setDefault(&c.BackoffMax, 10*time.Minute)
	if c.Rate == 0 {
		c.Rate = 5
	}
	if c.PolicyOptions.BaseDir == "" && c.DataDir != "" {
		c.PolicyOptions.BaseDir = filepath.Join(c.DataDir, "predefined")
	}
	return nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}

// Scheduler syncs devices; see the package comment.
type Scheduler struct {
	cfg      Config
	log      *slog.Logger
	conn     device.Connector
	policies *device.Policies
	m        *metrics
	wake     chan struct{}

	stopLoop   context.CancelFunc // no new work
	loopDone   chan struct{}
	cancelWork context.CancelFunc // interrupts running syncs
	stopWatch  context.CancelFunc
	watchDone  chan struct{}
	syncs      sync.WaitGroup

	// ticked hears the end of every poll (tests only; nil otherwise).
	ticked chan struct{}

	mu        sync.Mutex
	groups    map[string]*group      // leases held, by key
	devs      map[int64]*deviceState // what this instance knows per device
	feedEpoch map[device.PolicyKey]uint64
}

// deviceState is what this instance keeps about one device.
type deviceState struct {
	// lock is held by a sync or a removal.
	lock sync.Mutex
	// cancel interrupts the running sync (nil when none).
	cancel context.CancelFunc
	last   *attempt
	// nickname labels the device's metrics.
	nickname string
	// account resolution: in flight, and when to try again.
	resolving   bool
	accountNext time.Time
	accountGen  int64
}

// New checks cfg; Start starts the work.
func New(cfg Config) (*Scheduler, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Scheduler{cfg: cfg, log: cfg.Log, m: m, wake: make(chan struct{}, 1),
		conn: device.Connector{Keyring: cfg.Keyring, SandboxEndpoint: cfg.SandboxEndpoint, MaxAttempts: cfg.MaxAttempts,
			OnAttempt: m.attempt},
		groups: map[string]*group{}, devs: map[int64]*deviceState{}, feedEpoch: map[device.PolicyKey]uint64{}}
	s.policies = device.NewPolicies(device.PoliciesConfig{DataDir: cfg.DataDir, Keyring: cfg.Keyring, Options: cfg.PolicyOptions, Log: cfg.Log})
	return s, nil
}

// Start runs the poll loop and the feed watcher; it returns once they run.
// ctx bounds their life as a whole; Shutdown stops them in order.
func (s *Scheduler) Start(ctx context.Context) error {
	if s.loopDone != nil {
		return errors.New("scheduler: already started")
	}
	work, cancelWork := context.WithCancel(ctx)
	loop, stopLoop := context.WithCancel(work)
	watch, stopWatch := context.WithCancel(work)
	s.cancelWork, s.stopLoop, s.stopWatch = cancelWork, stopLoop, stopWatch
	if s.cfg.NotifyListen != "" {
		addr, err := s.policies.ListenNotify(watch, s.cfg.NotifyListen)
		if err != nil {
			cancelWork()
			return err
		}
		s.log.Info("answering DNS NOTIFY for zone-transfer sources", "addr", addr)
	}
	s.loopDone, s.watchDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.watchDone)
		s.policies.Watch(watch, s.feedChanged)
	}()
	go s.loop(loop, work)
	s.log.Info("scheduler started", "instance", s.cfg.Instance, "poll", s.cfg.Poll, "reconcile", s.cfg.Reconcile, "lease_ttl", s.cfg.LeaseTTL, "rate", s.cfg.Rate)
	return nil
}

// Wake makes the scheduler look at the store now instead of at the next
// poll (an edit happened).
func (s *Scheduler) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Scheduler) loop(ctx, work context.Context) {
	defer close(s.loopDone)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-t.C:
		}
		s.tick(ctx, work)
		if s.ticked != nil {
			select {
			case s.ticked <- struct{}{}:
			default:
			}
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(s.cfg.Poll)
	}
}

// Shutdown stops taking work, lets running syncs reach their end (fwsync
// stops safely between calls) until ctx ends, then interrupts them, and
// releases the leases.
func (s *Scheduler) Shutdown(ctx context.Context) error {
	if s.loopDone == nil {
		return nil
	}
	s.stopLoop()
	<-s.loopDone
	done := make(chan struct{})
	go func() { s.syncs.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		s.log.Warn("interrupting running syncs: the shutdown's time is up; the next holder resumes them")
		s.cancelWork()
		<-done
		err = fmt.Errorf("running syncs were interrupted: %w", ctx.Err())
	}
	s.stopWatch()
	<-s.watchDone
	s.policies.Wait()
	s.cancelWork()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	for key := range s.groups {
		if rerr := s.cfg.Store.ReleaseLease(rctx, key, s.cfg.Instance); rerr != nil {
			err = errors.Join(err, rerr)
		}
		delete(s.groups, key)
	}
	s.m.leases.Set(0)
	s.log.Info("scheduler stopped")
	return err
}

// Preflight tests d's credentials and permissions (device.Connector.Preflight).
func (s *Scheduler) Preflight(ctx context.Context, d store.Device) (*device.PreflightReport, error) {
	return s.conn.Preflight(ctx, d)
}

// feedChanged hears that a source of a policy changed.
func (s *Scheduler) feedChanged(orgID int64, policy string) {
	s.mu.Lock()
	s.feedEpoch[device.PolicyKey{OrgID: orgID, Name: policy}]++
	s.mu.Unlock()
	s.Wake()
}

func (s *Scheduler) device(id int64) *deviceState {
	ds, ok := s.devs[id]
	if !ok {
		ds = &deviceState{}
		s.devs[id] = ds
	}
	return ds
}
