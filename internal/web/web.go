package web

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets/*
var assetFS embed.FS

// Actions are what the pages ask of the rest of the service: the same
// code paths as the JSON API (api.Actions satisfies it).
type Actions interface {
	// SyncNow asks for a sync of d soon.
	SyncNow(ctx context.Context, d store.Device) error
}

// Config is what the portal needs.
type Config struct {
	Store   store.Store
	Actions Actions
	// API is the JSON API's handler: pages read and change things through
	// it in-process (callAPI), so both share one code path.
	API http.Handler
	// Log receives failed logins and internal errors. Nil: discard.
	Log *slog.Logger
	// Now is the clock (sessions, rate limits). Nil: time.Now.
	Now func() time.Time
	// SessionTTL is how long a login lasts (default 12 hours).
	SessionTTL time.Duration
	// SecureCookies marks cookies Secure even on plain HTTP (behind a
	// proxy that ends TLS). Over TLS they always are.
	SecureCookies bool
	// Limits bound failed logins (zero fields take the defaults).
	Limits Limits
	// SandboxDNS is where the built-in emulator answers DNS ("" without
	// one): the test step of a sandbox device digs there.
	SandboxDNS string
}

// Limits bound failed logins: past Max failures within Window from one
// client address, or for one user name, logins from it (or as them) are
// refused until the window ends.
type Limits struct {
	PerAddress int
	PerUser    int
	Window     time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.PerAddress <= 0 {
		l.PerAddress = 20
	}
	if l.PerUser <= 0 {
		l.PerUser = 10
	}
	if l.Window <= 0 {
		l.Window = 15 * time.Minute
	}
	return l
}

// Server is the portal as an http.Handler. It serves / and /ui/....
type Server struct {
	cfg    Config
	log    *slog.Logger
	mux    *http.ServeMux
	pages  map[string]*template.Template
	assets http.Handler
	byAddr *failures
	byUser *failures
}

// New builds the portal.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Actions == nil || cfg.API == nil {
		return nil, errors.New("web: Store, Actions and API are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	cfg.Limits = cfg.Limits.withDefaults()
	s := &Server{cfg: cfg, log: cfg.Log, mux: http.NewServeMux(), pages: map[string]*template.Template{}}
	names, err := pageNames()
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partial_*.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		s.pages[name] = t
	}
	sub, err := fs.Sub(assetFS, "assets")
	if err != nil {
		return nil, err
	}
	s.assets = http.StripPrefix("/ui/assets/", http.FileServerFS(sub))
	s.byAddr = newFailures(cfg.Limits.PerAddress, cfg.Limits.Window, cfg.Now)
	s.byUser = newFailures(cfg.Limits.PerUser, cfg.Limits.Window, cfg.Now)
	s.routes()
	return s, nil
}

// routes is the portal's route table.
func (s *Server) routes() {
	s.mux.HandleFunc("GET /{$}", s.home)
	s.mux.HandleFunc("GET /ui/{$}", s.home)
	s.mux.Handle("GET /ui/assets/", s.assets)
	s.mux.HandleFunc("GET /ui/login", s.loginPage)
	s.mux.HandleFunc("POST /ui/login", s.login)
	s.mux.HandleFunc("POST /ui/logout", s.withSession(false, s.logout))
	s.mux.HandleFunc("GET /ui/devices", s.withSession(false, s.devicesPage))
	s.mux.HandleFunc("POST /ui/devices/{nickname}/sync", s.withSession(true, s.syncNow))
	s.deviceRoutes()
	s.policyRoutes()
	s.reportRoutes()
	s.mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusNotFound, "There is no such page.")
	})
}

// pageNames are the page templates: every templates/*.html but the
// layout and the partial_*.html pieces pages share, each parsed with
// those.
func pageNames() ([]string, error) {
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name != "layout" && !strings.HasPrefix(name, "partial_") {
			names = append(names, name)
		}
	}
	return names, nil
}

// ServeHTTP serves the portal with headers that keep its pages out of
// frames, caches and other sites' scripts.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	if r.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := s.session(r); ok {
		http.Redirect(w, r, "/ui/devices", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}

// page is what every template gets.
type page struct {
	Title string
	User  *store.User
	CSRF  string
	Admin bool
	Data  any
}

func (s *Server) render(w http.ResponseWriter, status int, name string, p page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := s.pages[name].Execute(w, p); err != nil {
		s.log.Error("rendering a page", "page", name, "err", err)
	}
}

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p := page{Title: http.StatusText(status), Data: msg}
	if sess, u, ok := s.session(r); ok {
		p.User, p.CSRF, p.Admin = &u, sess.CSRF, u.Role == store.RoleAdmin
	}
	s.render(w, status, "error", p)
}

// internal logs err and answers without its details.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	s.log.Error(what, "path", r.URL.Path, "err", err)
	s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong on the server; it is logged.")
}

var funcs = template.FuncMap{
	"stateLabel": func(s string) string {
		if l, ok := stateLabels[s]; ok {
			return l
		}
		return s
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"iso": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	},
}
