package querylog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rpzfw/rpzfw/internal/secret"
	"github.com/rpzfw/rpzfw/internal/store"
)

// Config configures the log pipeline. Zero values take the defaults.
type Config struct {
	Store   store.Store
	Keyring *secret.Keyring
	Log     *slog.Logger
	// Registerer takes the pipeline's metrics (nil: none are exported).
	Registerer prometheus.Registerer
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Endpoint overrides the S3 and SQS endpoints of every queue (a
	// sandbox's local S3 and SQS).
	Endpoint string
	// AllowAmbient lets devices use this server's own credential chain.
	AllowAmbient bool
	// Instance names this process in the objects it records.
	Instance string
	// Refresh is how often devices are read again for new, changed or
	// removed queues, and quarantined messages checked for retries
	// (default 10s).
	Refresh time.Duration
	// Wait is the long poll (default 20s, SQS's longest); Visibility the
	// visibility timeout asked at receive and extended while an object is
	// read (default 60s).
	Wait, Visibility time.Duration
	// MaxReceives is how many receives a failing message gets before it
	// is quarantined (default 5); RetryBase the first wait before a retry,
	// doubling at each (default 10s).
	MaxReceives int
	RetryBase   time.Duration
	// Workers is how many messages of one queue are handled at once
	// (default 4).
	Workers int
	// Retention of log data, pruned every PruneEvery (default 1h).
	Retention  store.Retention
	PruneEvery time.Duration
	// TopK is how many query names and clients the tops of each day keep
	// (default 1000; an hour's keep a quarter of that); they are made
	// every TopsEvery (default 1m).
	TopK      int
	TopsEvery time.Duration
	// SpillDir holds the spill files of large objects (default: the
	// system's temporary directory).
	SpillDir string
	// Clients makes the clients of a queue (default NewClients with the
	// device's credentials).
	Clients func(ctx context.Context, q QueueSpec) (Clients, error)
	// AfterIngest runs after each object is committed, before its message
	// is deleted; an error stops there as a crash would (tests).
	AfterIngest func(ObjectRef) error
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Refresh, 10*time.Second)
	def(&c.Wait, 20*time.Second)
	def(&c.Visibility, 60*time.Second)
	def(&c.RetryBase, 10*time.Second)
	def(&c.PruneEvery, time.Hour)
	def(&c.TopsEvery, time.Minute)
	if c.TopK <= 0 {
		c.TopK = 1000
	}
	def(&c.Retention.Hits, store.DefaultRetention.Hits)
	def(&c.Retention.Counts, store.DefaultRetention.Counts)
	c.Visibility = max(c.Visibility, 2*time.Second)
	if c.MaxReceives <= 0 {
		c.MaxReceives = 5
	}
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
	return c
}

// Manager runs one consumer per distinct queue and credentials of the
// devices with log upload, and prunes log data past its retention.
type Manager struct {
	cfg     Config
	metrics *metrics
	cache   *sourceCache

	mu        sync.Mutex
	consumers map[string]*consumer
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	// wake asks for a refresh now (Wake), not at the next tick.
	wake chan struct{}
}

// Wake asks the pipeline to read the devices again now: a device was
// added or changed, or a sync stored its rule group's VPCs. Lines read
// with the older set would count for no device, for good. It never
// blocks; wakes while one is pending merge.
func (m *Manager) Wake() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// New makes the pipeline; Start runs it.
func New(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("querylog: a store is required")
	}
	cfg = cfg.withDefaults()
	if cfg.Clients == nil {
		opts := ClientOptions{Keyring: cfg.Keyring, Endpoint: cfg.Endpoint, AllowAmbient: cfg.AllowAmbient}
		cfg.Clients = func(ctx context.Context, q QueueSpec) (Clients, error) { return NewClients(ctx, q, opts) }
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("querylog metrics: %w", err)
	}
	return &Manager{cfg: cfg, metrics: m, cache: newSourceCache(50_000), consumers: map[string]*consumer{}, wake: make(chan struct{}, 1)}, nil
}

func (m *Manager) now() time.Time { return m.cfg.Now() }

// Start reads the devices, starts a consumer per queue, and returns; the
// set of queues follows the devices from then on.
func (m *Manager) Start(ctx context.Context) error {
	ctx, m.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if err := m.refresh(ctx); err != nil {
		m.cancel()
		return err
	}
	m.wg.Go(func() { m.loop(ctx) })
	return nil
}

// Shutdown stops every consumer and waits for them (until ctx ends). A
// message in progress is left in its queue: it comes back after its
// visibility timeout, and what was committed of it is not counted again.
func (m *Manager) Shutdown(ctx context.Context) error {
	if m.cancel == nil {
		return nil
	}
	m.cancel()
	done := make(chan struct{})
	go func() { m.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stopping the log consumers: %w", ctx.Err())
	}
}

func (m *Manager) loop(ctx context.Context) {
	refresh := time.NewTicker(m.cfg.Refresh)
	defer refresh.Stop()
	// The first pruning waits a little, past the start's busiest moment.
	prune := time.NewTimer(min(time.Minute, m.cfg.PruneEvery))
	defer prune.Stop()
	tops := time.NewTicker(m.cfg.TopsEvery)
	defer tops.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tops.C:
			if err := m.MakeTops(ctx); err != nil && ctx.Err() == nil {
				m.cfg.Log.Warn("making the tops of past hours and days failed", "err", err)
			}
		case <-m.wake:
			if err := m.refresh(ctx); err != nil && ctx.Err() == nil {
				m.cfg.Log.Warn("reading the devices with log upload failed; keeping the current queues", "err", err)
			}
		case <-refresh.C:
			if err := m.refresh(ctx); err != nil && ctx.Err() == nil {
				m.cfg.Log.Warn("reading the devices with log upload failed; keeping the current queues", "err", err)
			}
		case <-prune.C:
			n, err := m.cfg.Store.PruneLogs(ctx, m.cfg.Retention, m.now())
			if err != nil && ctx.Err() == nil {
				m.cfg.Log.Warn("pruning old log data failed", "err", err)
			} else if n > 0 {
				m.cfg.Log.Info("pruned log data past its retention", "rows", n)
			}
			prune.Reset(m.cfg.PruneEvery)
		}
	}
}

