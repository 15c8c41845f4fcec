package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/secret"
	"github.com/rpzfw/rpzfw/internal/store"
	"github.com/rpzfw/rpzfw/internal/store/sqlstore"
)

// fakeActions is an Actions whose methods call the On functions a test
// sets; one that is called unset fails the test.
type fakeActions struct {
	t           *testing.T
	OnChanged   func()
	OnSyncNow   func(ctx context.Context, d store.Device) error
	OnPreflight func(ctx context.Context, d store.Device) (*device.PreflightReport, error)
	OnRemove    func(ctx context.Context, d store.Device, keepRules bool) error
}

var _ Actions = (*fakeActions)(nil)

func (f *fakeActions) unset(name string) {
	f.t.Errorf("fakeActions.%s was called, but the test did not set it", name)
	panic("fakeActions." + name + " unset")
}

func (f *fakeActions) Changed() {
	if f.OnChanged == nil {
		f.unset("Changed")
	}
	f.OnChanged()
}

func (f *fakeActions) SyncNow(ctx context.Context, d store.Device) error {
	if f.OnSyncNow == nil {
		f.unset("SyncNow")
	}
	return f.OnSyncNow(ctx, d)
}

func (f *fakeActions) Preflight(ctx context.Context, d store.Device) (*device.PreflightReport, error) {
	if f.OnPreflight == nil {
		f.unset("Preflight")
	}
	return f.OnPreflight(ctx, d)
}

func (f *fakeActions) RemoveDevice(ctx context.Context, d store.Device, keepRules bool) error {
	if f.OnRemove == nil {
		f.unset("RemoveDevice")
	}
	return f.OnRemove(ctx, d, keepRules)
}

// syncBuffer is a log sink tests read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is an API on a real SQLite store behind a real HTTP server, with
// two organizations: A (admin and viewer tokens) and B (admin).
type env struct {
	t        *testing.T
	store    *sqlstore.DB
	keys     *secret.Keyring
	srv      *Server
	http     *httptest.Server
	actions  *fakeActions
	reg      *prometheus.Registry
	log      *syncBuffer
	clock    *fakeClock
	orgA     store.Org
	orgB     store.Org
	admin    string // org A, admin
	viewer   string // org A, viewer
	adminB   string // org B, admin
	changed  atomic.Int64
	bodies   []string // every response body, for leak checks
	bodiesMu sync.Mutex
}

type envOption func(*Config)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, log: &syncBuffer{}, reg: prometheus.NewRegistry(), clock: &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}}
	logger := slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	st, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "db.sqlite"), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.store = st
	if e.keys, err = secret.New(bytes.Repeat([]byte{7}, 32)); err != nil {
		t.Fatal(err)
	}
	e.actions = &fakeActions{t: t}
	e.actions.OnChanged = func() { e.changed.Add(1) }
	e.orgA, e.admin, e.viewer = e.org("alpha", store.RoleAdmin, store.RoleViewer)
	e.orgB, e.adminB, _ = e.org("beta", store.RoleAdmin, store.RoleViewer)
	cfg := Config{
		Store: st, Keyring: e.keys, Actions: e.actions, Log: logger.With("part", "api"),
		Registerer: e.reg, Gatherer: e.reg, Now: e.clock.Now,
		DeviceRules: device.Rules{SandboxEndpoint: ""},
	}
	for _, o := range opts {
		o(&cfg)
	}
	if e.srv, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	e.http = httptest.NewServer(e.srv)
	t.Cleanup(e.http.Close)
	return e
}

// org makes an organization with a token of each role given.
func (e *env) org(name string, roles ...string) (store.Org, string, string) {
	e.t.Helper()
	ctx := context.Background()
	o, err := e.store.CreateOrg(ctx, name)
	if err != nil {
		e.t.Fatal(err)
	}
	var toks []string
	for _, role := range roles {
		plain, hash, err := NewToken()
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := e.store.CreateToken(ctx, store.Token{OrgID: o.ID, Name: name + "-" + role, Role: role, Hash: hash}); err != nil {
			e.t.Fatal(err)
		}
		toks = append(toks, plain)
	}
	return o, toks[0], toks[1]
}

