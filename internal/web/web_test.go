package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/api"
	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/secret"
	"github.com/rpzfw/rpzfw/internal/store"
	"github.com/rpzfw/rpzfw/internal/store/sqlstore"
)

// fakeActions records sync requests; it fails loudly when unset.
type fakeActions struct {
	mu     sync.Mutex
	synced []string
}

func (f *fakeActions) SyncNow(_ context.Context, d store.Device) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.synced = append(f.synced, d.Nickname)
	return nil
}

// The rest of api.Actions: the portal's pages reach them through the API.
func (f *fakeActions) Changed() {}
func (f *fakeActions) Preflight(context.Context, store.Device) (*device.PreflightReport, error) {
	return nil, errors.New("fakeActions: no preflight in this test")
}
func (f *fakeActions) RemoveDevice(context.Context, store.Device, bool) error {
	return errors.New("fakeActions: no removal in this test")
}

type env struct {
	st      store.Store
	srv     *httptest.Server
	actions *fakeActions
	orgs    map[string]store.Org
}

const testPassword = "correct horse battery"

func newEnv(t *testing.T, limits Limits) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "rpzfw.db"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{st: st, actions: &fakeActions{}, orgs: map[string]store.Org{}}
	hash, err := HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []struct{ org, admin, viewer, device string }{{"a", "alice", "victor", "edge"}, {"b", "bob", "", "other"}} {
		org, err := st.CreateOrg(ctx, o.org)
		if err != nil {
			t.Fatal(err)
		}
		e.orgs[o.org] = org
		for name, role := range map[string]string{o.admin: store.RoleAdmin, o.viewer: store.RoleViewer} {
			if name == "" {
				continue
			}
			if _, err := st.CreateUser(ctx, store.User{OrgID: org.ID, Name: name, Role: role, PasswordHash: hash}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := st.CreatePolicy(ctx, store.Policy{OrgID: org.ID, Name: "p", Doc: []byte(`{"sources":[]}`)}); err != nil {
			t.Fatal(err)
		}
		d, err := st.CreateDevice(ctx, store.Device{OrgID: org.ID, Nickname: o.device, Provider: "aws-dns-firewall", Policy: "p", Region: "eu-west-1",
			RuleGroupID: "rslvr-frg-0123456789abcdef0", PriorityBand: "1000-9000", CredKind: store.CredAmbient, MaxPolicySize: 100000, MonitorOnly: o.org == "b"})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.PutStatus(ctx, store.Status{DeviceID: d.ID, State: store.StateError, Error: "AccessDenied: route53resolver:ListFirewallRules", PlanDomains: 1234, PlanTruncated: 5}); err != nil {
			t.Fatal(err)
		}
	}
	key, err := secret.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := secret.New(key)
	if err != nil {
		t.Fatal(err)
	}
	apiSrv, err := api.New(api.Config{Store: st, Keyring: keys, Actions: e.actions})
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(Config{Store: st, Actions: e.actions, API: apiSrv, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(w)
	t.Cleanup(e.srv.Close)
	return e
}

// client is a browser: cookies, no automatic redirects.
func (e *env) client(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func get(t *testing.T, c *http.Client, u string) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func post(t *testing.T, c *http.Client, u string, form url.Values) (int, string, http.Header) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in %q", body)
	}
	return m[1]
}

// login logs c in and returns the devices page.
func (e *env) login(t *testing.T, c *http.Client, name, password string) (int, string) {
	t.Helper()
	_, body, _ := get(t, c, e.srv.URL+"/ui/login")
	code, body, h := post(t, c, e.srv.URL+"/ui/login", url.Values{"csrf": {csrfOf(t, body)}, "username": {name}, "password": {password}})
	if code != http.StatusSeeOther {
		return code, body
	}
	if h.Get("Location") != "/ui/devices" {
		t.Fatalf("login redirects to %q", h.Get("Location"))
	}
	code, body, _ = get(t, c, e.srv.URL+"/ui/devices")
	return code, body
}

func TestLoginDevicesSyncLogout(t *testing.T) {
	e := newEnv(t, Limits{})
	c := e.client(t)
	if code, _, h := get(t, c, e.srv.URL+"/"); code != http.StatusSeeOther || h.Get("Location") != "/ui/login" {
		t.Fatalf("/ without a session: %d %q", code, h.Get("Location"))
	}
	if code, _, h := get(t, c, e.srv.URL+"/ui/devices"); code != http.StatusSeeOther || h.Get("Location") != "/ui/login" {
		t.Fatalf("devices without a session: %d %q", code, h.Get("Location"))
	}
	code, body := e.login(t, c, "alice", testPassword)
	if code != http.StatusOK {
		t.Fatalf("devices: %d %s", code, body)
	}
	for _, want := range []string{"<title>Devices · rpzfw</title>", `data-device="edge"`, "AccessDenied", "1234 of 100000", "Sync now", `<label for="filter">`} {
		if !strings.Contains(body, want) {
			t.Errorf("devices page lacks %q", want)
		}
	}
	if strings.Contains(body, "other") {
		t.Error("another organization's device is shown")
	}
	u, _ := url.Parse(e.srv.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == sessionCookie && len(ck.Value) < 40 {
			t.Errorf("session ID %q is short", ck.Value)
		}
	}
	token := csrfOf(t, body)
	if code, _, h := post(t, c, e.srv.URL+"/ui/devices/edge/sync", url.Values{"csrf": {token}}); code != http.StatusSeeOther || !strings.Contains(h.Get("Location"), "synced=edge") {
		t.Fatalf("sync now: %d %q", code, h.Get("Location"))
	}
	if code, _, _ := post(t, c, e.srv.URL+"/ui/devices/edge/sync", url.Values{"csrf": {"forged"}}); code != http.StatusForbidden {
		t.Fatalf("sync with a forged CSRF token: %d, want 403", code)
	}
	if code, _, _ := post(t, c, e.srv.URL+"/ui/devices/edge/sync", nil); code != http.StatusForbidden {
		t.Fatalf("sync without a CSRF token: %d, want 403", code)
	}
	if code, _, _ := post(t, c, e.srv.URL+"/ui/devices/other/sync", url.Values{"csrf": {token}}); code != http.StatusNotFound {
		t.Fatalf("sync of another organization's device: %d, want 404", code)
	}
	// A cross-site form carrying the right token is refused too.
	req, _ := http.NewRequest("POST", e.srv.URL+"/ui/devices/edge/sync", strings.NewReader(url.Values{"csrf": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if resp, err := c.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin sync: %v %v", resp.StatusCode, err)
	}
	if len(e.actions.synced) != 1 || e.actions.synced[0] != "edge" {
		t.Fatalf("synced %v, want [edge]", e.actions.synced)
	}
	if code, _, h := post(t, c, e.srv.URL+"/ui/logout", url.Values{"csrf": {token}}); code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/ui/login") {
		t.Fatalf("logout: %d %q", code, h.Get("Location"))
	}
	if code, _, _ := get(t, c, e.srv.URL+"/ui/devices"); code != http.StatusSeeOther {
		t.Fatalf("devices after logout: %d", code)
	}
	// The old cookie is dead server-side, not only forgotten by the browser.
	raw := &http.Client{CheckRedirect: c.CheckRedirect}
	req, _ = http.NewRequest("GET", e.srv.URL+"/ui/devices", nil)
	for _, ck := range c.Jar.Cookies(u) {
		req.AddCookie(ck)
	}
	if resp, err := raw.Do(req); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("devices with the old session: %v %v", resp.StatusCode, err)
	}
}

func TestViewerCannotChange(t *testing.T) {
	e := newEnv(t, Limits{})
	c := e.client(t)
	code, body := e.login(t, c, "victor", testPassword)
	if code != http.StatusOK || strings.Contains(body, "Sync now") || !strings.Contains(body, "edge") {
		t.Fatalf("viewer's devices page: %d, sync button shown or device missing", code)
	}
	if code, _, _ := post(t, c, e.srv.URL+"/ui/devices/edge/sync", url.Values{"csrf": {csrfOf(t, body)}}); code != http.StatusForbidden {
		t.Fatalf("viewer's sync: %d, want 403", code)
	}
	if len(e.actions.synced) != 0 {
		t.Fatalf("a viewer synced %v", e.actions.synced)
	}
}

func TestLoginFailuresAreLimited(t *testing.T) {
	e := newEnv(t, Limits{PerUser: 3, PerAddress: 100, Window: time.Hour})
	c := e.client(t)
	for i := 0; i < 3; i++ {
		if code, body := e.login(t, c, "alice", "wrong password!"); code != http.StatusUnauthorized || !strings.Contains(body, "Wrong user name or password") {
			t.Fatalf("bad password %d: %d", i, code)
		}
	}
	if code, body := e.login(t, c, "nobody", "wrong password!"); code != http.StatusUnauthorized || !strings.Contains(body, "Wrong user name or password") {
		t.Fatalf("unknown user: %d", code)
	}
	if code, body := e.login(t, c, "alice", testPassword); code != http.StatusTooManyRequests || !strings.Contains(body, "Too many failed logins") {
		t.Fatalf("right password after too many failures: %d", code)
	}
	// Another user from the same address is not locked out.
	if code, _ := e.login(t, c, "bob", testPassword); code != http.StatusOK {
		t.Fatalf("bob: %d", code)
	}
	// A login form without its CSRF cookie is refused.
	raw := &http.Client{CheckRedirect: c.CheckRedirect}
	if code, _, _ := post(t, raw, e.srv.URL+"/ui/login", url.Values{"csrf": {"x"}, "username": {"bob"}, "password": {testPassword}}); code != http.StatusForbidden {
		t.Fatalf("login without the form's cookie: %d, want 403", code)
	}
}

func TestPerAddressLimit(t *testing.T) {
	e := newEnv(t, Limits{PerUser: 100, PerAddress: 2, Window: time.Hour})
	c := e.client(t)
	e.login(t, c, "x1", "wrong password!")
	e.login(t, c, "x2", "wrong password!")
	if code, _ := e.login(t, c, "alice", testPassword); code != http.StatusTooManyRequests {
		t.Fatalf("after the address's failures: %d, want 429", code)
	}
}

func TestHeadersAndAssets(t *testing.T) {
	e := newEnv(t, Limits{})
	c := e.client(t)
	code, _, h := get(t, c, e.srv.URL+"/ui/login")
	if code != http.StatusOK || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") || h.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("login page headers: %d %v", code, h)
	}
	for _, ck := range (&http.Response{Header: h}).Cookies() {
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure {
			t.Errorf("cookie %s: HttpOnly %v SameSite %v Secure %v over plain HTTP", ck.Name, ck.HttpOnly, ck.SameSite, ck.Secure)
		}
	}
	for _, a := range []string{"/ui/assets/style.css", "/ui/assets/portal.js"} {
		if code, body, _ := get(t, c, e.srv.URL+a); code != http.StatusOK || len(body) < 100 {
			t.Errorf("%s: %d", a, code)
		}
	}
	if code, _, _ := get(t, c, e.srv.URL+"/ui/nope"); code != http.StatusNotFound {
		t.Errorf("/ui/nope: %d", code)
	}
}

func TestSecureCookieOverTLS(t *testing.T) {
	e := newEnv(t, Limits{})
	w := e.srv.Config.Handler
	tls := httptest.NewTLSServer(w)
	defer tls.Close()
	resp, err := tls.Client().Get(tls.URL + "/ui/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if !ck.Secure {
			t.Errorf("cookie %s is not Secure over TLS", ck.Name)
		}
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS over TLS")
	}
}
