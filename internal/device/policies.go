package device

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/rpzfw/rpzfw/internal/feed"
	"github.com/rpzfw/rpzfw/internal/fsutil"
	"github.com/rpzfw/rpzfw/internal/policy"
	"github.com/rpzfw/rpzfw/internal/policydoc"
	"github.com/rpzfw/rpzfw/internal/secret"
	"github.com/rpzfw/rpzfw/internal/store"
)

// PolicyKey names a stored policy.
type PolicyKey struct {
	OrgID int64
	Name  string
}

// PoliciesConfig configures Policies.
type PoliciesConfig struct {
	// DataDir holds the feed caches: DataDir/feeds/<org ID>/<policy>.
	DataDir string
	// Keyring opens the policies' sealed secrets.
	Keyring *secret.Keyring
	// Options anchor the policies' relative paths (policydoc.Load).
	Options policydoc.Options
	Log     *slog.Logger
}

// Policies keeps the stored policies that devices use, each read once
// into a Loaded with one feed.Manager for its sources. A policy is read
// again only when its version changes or one of its sources changed.
type Policies struct {
	cfg  PoliciesConfig
	log  *slog.Logger
	kick chan struct{}

	mu       sync.Mutex
	entries  map[PolicyKey]*entry
	onChange func(orgID int64, policy string) // Watch's, for NOTIFY
	// refreshes counts fetches a NOTIFY started, so a shutdown can wait
	// for them instead of leaving them writing into the feed caches.
	refreshes sync.WaitGroup
}

// Wait blocks until the fetches NOTIFYs started have ended (cancel the
// context given to ListenNotify first).
func (p *Policies) Wait() { p.refreshes.Wait() }

// entry is one policy. mu serializes its loads; the watcher fields are
// guarded by Policies.mu.
type entry struct {
	key PolicyKey
	// stale is set when a source changed after the last read.
	stale atomic.Bool

	mu      sync.Mutex
	version int64
	pol     policy.Policy
	mgr     *feed.Manager
	loaded  *Loaded
	// current is mgr, for Watch to read without waiting for a load.
	current atomic.Pointer[feed.Manager]

	watching *feed.Manager
	stop     context.CancelFunc
}

// NewPolicies makes an empty set.
func NewPolicies(cfg PoliciesConfig) *Policies {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Policies{cfg: cfg, log: log, kick: make(chan struct{}, 1), entries: map[PolicyKey]*entry{}}
}

func (p *Policies) entry(k PolicyKey) *entry {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.entries[k]
	if !ok {
		e = &entry{key: k}
		p.entries[k] = e
	}
	return e
}

// Load returns sp read and ready to compile. The first load of a policy,
// and a load after its sources changed, fetches the sources that have no
// good copy or whose settings changed; the rest are kept fresh by Watch.
func (p *Policies) Load(ctx context.Context, sp store.Policy) (*Loaded, error) {
	e := p.entry(PolicyKey{sp.OrgID, sp.Name})
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.loaded != nil && e.version == sp.Version && !e.stale.Load() {
		return e.loaded, nil
	}
	if e.mgr == nil || e.version != sp.Version {
		if err := p.open(ctx, e, sp); err != nil {
			return nil, err
		}
	}
	e.stale.Store(false) // a change from here on is read next time
	l, err := LoadPolicy(ctx, e.pol, e.mgr, e.mgr.Log)
	if err != nil {
		e.loaded = nil
		if errors.Is(err, ErrFeedUnavailable) || errors.Is(err, ErrPolicy) {
			return nil, fmt.Errorf("policy %s: %w", sp.Name, err)
		}
		return nil, err
	}
	e.loaded = l
	return l, nil
}

// open reads the stored policy and makes its feed manager.
func (p *Policies) open(ctx context.Context, e *entry, sp store.Policy) error {
	secrets, err := policydoc.Open(p.cfg.Keyring, sp.Secrets)
	if err != nil {
		return mark(ErrPolicy, fmt.Errorf("policy %s: %w", sp.Name, err))
	}
	pol, err := policydoc.Load(sp.Doc, secrets, p.cfg.Options)
	if err != nil {
		return mark(ErrPolicy, fmt.Errorf("policy %s: %w", sp.Name, err))
	}
	if err := fsutil.CheckName(sp.Name); err != nil {
		return mark(ErrPolicy, fmt.Errorf("policy name: %w", err))
	}
	dir := filepath.Join(p.cfg.DataDir, "feeds", strconv.FormatInt(sp.OrgID, 10), sp.Name)
	mgr, err := feed.NewManager(dir, pol)
	if err != nil {
		return fmt.Errorf("policy %s: %w", sp.Name, err)
	}
	mgr.Log = p.log.With("policy", sp.Name, "org", sp.OrgID)
	for _, s := range pol.Sources {
		if !needsFetch(e.pol, s, mgr) {
			continue
		}
		if _, err := mgr.Refresh(ctx, s.Name); err != nil {
			mgr.Log.Warn("a source could not be fetched; its last good copy is used if there is one", "source", s.Name, "err", err)
		}
	}
	e.pol, e.mgr, e.version, e.loaded = pol, mgr, sp.Version, nil
	e.current.Store(mgr)
	select {
	case p.kick <- struct{}{}: // Watch takes the new manager
	default:
	}
	return nil
}

// needsFetch says whether s must be fetched before the policy is read:
// it is new or changed since old, or it was never fetched successfully.
func needsFetch(old policy.Policy, s policy.SourceSpec, mgr *feed.Manager) bool {
	if mgr.Status(s.Name).LastSuccess.IsZero() {
		return true
	}
	for _, o := range old.Sources {
		if o.Name == s.Name {
			return !reflect.DeepEqual(o, s)
		}
	}
	return true
}

// Watch keeps the sources of every loaded policy fresh (feed.Manager.Watch:
// each on its interval, and at once on a NOTIFY) until ctx ends, and calls
// onChange after a source of a policy changed; the next Load reads the
// policy again.
func (p *Policies) Watch(ctx context.Context, onChange func(orgID int64, policy string)) {
	p.mu.Lock()
	p.onChange = onChange
	p.mu.Unlock()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		p.startWatchers(ctx, &wg, onChange)
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
		}
	}
}

func (p *Policies) startWatchers(ctx context.Context, wg *sync.WaitGroup, onChange func(int64, string)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.entries {
		mgr := e.current.Load()
		if mgr == nil || mgr == e.watching {
			continue
		}
		if e.stop != nil {
			e.stop()
		}
		wctx, stop := context.WithCancel(ctx)
		e.watching, e.stop = mgr, stop
		wg.Add(1)
		go func(e *entry) {
			defer wg.Done()
			mgr.Watch(wctx, func(source string) {
				e.stale.Store(true)
				p.log.Info("a source of a policy changed", "policy", e.key.Name, "org", e.key.OrgID, "source", source)
				if onChange != nil {
					onChange(e.key.OrgID, e.key.Name)
				}
			})
		}(e)
	}
}

// Forget drops the policies keep does not want (no device here uses them
// any more) and stops watching their sources.
func (p *Policies) Forget(keep func(orgID int64, policy string) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, e := range p.entries {
		if keep(k.OrgID, k.Name) {
			continue
		}
		if e.stop != nil {
			e.stop()
		}
		delete(p.entries, k)
	}
}
