package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/store"
)

// TestEveryRouteHappyPath walks every route of the route table with a
// request that succeeds, then checks through the API's own metrics that
// each route answered 2xx at least once.
func TestEveryRouteHappyPath(t *testing.T) {
	root := t.TempDir()
	e := newEnv(t, withFeeds(t, root))
	e.must(200, "GET", "/healthz", "", nil)
	e.must(200, "GET", "/readyz", "", nil)
	e.must(200, "GET", "/api/v1/openapi.json", e.viewer, nil)
	happyPolicies(t, e)
	happyPolicyFeeds(t, e, root)
	happyDevices(t, e)
	happyDeviceActions(t, e)
	happyPortalDevices(t, e)
	happyReports(t, e)

	var removed []bool
	e.actions.OnRemove = func(ctx context.Context, d store.Device, keep bool) error {
		removed = append(removed, keep)
		return e.store.DeleteDevice(ctx, d.ID)
	}
	e.must(204, "DELETE", "/api/v1/devices/edge-1?keep_rules=true", e.admin, nil)
	if len(removed) != 1 || !removed[0] {
		t.Fatalf("RemoveDevice calls (keep_rules): %v", removed)
	}
	e.must(204, "DELETE", "/api/v1/policies/mine", e.admin, nil)
	e.must(200, "GET", "/metrics", e.viewer, nil)

	// Policy POST, PUT and DELETE; device POST and PATCH (RemoveDevice
	// wakes the scheduler itself).
	if got := e.changed.Load(); got != 5 {
		t.Errorf("Changed called %d times, want 5: one per stored edit", got)
	}
	checkEveryRouteAnswered(t, e)
}

func happyPolicies(t *testing.T, e *env) {
	r := e.must(201, "POST", "/api/v1/policies", e.admin, blockPolicy("mine", "one.example"))
	if r.header.Get("ETag") != `"1"` || r.header.Get("Location") != "/api/v1/policies/mine" {
		t.Fatalf("create: ETag %q Location %q", r.header.Get("ETag"), r.header.Get("Location"))
	}
	var list struct{ Policies []map[string]any }
	e.must(200, "GET", "/api/v1/policies", e.viewer, nil).json(t, &list)
	if len(list.Policies) != 1 || list.Policies[0]["name"] != "mine" {
		t.Fatalf("policies: %v", list.Policies)
	}
	var p map[string]any
	e.must(200, "GET", "/api/v1/policies/mine", e.viewer, nil).json(t, &p)
	if p["version"] != 1.0 || p["predefined"] != false || p["updated_at"] == nil {
		t.Fatalf("policy: %v", p)
	}
	p["block_list"] = []string{"two.example"}
	e.must(200, "PUT", "/api/v1/policies/mine", e.admin, p, "If-Match", `"1"`).json(t, &p)
	if p["version"] != 2.0 || !strings.Contains(string(mustJSON(t, p["block_list"])), "two.example") {
		t.Fatalf("after PUT: %v", p)
	}
}

func happyDevices(t *testing.T, e *env) {
	var d deviceOut
	e.must(201, "POST", "/api/v1/devices", e.admin, accessKeyDevice("edge-1", "mine")).json(t, &d)
	if d.Status.State != store.StatePending || !d.Credentials.SecretSet || d.MaxPolicySize != device.DefaultMaxPolicySize {
		t.Fatalf("created device: %+v", d)
	}
	var devs struct{ Devices []deviceOut }
	e.must(200, "GET", "/api/v1/devices", e.viewer, nil).json(t, &devs)
	if len(devs.Devices) != 1 || devs.Devices[0].Nickname != "edge-1" {
		t.Fatalf("devices: %+v", devs)
	}
	e.getDevice(e.viewer, "edge-1")
	e.must(200, "PATCH", "/api/v1/devices/edge-1", e.admin, map[string]any{"note": "the edge"}).json(t, &d)
	if d.Note != "the edge" {
		t.Fatalf("patched: %+v", d)
	}
}

