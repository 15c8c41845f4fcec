// Package service builds "rpzfw serve" from its config: the store, the
// master key, the sandbox emulator, the scheduler and the API, started and
// stopped in order.
//
// Start returns once every part is ready; Shutdown stops taking work, lets
// running syncs reach a safe point, and closes the store last. Errors a
// part meets after start are logged and shown on /readyz.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/rpzfw/rpzfw/internal/api"
	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/emulator"
	"github.com/rpzfw/rpzfw/internal/policydoc"
	"github.com/rpzfw/rpzfw/internal/querylog"
	"github.com/rpzfw/rpzfw/internal/scheduler"
	"github.com/rpzfw/rpzfw/internal/secret"
	"github.com/rpzfw/rpzfw/internal/store"
	"github.com/rpzfw/rpzfw/internal/store/sqlstore"
	"github.com/rpzfw/rpzfw/internal/web"
)

// Service is a running "rpzfw serve".
type Service struct {
	cfg     Config
	log     *slog.Logger
	store   store.Store
	keys    *secret.Keyring
	reg     *registry
	sandbox *emulator.Running
	sbx     sandboxExtras
	sched   *scheduler.Scheduler
	logs    *querylog.Manager
	api     *api.Server
	web     *web.Server
	http    *http.Server
	ln      net.Listener
	stop    context.CancelFunc
	served  chan struct{}

	mu      sync.Mutex
	lastErr error

	// URL is where the API listens, once started.
	URL string
	// Org is the organization made on first start.
	Org store.Org
	// FirstToken is the admin token made on first start ("" afterwards).
	FirstToken string
	// FirstPassword is the portal admin's, made on first start.
	FirstPassword string
}

// OpenStore opens the configured database and master key: what serve and
// the admin commands share.
func OpenStore(ctx context.Context, cfg Config, log *slog.Logger) (store.Store, *secret.Keyring, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("creating the data directory: %w", err)
	}
	key, created, err := secret.LoadKey(os.Getenv, cfg.MasterKeyFile)
	if err != nil {
		return nil, nil, err
	}
	if created {
		log.Warn("created a new master key: back it up; without it the stored secrets cannot be read", "file", cfg.MasterKeyFile)
	}
	keys, err := secret.New(key)
	if err != nil {
		return nil, nil, err
	}
	st, err := sqlstore.Open(ctx, cfg.Database, log)
	if err != nil {
		return nil, nil, err
	}
	return st, keys, nil
}

// New opens the store and checks the config; Start runs the rest.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Service, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	log.Info("starting rpzfw serve", "config", cfg)
	st, keys, err := OpenStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: log, store: st, keys: keys, reg: newRegistry(), served: make(chan struct{})}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return s, nil
}

func (s *Service) deviceRules() device.Rules {
	r := device.Rules{AllowAmbient: s.cfg.AllowAmbientCredentials}
	if s.sandbox != nil {
		r.SandboxEndpoint = s.sandbox.APIURL
	}
	return r
}

// sandboxDNS is where the sandbox answers DNS ("" without a sandbox), for
// the portal's test step.
func (s *Service) sandboxDNS() string {
	if s.sandbox == nil || s.sandbox.Data == nil {
		return ""
	}
	return s.sandbox.Data.Addr()
}

func (s *Service) policyOptions() policydoc.Options {
	return policydoc.Options{BaseDir: predefinedDir(s.cfg.DataDir), FileRoots: s.cfg.FileRoots}
}

// Start brings up every part and returns once the API is listening.
func (s *Service) Start(ctx context.Context) error {
	ctx, s.stop = context.WithCancel(context.WithoutCancel(ctx))
	if err := s.bootstrap(ctx); err != nil {
		return err
	}
	// The log pipeline is made first so that a sync can wake it: it must
	// read a rule group's VPCs before attributing lines by them.
	logs, err := querylog.New(querylog.Config{Store: s.store, Keyring: s.keys, Log: s.log.With("part", "logs"), Registerer: s.reg,
		AllowAmbient: s.cfg.AllowAmbientCredentials, Instance: s.cfg.Instance})
	if err != nil {
		return err
	}
	s.logs = logs
	sched, err := scheduler.New(scheduler.Config{
		Store: s.store, Keyring: s.keys, Instance: s.cfg.Instance, Log: s.log.With("part", "scheduler"),
		Poll: s.cfg.Poll, Reconcile: s.cfg.Reconcile, LeaseTTL: s.cfg.LeaseTTL, Rate: s.cfg.Rate,
		DataDir: s.cfg.DataDir, SandboxEndpoint: s.deviceRules().SandboxEndpoint, NotifyListen: s.cfg.NotifyListen,
		Registerer: s.reg, Stored: logs.Wake,
	})
	if err != nil {
		return err
	}
	s.sched = sched
	if err := sched.Start(ctx); err != nil {
		return err
	}
	if err := logs.Start(ctx); err != nil {
		return fmt.Errorf("starting the query log consumers: %w", err)
	}
	srv, err := api.New(api.Config{
		Store: s.store, Keyring: s.keys, DeviceRules: s.deviceRules(), PolicyOptions: s.policyOptions(),
		Actions: actions{s}, Policies: sched.Policies(), Log: s.log.With("part", "api"), Gatherer: s.reg, Registerer: s.reg,
		Ready: s.ready, PublicMetrics: s.cfg.PublicMetrics,
	})
	if err != nil {
		return err
	}
	s.api = srv
	if s.web, err = web.New(web.Config{Store: s.store, Actions: actions{s}, API: srv, Log: s.log.With("part", "web"),
		SecureCookies: s.cfg.SecureCookies, SandboxDNS: s.sandboxDNS()}); err != nil {
		return err
	}
	return s.listen()
}

