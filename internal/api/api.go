// Package api is the service's JSON API over HTTP: policies and devices
// under /api/v1, described by the OpenAPI document at /api/v1/openapi.json,
// plus /healthz, /readyz and /metrics.
//
// Invariants:
//   - Every route is listed once, in the route table (routes.go), with the
//     access it needs; the OpenAPI document is checked against it by a test.
//   - Every route except /healthz and /readyz (and /metrics when
//     Config.PublicMetrics is set) needs "Authorization: Bearer TOKEN". The
//     token's organization scopes every store query, so an object of another
//     organization is not found (404), never forbidden. Viewer tokens may
//     only read.
//   - A secret (a device's secret access key, a policy's TSIG secrets and
//     header values) goes into the store sealed and never comes out: not in
//     a response, not in a log line. Responses say "secret_set": true.
//   - An invalid device or policy is never stored; every validation error
//     names its field.
//   - Errors are {"error": {"code", "message", "field"}}; an internal error
//     is logged with the request ID and answered without its details.
//   - The answers' types (DeviceView, LogHealth, PolicyStatus, ReportHits,
//     ...) are exported because the portal decodes its in-process calls
//     into them: one definition, so a field added here reaches the pages
//     and the OpenAPI document alike. Their schema names do not follow a
//     rename (schemaName), so clients keep theirs.
package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/policydoc"
	"github.com/rpzfw/rpzfw/internal/secret"
	"github.com/rpzfw/rpzfw/internal/store"
)

// Actions are what the API asks of the rest of the service. The service
// implements them; tests pass a fake.
type Actions interface {
	// Changed says an edit was stored: wake the scheduler.
	Changed()
	// SyncNow asks for a sync of d soon (store.RequestSync and a wake).
	SyncNow(ctx context.Context, d store.Device) error
	// Preflight tests d's credentials and permissions.
	Preflight(ctx context.Context, d store.Device) (*device.PreflightReport, error)
	// RemoveDevice removes what rpzfw owns in d's rule group (unless
	// keepRules), then deletes d from the store.
	RemoveDevice(ctx context.Context, d store.Device, keepRules bool) error
}

// Config is what the API needs.
type Config struct {
	Store   store.Store
	Keyring *secret.Keyring
	// DeviceRules are the operator's bounds on devices (ambient
	// credentials, the sandbox).
	DeviceRules device.Rules
	// PolicyOptions say which files a policy may read.
	PolicyOptions policydoc.Options
	Actions       Actions
	// Policies read policies' sources (status, accept, explain); nil: those
	// routes answer 503.
	Policies PolicyFeeds
	// Log receives a line per request (Debug for reads, Info for writes)
	// and every internal error with its request ID. Nil: discard.
	Log *slog.Logger
	// Gatherer is what /metrics serves. Nil: Registerer when it is also a
	// Gatherer (a *prometheus.Registry), else a registry of the API's own.
	Gatherer prometheus.Gatherer
	// Registerer takes the API's own metrics. Nil: a registry of its own.
	Registerer prometheus.Registerer
	// PublicMetrics serves /metrics without a token (for a scraper on a
	// trusted network). By default /metrics needs a token of any role.
	PublicMetrics bool
	// Ready answers /readyz: nil means ready, an error says why not. Nil:
	// the store's Ping.
	Ready func(ctx context.Context) error
	// Now is the clock (rate limits). Nil: time.Now.
	Now func() time.Time
	// Limits bound requests per token and failed logins per address. Zero
	// fields take the defaults (see Limits).
	Limits Limits
}

// Limits are the token buckets of the rate limiter. The defaults are
// generous for people and scripts, and stop a loop or a token guesser from
// loading the database.
type Limits struct {
	// PerToken: requests a second and burst of one token (default 20, 40).
	PerToken   float64
	TokenBurst int
	// FailedAuth: failed authentications a second and burst of one client
	// address (default 1, 20); past it the address gets 429 until the
	// bucket refills, whatever token it sends.
	FailedAuth      float64
	FailedAuthBurst int
}

// Server is the API as an http.Handler.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	metrics *metrics
	gather  prometheus.Gatherer
	tokens  *limiter
	fails   *limiter
	openapi []byte
}

// New builds the API.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Keyring == nil || cfg.Actions == nil {
		return nil, errors.New("api: Store, Keyring and Actions are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Ready == nil {
		cfg.Ready = cfg.Store.Ping
	}
	cfg.Limits = cfg.Limits.withDefaults()
	s := &Server{cfg: cfg, log: cfg.Log, mux: http.NewServeMux()}
	reg, gather := cfg.Registerer, cfg.Gatherer
	if reg == nil {
		r := prometheus.NewRegistry()
		reg = r
		if gather == nil {
			gather = r
		}
	}
	if gather == nil {
		if g, ok := reg.(prometheus.Gatherer); ok {
			gather = g
		} else {
			gather = prometheus.NewRegistry()
		}
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	s.metrics, s.gather = m, gather
	s.tokens = newLimiter(cfg.Limits.PerToken, cfg.Limits.TokenBurst, cfg.Now)
	s.fails = newLimiter(cfg.Limits.FailedAuth, cfg.Limits.FailedAuthBurst, cfg.Now)
	s.mount()
	if s.openapi, err = s.openAPIDoc(); err != nil {
		return nil, err
	}
	return s, nil
}

func (l Limits) withDefaults() Limits {
	if l.PerToken <= 0 {
		l.PerToken = 20
	}
	if l.TokenBurst <= 0 {
		l.TokenBurst = 40
	}
	if l.FailedAuth <= 0 {
		l.FailedAuth = 1
	}
	if l.FailedAuthBurst <= 0 {
		l.FailedAuthBurst = 20
	}
	return l
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}