// happyDeviceActions: sync now, preflight, plan and history of edge-1.
func happyDeviceActions(t *testing.T, e *env) {
	ctx := context.Background()
	var d deviceOut
	stored := e.storedDevice(e.orgA, "edge-1")
	e.actions.OnSyncNow = func(ctx context.Context, d store.Device) error { return e.store.RequestSync(ctx, d.ID) }
	e.must(202, "POST", "/api/v1/devices/edge-1/sync", e.admin, nil).json(t, &d)
	if !d.Status.SyncRequested {
		t.Fatalf("after sync now: %+v", d.Status)
	}
	e.actions.OnPreflight = func(_ context.Context, d store.Device) (*device.PreflightReport, error) {
		return &device.PreflightReport{OK: true, Account: "111122223333", Checks: []device.Check{{Permission: "route53resolver:ListFirewallRules", OK: true, For: "sync"}}, Missing: []string{}, IAMPolicy: json.RawMessage(`{}`)}, nil
	}
	var rep device.PreflightReport
	e.must(200, "POST", "/api/v1/devices/edge-1/preflight", e.admin, nil).json(t, &rep)
	if !rep.OK || rep.Account != "111122223333" {
		t.Fatalf("preflight: %+v", rep)
	}

	e.wantError(404, CodeNotCompiled, "", "GET", "/api/v1/devices/edge-1/plan", e.viewer, nil)
	if err := e.store.PutStatus(ctx, store.Status{DeviceID: stored.ID, State: store.StateInSync, Plan: []byte(`{"rules":[],"removed":{"ip-trigger":2},"truncated":0}`), PlanHash: "abc", LastSyncAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var plan map[string]any
	e.must(200, "GET", "/api/v1/devices/edge-1/plan", e.viewer, nil).json(t, &plan)
	if plan["removed"] == nil {
		t.Fatalf("plan: %v", plan)
	}
	for i := range 3 {
		if _, err := e.store.AddRun(ctx, store.SyncRun{DeviceID: stored.ID, Trigger: "manual", StartedAt: time.Now().Add(time.Duration(i) * time.Second),
			Took: 1500 * time.Millisecond, Result: store.ResultOK, Calls: map[string]int{"UpdateFirewallDomains": 2}, Added: 5,
			UpdatesLowerBound: 1, CallsFloor: 6, Instance: "one"}); err != nil {
			t.Fatal(err)
		}
	}
	var syncs struct {
		Syncs []struct {
			Trigger, Result, Instance string
			TookMS                    int64 `json:"took_ms"`
			Calls                     map[string]int
			LowerBound                int `json:"update_calls_lower_bound"`
			Floor                     int `json:"calls_floor"`
		}
	}
	e.must(200, "GET", "/api/v1/devices/edge-1/syncs?limit=2", e.viewer, nil).json(t, &syncs)
	if len(syncs.Syncs) != 2 || syncs.Syncs[0].TookMS != 1500 || syncs.Syncs[0].Calls["UpdateFirewallDomains"] != 2 || syncs.Syncs[0].Instance != "one" ||
		syncs.Syncs[0].LowerBound != 1 || syncs.Syncs[0].Floor != 6 {
		t.Fatalf("syncs: %+v", syncs)
	}
}

// checkEveryRouteAnswered fails for a route of the table that never
// answered 2xx in e.
func checkEveryRouteAnswered(t *testing.T, e *env) {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	ok := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != "rpzfw_api_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["code"] == "2xx" {
				ok[labels["route"]] = true
			}
		}
	}
	var missing []string
	for _, rt := range e.srv.routes() {
		if !ok[rt.pattern] {
			missing = append(missing, rt.pattern)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("routes never answered 2xx in the happy path: %s", strings.Join(missing, "; "))
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUnknownRouteAndMethod(t *testing.T) {
	e := newEnv(t)
	e.wantError(404, CodeNotFound, "", "GET", "/api/v1/nothing", e.admin, nil)
	r := e.do("PATCH", "/api/v1/policies", e.admin, "{}")
	if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD, POST" {
		t.Fatalf("PATCH /api/v1/policies: %d Allow %q %s", r.status, r.header.Get("Allow"), r.body)
	}
	if got := r.apiError(t); got.Code != CodeMethodNotAllowed {
		t.Fatalf("405 body: %+v", got)
	}
	e.must(200, "HEAD", "/api/v1/devices", e.viewer, nil)
}

// TestInternalErrorsAreLoggedNotShown: the client gets the request ID,
// the log gets the details.
func TestInternalErrorsAreLoggedNotShown(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/policies", e.admin, blockPolicy("p"))
	e.must(201, "POST", "/api/v1/devices", e.admin, accessKeyDevice("d", "p"))
	e.actions.OnSyncNow = func(context.Context, store.Device) error {
		return errors.New("connection to db-internal.corp:5432 refused")
	}
	r := e.do("POST", "/api/v1/devices/d/sync", e.admin, nil)
	got := r.apiError(t)
	if r.status != 500 || got.Code != CodeInternal || strings.Contains(string(r.body), "db-internal") {
		t.Fatalf("internal error answer: %d %s", r.status, r.body)
	}
	id := r.header.Get("X-Request-ID")
	if id == "" || !strings.Contains(got.Message, id) {
		t.Fatalf("the answer does not give the request ID %q: %s", id, got.Message)
	}
	logs := e.log.String()
	if !strings.Contains(logs, "db-internal.corp") || !strings.Contains(logs, "request_id="+id) {
		t.Fatalf("the log lacks the error or its request ID:\n%s", logs)
	}
}

func TestPanicIsAnInternalError(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/policies", e.admin, blockPolicy("p"))
	e.must(201, "POST", "/api/v1/devices", e.admin, accessKeyDevice("d", "p"))
	e.actions.OnPreflight = func(context.Context, store.Device) (*device.PreflightReport, error) { panic("boom") }
	e.wantError(500, CodeInternal, "", "POST", "/api/v1/devices/d/preflight", e.admin, nil)
	e.must(200, "GET", "/api/v1/devices/d", e.admin, nil) // still serving
}

func TestReadyz(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Ready = func(context.Context) error { return errors.New("the scheduler stopped") }
	})
	got := e.wantError(503, CodeNotReady, "", "GET", "/readyz", "", nil)
	if !strings.Contains(got.Message, "the scheduler stopped") {
		t.Fatalf("readyz: %+v", got)
	}
	e.must(200, "GET", "/healthz", "", nil)
}