func (s *Service) listen() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.cfg.Listen, err)
	}
	s.ln = ln
	s.URL = "http://" + ln.Addr().String()
	// The portal's pages (/ and /ui/...) beside the API on the same port.
	mux := http.NewServeMux()
	mux.Handle("/", s.api)
	mux.Handle("GET /{$}", s.web)
	mux.Handle("/ui/", s.web)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute}
	go func() {
		defer close(s.served)
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.fail(fmt.Errorf("API server: %w", err))
		}
	}()
	s.log.Info("rpzfw serve is ready", "url", s.URL, "instance", s.cfg.Instance)
	return nil
}

// bootstrap makes what a first start needs: the organization, the
// pre-defined policies, an admin token, and the sandbox with its device.
func (s *Service) bootstrap(ctx context.Context) error {
	if err := writeExamples(s.cfg.DataDir); err != nil {
		return err
	}
	org, err := s.store.OrgByName(ctx, s.cfg.Org)
	if errors.Is(err, store.ErrNotFound) {
		org, err = s.store.CreateOrg(ctx, s.cfg.Org)
		if errors.Is(err, store.ErrConflict) { // another instance made it first
			org, err = s.store.OrgByName(ctx, s.cfg.Org)
		}
	}
	if err != nil {
		return fmt.Errorf("setting up organization %q: %w", s.cfg.Org, err)
	}
	s.Org = org
	if err := ensurePredefined(ctx, s.store, org.ID, s.cfg.DataDir); err != nil {
		return err
	}
	if err := s.firstToken(ctx, org); err != nil {
		return err
	}
	if err := s.firstUser(ctx, org); err != nil {
		return err
	}
	if !s.cfg.Sandbox {
		return nil
	}
	if err := s.startSandbox(ctx); err != nil {
		return err
	}
	if err := s.ensureSandboxDevice(ctx, org); err != nil {
		return err
	}
	s.startSandboxTraffic(ctx, org)
	return nil
}

// firstToken makes an admin token when the organization has none, and
// keeps it in the data directory (mode 0600) so a newcomer can find it.
func (s *Service) firstToken(ctx context.Context, org store.Org) error {
	toks, err := s.store.ListTokens(ctx, org.ID)
	if err != nil || len(toks) > 0 {
		return err
	}
	plain, hash, err := api.NewToken()
	if err != nil {
		return err
	}
	if _, err := s.store.CreateToken(ctx, store.Token{OrgID: org.ID, Name: "first-admin", Role: store.RoleAdmin, Hash: hash}); err != nil {
		return fmt.Errorf("creating the first admin token: %w", err)
	}
	s.FirstToken = plain
	path := filepath.Join(s.cfg.DataDir, "admin.token")
	if err := os.WriteFile(path, []byte(plain+"\n"), 0o600); err != nil {
		return fmt.Errorf("saving the first admin token: %w", err)
	}
	return nil
}

// TokenFile is where the first admin token is kept.
func (s *Service) TokenFile() string { return filepath.Join(s.cfg.DataDir, "admin.token") }

// Sandbox is the running sandbox emulator, or nil.
func (s *Service) Sandbox() *emulator.Running { return s.sandbox }

// Store is the service's store (tests and benchmarks read it).
func (s *Service) Store() store.Store { return s.store }

func (s *Service) fail(err error) {
	s.log.Error("a part of the service failed", "err", err)
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
}

// ready is /readyz: the store answers and no part has failed.
func (s *Service) ready(ctx context.Context) error {
	s.mu.Lock()
	err := s.lastErr
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := s.store.Ping(ctx); err != nil {
		return fmt.Errorf("the database does not answer: %w", err)
	}
	return nil
}

// Shutdown stops taking requests and work, lets running syncs reach a safe
// point (until ctx ends), stops the sandbox and closes the store.
func (s *Service) Shutdown(ctx context.Context) error {
	var errs []error
	if s.http != nil {
		if err := s.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping the API: %w", err))
		}
		<-s.served
	}
	if s.logs != nil {
		if err := s.logs.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping the query log consumers: %w", err))
		}
	}
	if s.sched != nil {
		if err := s.sched.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping the scheduler: %w", err))
		}
	}
	if s.stop != nil {
		s.stop()
	}
	if s.sandbox != nil {
		s.sandbox.Wait()
	}
	s.waitSandboxAWS()
	if err := s.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("closing the store: %w", err))
	}
	s.log.Info("rpzfw serve stopped")
	return errors.Join(errs...)
}

// actions is what the API asks of the service.
type actions struct{ s *Service }

func (a actions) Changed() {
	a.s.sched.Wake()
	a.s.logs.Wake() // a device's log upload or rule group may have changed
}

func (a actions) SyncNow(ctx context.Context, d store.Device) error {
	if err := a.s.store.RequestSync(ctx, d.ID); err != nil {
		return err
	}
	a.s.sched.Wake()
	return nil
}

func (a actions) Preflight(ctx context.Context, d store.Device) (*device.PreflightReport, error) {
	return a.s.sched.Preflight(ctx, d)
}

func (a actions) RemoveDevice(ctx context.Context, d store.Device, keepRules bool) error {
	return a.s.sched.Remove(ctx, d, keepRules)
}
