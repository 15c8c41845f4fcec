package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/store"
)

func TestNewToken(t *testing.T) {
	a, ha, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := NewToken()
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(a, TokenPrefix))
	if !strings.HasPrefix(a, TokenPrefix) || err != nil || len(raw) != 32 || a == b {
		t.Fatalf("token %q: %v", a, err)
	}
	if !bytes.Equal(ha, HashToken(a)) || len(ha) != 32 || bytes.Equal(ha, HashToken(b)) {
		t.Fatal("HashToken does not give the hash NewToken gave")
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	for _, hdr := range [][]string{nil, {"Authorization", "Bearer"}, {"Authorization", "Basic dXNlcjpwYXNz"}, {"Authorization", "Bearer rpzfw_nope"}} {
		e.wantError(401, CodeUnauthorized, "", "GET", "/api/v1/devices", "", nil, hdr...)
	}
	if r := e.do("GET", "/api/v1/openapi.json", "", nil); r.status != 401 || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("no token: %d WWW-Authenticate %q", r.status, r.header.Get("WWW-Authenticate"))
	}
	e.wantError(401, CodeUnauthorized, "", "GET", "/metrics", "", nil)
	e.wantError(401, CodeUnauthorized, "", "POST", "/api/v1/policies", "", blockPolicy("p"))
	e.must(200, "GET", "/healthz", "", nil)
	e.must(200, "GET", "/readyz", "", nil)
	r := e.must(200, "GET", "/metrics", e.viewer, nil)
	if !strings.Contains(string(r.body), "rpzfw_api_requests_total") {
		t.Fatalf("/metrics lacks the API's metrics:\n%s", r.body)
	}

	pub := newEnv(t, func(c *Config) { c.PublicMetrics = true })
	pub.must(200, "GET", "/metrics", "", nil)
}

func TestViewerCannotWrite(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/policies", e.admin, blockPolicy("p"))
	e.must(201, "POST", "/api/v1/devices", e.admin, accessKeyDevice("edge", "p"))
	writes := []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/v1/policies", blockPolicy("q")},
		{"PUT", "/api/v1/policies/p", blockPolicy("p", "x.example")},
		{"DELETE", "/api/v1/policies/p", nil},
		{"POST", "/api/v1/devices", accessKeyDevice("other", "p")},
		{"PATCH", "/api/v1/devices/edge", map[string]any{"note": "x"}},
		{"DELETE", "/api/v1/devices/edge", nil},
		{"POST", "/api/v1/devices/edge/sync", nil},
		{"POST", "/api/v1/devices/edge/preflight", nil},
	}
	for _, w := range writes {
		e.wantError(403, CodeForbidden, "", w.method, w.path, e.viewer, w.body)
	}
	e.must(200, "GET", "/api/v1/policies/p", e.viewer, nil)
	if d := e.getDevice(e.viewer, "edge"); d.Note != "" {
		t.Fatalf("a viewer changed the device: %+v", d)
	}
	if n := e.changed.Load(); n != 2 {
		t.Fatalf("Changed called %d times, want 2", n)
	}
}

// TestOrgIsolation: org A's tokens cannot see, change or delete org B's
// objects: they are not found.
func TestOrgIsolation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.must(201, "POST", "/api/v1/policies", e.adminB, blockPolicy("theirs"))
	e.must(201, "POST", "/api/v1/devices", e.adminB, accessKeyDevice("their-edge", "theirs"))
	e.actions.OnSyncNow = func(context.Context, store.Device) error {
		t.Error("SyncNow reached for another org's device")
		return nil
	}
	e.actions.OnPreflight = func(context.Context, store.Device) (*device.PreflightReport, error) {
		t.Error("Preflight reached for another org's device")
		return nil, nil
	}
	e.actions.OnRemove = func(context.Context, store.Device, bool) error {
		t.Error("RemoveDevice reached for another org's device")
		return nil
	}

	for _, tok := range []string{e.admin, e.viewer} {
		for _, r := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/api/v1/policies/theirs", nil},
			{"PUT", "/api/v1/policies/theirs", blockPolicy("theirs", "x.example")},
			{"DELETE", "/api/v1/policies/theirs", nil},
			{"GET", "/api/v1/devices/their-edge", nil},
			{"PATCH", "/api/v1/devices/their-edge", map[string]any{"note": "mine now"}},
			{"DELETE", "/api/v1/devices/their-edge", nil},
			{"POST", "/api/v1/devices/their-edge/sync", nil},
			{"POST", "/api/v1/devices/their-edge/preflight", nil},
			{"GET", "/api/v1/devices/their-edge/syncs", nil},
			{"GET", "/api/v1/devices/their-edge/plan", nil},
		} {
			if tok == e.viewer && r.method != "GET" {
				continue // 403 before anything is looked up
			}
			e.wantError(404, CodeNotFound, "", r.method, r.path, tok, r.body)
		}
	}
	var pl struct{ Policies []any }
	e.must(200, "GET", "/api/v1/policies", e.admin, nil).json(t, &pl)
	var dl struct{ Devices []any }
	e.must(200, "GET", "/api/v1/devices", e.admin, nil).json(t, &dl)
	if len(pl.Policies) != 0 || len(dl.Devices) != 0 {
		t.Fatalf("org A lists org B's objects: %v %v", pl, dl)
	}
	// A device of A cannot use B's policy; A may have a policy of the same
	// name.
	e.wantError(422, CodeInvalid, "policy", "POST", "/api/v1/devices", e.admin, accessKeyDevice("edge", "theirs"))
	e.must(201, "POST", "/api/v1/policies", e.admin, blockPolicy("theirs", "mine.example"))
	p, err := e.store.GetPolicy(ctx, e.orgB.ID, "theirs")
	if err != nil || p.Version != 1 || strings.Contains(string(p.Doc), "mine.example") {
		t.Fatalf("org B's policy changed: %+v %v", p, err)
	}
	if d := e.storedDevice(e.orgB, "their-edge"); d.Note != "" {
		t.Fatalf("org B's device changed: %+v", d)
	}
}