// response is an answer of the API.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into v.
func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// apiError is the error of an error response.
func (r response) apiError(t *testing.T) Error {
	t.Helper()
	var b struct{ Error Error }
	r.json(t, &b)
	return b.Error
}

// do sends a request; body is sent as is when a string or []byte, else as
// JSON.
func (e *env) do(method, path, token string, body any, hdr ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	e.bodiesMu.Lock()
	e.bodies = append(e.bodies, string(out))
	e.bodiesMu.Unlock()
	return response{status: res.StatusCode, header: res.Header, body: out}
}

// must sends a request and fails the test unless the status is want.
func (e *env) must(want int, method, path, token string, body any, hdr ...string) response {
	e.t.Helper()
	r := e.do(method, path, token, body, hdr...)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

// wantError sends a request and checks the error's status, code and field.
func (e *env) wantError(status int, code, field, method, path, token string, body any, hdr ...string) Error {
	e.t.Helper()
	r := e.do(method, path, token, body, hdr...)
	if r.status != status {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, status, r.body)
	}
	got := r.apiError(e.t)
	if got.Code != code || got.Field != field {
		e.t.Fatalf("%s %s: error %+v, want code %q field %q", method, path, got, code, field)
	}
	if got.Message == "" {
		e.t.Fatalf("%s %s: an error without a message", method, path)
	}
	return got
}

// Fixtures.

const (
	testAccessKey = "AKIAIOSFODNN7EXAMPLE"
	testSecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY"
	testTSIG      = "c3VwZXItc2VjcmV0LXRzaWcta2V5LXZhbHVl"
	testHeader    = "Bearer header-secret-0123456789"
)

func blockPolicy(name string, domains ...string) map[string]any {
	if len(domains) == 0 {
		domains = []string{"bad.example"}
	}
	return map[string]any{"name": name, "block_list": domains}
}

func tsigPolicy(name string) map[string]any {
	return map[string]any{
		"name": name,
		"sources": []any{
			map[string]any{
				"name": "feed", "kind": "zone-transfer", "primaries": []string{"192.0.2.1"}, "zone": "rpz.example",
				"tsig": map[string]any{"name": "xfr-key", "algorithm": "hmac-sha256", "secret": testTSIG},
			},
			map[string]any{
				"name": "web", "kind": "https", "url": "https://lists.example/rpz.txt", "format": "list",
				"headers": map[string]any{"Authorization": testHeader},
			},
		},
	}
}

func accessKeyDevice(nick, policy string) map[string]any {
	return map[string]any{
		"nickname": nick, "policy": policy, "region": "us-east-1", "rule_group_id": "rslvr-frg-0123456789abcdef",
		"credentials": map[string]any{"type": "access_key", "access_key_id": testAccessKey, "secret_access_key": testSecretKey},
	}
}

// deviceOut is a device as tests read it.
type deviceOut struct {
	Nickname    string `json:"nickname"`
	Policy      string `json:"policy"`
	Note        string `json:"note"`
	Credentials struct {
		Type        string `json:"type"`
		AccessKeyID string `json:"access_key_id"`
		SecretSet   bool   `json:"secret_set"`
		RoleARN     string `json:"role_arn"`
	} `json:"credentials"`
	MaxPolicySize int `json:"max_policy_size"`
	Status        struct {
		State         string `json:"state"`
		SyncRequested bool   `json:"sync_requested"`
	} `json:"status"`
}

func (e *env) getDevice(token, nick string) deviceOut {
	e.t.Helper()
	var d deviceOut
	e.must(200, "GET", "/api/v1/devices/"+nick, token, nil).json(e.t, &d)
	return d
}

func (e *env) storedDevice(org store.Org, nick string) store.Device {
	e.t.Helper()
	d, err := e.store.GetDevice(context.Background(), org.ID, nick)
	if err != nil {
		e.t.Fatalf("device %q: %v", nick, err)
	}
	return d
}