// refresh reads the devices with log upload and brings the consumers in
// line: new queues start, gone ones stop, the others see the new devices.
func (m *Manager) refresh(ctx context.Context) error {
	groups, err := loadGroups(ctx, m.cfg.Store)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for key, c := range m.consumers {
		if groups[key] == nil {
			c.cancel()
			delete(m.consumers, key)
			c.log.Info("stopped consuming a log queue: no device uses it any more")
		}
	}
	for key, g := range groups {
		devs := g.devices()
		if c := m.consumers[key]; c != nil {
			c.ing.devs.Store(devs)
			continue
		}
		m.start(ctx, key, g.spec, devs)
	}
	m.metrics.queues.Set(float64(len(m.consumers)))
	return nil
}

// start runs a consumer for a new queue. Clients that cannot be made put
// the queue in error; the next refresh tries again.
func (m *Manager) start(ctx context.Context, key string, spec QueueSpec, devs *devices) {
	log := m.cfg.Log.With("queue", spec.URL)
	cl, err := m.cfg.Clients(ctx, spec)
	if err != nil {
		log.Warn("cannot read a log queue", "err", err)
		q := store.LogQueue{URL: spec.URL, OrgID: devs.org, State: store.QueueError, Error: err.Error(), ErrorAt: m.now()}
		if err := m.cfg.Store.PutLogQueue(ctx, q); err != nil {
			log.Warn("storing the health of a log queue failed", "err", err)
		}
		return
	}
	cctx, cancel := context.WithCancel(ctx)
	ing := &Ingester{store: m.cfg.Store, queue: spec.URL, cache: m.cache, log: log, spillDir: m.cfg.SpillDir, instance: m.cfg.Instance, now: m.now}
	ing.devs.Store(devs)
	c := &consumer{m: m, spec: spec, queue: spec.URL, cl: cl, ing: ing, log: log, cancel: cancel, done: make(chan struct{}),
		health: store.LogQueue{URL: spec.URL, OrgID: devs.org, State: store.QueueOK}}
	m.consumers[key] = c
	m.wg.Go(func() { c.run(cctx) })
	log.Info("consuming a log queue", "devices", len(devs.orgs)-1)
}

// setError records a failure of op in the queue's health; an access
// denied names the permission that is missing.
func (c *consumer) setError(ctx context.Context, op string, err error) {
	c.hmu.Lock()
	h := c.health
	h.State, h.Error, h.Permission, h.ErrorAt = store.QueueError, err.Error(), "", c.m.now()
	var de *deniedError
	if errors.As(err, &de) {
		h.Permission = de.Permission
	}
	due := h.Error != c.health.Error || c.health.State != store.QueueError || c.m.now().Sub(c.wrote) > time.Minute
	c.health, c.failedOp = h, op
	c.hmu.Unlock()
	if due {
		c.store(ctx, h)
	}
}

// setOK clears an error after op succeeds (op "" clears any: an object
// went through), and notes the receive.
func (c *consumer) setOK(ctx context.Context, op string) {
	c.hmu.Lock()
	h := c.health
	cleared := h.State == store.QueueError && (op == "" || op == c.failedOp)
	if cleared {
		h.State, h.Error, h.Permission = store.QueueOK, "", ""
	}
	if op == "sqs:ReceiveMessage" {
		h.LastReceive = c.m.now()
	}
	c.health = h
	due := cleared || c.m.now().Sub(c.wrote) > time.Minute
	c.hmu.Unlock()
	if due {
		c.store(ctx, h)
	}
}

func (c *consumer) store(ctx context.Context, h store.LogQueue) {
	if err := c.m.cfg.Store.PutLogQueue(ctx, h); err != nil && ctx.Err() == nil {
		c.log.Warn("storing the health of a log queue failed", "err", err)
		return
	}
	c.hmu.Lock()
	c.wrote = c.m.now()
	c.hmu.Unlock()
}

// Tops are made once a bucket is over, after a grace for late objects (an
// object that adds to a bucket later has it made again).
var topsGrace = map[time.Duration]time.Duration{time.Hour: 10 * time.Minute, 24 * time.Hour: time.Hour}

// MakeTops makes the tops of the hours and days that are over and have
// none (see store.LogTops).
func (m *Manager) MakeTops(ctx context.Context) error {
	return MakeTops(ctx, m.cfg.Store, m.now(), m.cfg.Retention.Hits, m.cfg.TopK)
}

// MakeTops makes the tops of every hour and day in the hits' retention
// that is over and has none: k values for a day, a quarter of that for an
// hour (hours only serve ranges under two days and a long range's edges,
// where fewer rows read faster).
func MakeTops(ctx context.Context, st store.LogTops, now time.Time, retention time.Duration, k int) error {
	const batch = 100
	for _, w := range []time.Duration{time.Hour, 24 * time.Hour} {
		kw := k
		if w == time.Hour {
			kw = max(k/4, 1)
		}
		for {
			bs, err := st.TopsToMake(ctx, w, now.Add(-retention), now.Add(-topsGrace[w]), batch)
			if err != nil {
				return err
			}
			for _, b := range bs {
				if err := st.MakeTops(ctx, b, kw); err != nil {
					return err
				}
			}
			if len(bs) < batch {
				break
			}
		}
	}
	return nil
}