func TestRateLimits(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Limits = Limits{PerToken: 1, TokenBurst: 2, FailedAuth: 0.5, FailedAuthBurst: 2} })
	e.must(200, "GET", "/api/v1/policies", e.admin, nil)
	e.must(200, "GET", "/api/v1/policies", e.admin, nil)
	r := e.do("GET", "/api/v1/policies", e.admin, nil)
	if r.status != http.StatusTooManyRequests || r.apiError(t).Code != CodeRateLimited || r.header.Get("Retry-After") != "1" {
		t.Fatalf("third request in a burst of 2: %d Retry-After %q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	e.must(200, "GET", "/api/v1/policies", e.viewer, nil) // another token has its own bucket
	e.clock.Add(time.Second)
	e.must(200, "GET", "/api/v1/policies", e.admin, nil)

	// Failed authentications: after the burst, the address is refused
	// whatever it sends, until the bucket refills.
	e.wantError(401, CodeUnauthorized, "", "GET", "/api/v1/policies", "rpzfw_wrong", nil)
	e.wantError(401, CodeUnauthorized, "", "GET", "/api/v1/policies", "", nil)
	r = e.do("GET", "/api/v1/policies", "rpzfw_wrong", nil)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "2" {
		t.Fatalf("after failed authentications: %d Retry-After %q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	e.wantError(429, CodeRateLimited, "", "GET", "/api/v1/policies", e.viewer, nil)
	e.must(200, "GET", "/healthz", "", nil)
	e.clock.Add(2 * time.Second)
	e.must(200, "GET", "/api/v1/policies", e.viewer, nil)
}

func TestLimiterMemoryIsBounded(t *testing.T) {
	clock := &fakeClock{t: time.Unix(0, 0)}
	l := newLimiter(1, 1, clock.Now)
	for i := range maxBuckets * 3 {
		l.take(strings.Repeat("k", i%7) + string(rune(i)))
	}
	if n := len(l.buckets); n > maxBuckets {
		t.Fatalf("%d buckets, at most %d", n, maxBuckets)
	}
}

// TestSecretsNeverShown: no response body and no log line holds a
// device's secret access key or a policy's secrets, whatever route was
// called; the store holds them sealed.
func TestSecretsNeverShown(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/policies", e.admin, tsigPolicy("xfr"))
	e.must(201, "POST", "/api/v1/devices", e.admin, accessKeyDevice("edge", "xfr"))
	e.actions.OnSyncNow = func(context.Context, store.Device) error { return nil }
	e.actions.OnPreflight = func(context.Context, store.Device) (*device.PreflightReport, error) {
		return &device.PreflightReport{Checks: []device.Check{}, Missing: []string{}}, nil
	}
	e.must(200, "PATCH", "/api/v1/devices/edge", e.admin, map[string]any{"note": "x", "credentials": map[string]any{"secret_access_key": testSecretKey}})
	e.wantError(422, CodeInvalid, "rule_group_id", "PATCH", "/api/v1/devices/edge", e.admin, map[string]any{"rule_group_id": "x", "credentials": map[string]any{"secret_access_key": testSecretKey}})
	e.wantError(422, CodeInvalid, "credentials.access_key_id", "POST", "/api/v1/devices", e.admin,
		map[string]any{"nickname": "e2", "policy": "xfr", "region": "us-east-1", "rule_group_id": "rslvr-frg-1",
			"credentials": map[string]any{"type": "access_key", "access_key_id": "bad", "secret_access_key": testSecretKey}})
	e.wantError(400, CodeUnknownField, "credentials.secret", "POST", "/api/v1/devices", e.admin,
		map[string]any{"credentials": map[string]any{"secret": testSecretKey, "secret_access_key": testSecretKey}})
	e.must(200, "GET", "/api/v1/devices/edge", e.admin, nil)
	e.must(200, "GET", "/api/v1/devices", e.admin, nil)
	e.must(202, "POST", "/api/v1/devices/edge/sync", e.admin, nil)
	e.must(200, "POST", "/api/v1/devices/edge/preflight", e.admin, nil)
	e.must(200, "GET", "/api/v1/policies", e.admin, nil)
	e.must(200, "GET", "/api/v1/policies/xfr", e.admin, nil)
	e.must(200, "PUT", "/api/v1/policies/xfr", e.admin, tsigPolicy("xfr"))

	d := e.storedDevice(e.orgA, "edge")
	if plain, err := e.keys.Open(d.SecretKey, store.PurposeDeviceSecret); err != nil || string(plain) != testSecretKey {
		t.Fatalf("the stored secret does not open to the one given: %v", err)
	}
	logs := e.log.String()
	if logs == "" {
		t.Fatal("no log output captured")
	}
	for _, s := range []string{testSecretKey, testTSIG, testHeader} {
		if strings.Contains(logs, s) {
			t.Errorf("the log shows a secret %q", s)
		}
		for _, b := range e.bodies {
			if strings.Contains(b, s) {
				t.Errorf("a response shows a secret %q: %s", s, b)
			}
		}
	}
}
