package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpzfw/rpzfw/internal/api"
	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/policydoc"
	"github.com/rpzfw/rpzfw/internal/secret"
	"github.com/rpzfw/rpzfw/internal/store"
	"github.com/rpzfw/rpzfw/internal/store/sqlstore"
)

// feedEnv is a portal over a real API with real feed managers: org "a"
// has alice (admin), victor (viewer), policy "fp" (lists and a file
// feed, feed.rpz under root) and device "edge" using it.
type feedEnv struct {
	*env
	root string
}

// writeZone writes root/feed.rpz: records from line 5 on.
func writeZone(t *testing.T, root string, records ...string) string {
	t.Helper()
	path := filepath.Join(root, "feed.rpz")
	body := "$TTL 300\n$ORIGIN rpz.test.\n@ SOA localhost. hostmaster.invalid. 1 3600 600 86400 60\n@ NS localhost.\n" + strings.Join(records, "\n") + "\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func feedDoc(path, refresh string) string {
	return fmt.Sprintf(`{"name":"fp","max_shrink":"50%%","allow_list":["ok.evil.example"],"block_list":["listed.example"],`+
		`"sources":[{"name":"feed","kind":"file","path":%q,"format":"rpz","refresh":%q}]}`, path, refresh)
}

func newFeedEnv(t *testing.T) *feedEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "rpzfw.db"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &feedEnv{env: &env{st: st, actions: &fakeActions{}, orgs: map[string]store.Org{}}, root: t.TempDir()}
	hash, err := HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	org, err := st.CreateOrg(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	e.orgs["a"] = org
	for name, role := range map[string]string{"alice": store.RoleAdmin, "victor": store.RoleViewer} {
		if _, err := st.CreateUser(ctx, store.User{OrgID: org.ID, Name: name, Role: role, PasswordHash: hash}); err != nil {
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
	opts := policydoc.Options{FileRoots: []string{e.root}}
	path := writeZone(t, e.root, "evil.example CNAME .", "*.ads.example CNAME *.", "drop.example CNAME rpz-drop.")
	checked, err := policydoc.Check("", []byte(feedDoc(path, "1h")), policydoc.Secrets{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreatePolicy(ctx, store.Policy{OrgID: org.ID, Name: "fp", Doc: checked.Doc}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateDevice(ctx, store.Device{OrgID: org.ID, Nickname: "edge", Provider: "aws-dns-firewall", Policy: "fp", Region: "eu-west-1",
		RuleGroupID: "rslvr-frg-0123456789abcdef0", PriorityBand: "1000-9000", CredKind: store.CredAmbient, MaxPolicySize: 1000}); err != nil {
		t.Fatal(err)
	}
	pols := device.NewPolicies(device.PoliciesConfig{DataDir: t.TempDir(), Keyring: keys, Options: opts})
	apiSrv, err := api.New(api.Config{Store: st, Keyring: keys, Actions: e.actions, PolicyOptions: opts, Policies: pols})
	if err != nil {
		t.Fatal(err)
	}
	w, err := New(Config{Store: st, Actions: e.actions, API: apiSrv})
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(w)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *feedEnv) session(t *testing.T, name string) (*http.Client, string) {
	t.Helper()
	c := e.client(t)
	if code, _ := e.login(t, c, name, testPassword); code != http.StatusOK {
		t.Fatalf("login %s: %d", name, code)
	}
	_, body, _ := get(t, c, e.srv.URL+"/ui/policies/fp")
	return c, csrfOf(t, body)
}

func (e *feedEnv) blockList(t *testing.T) (string, int64) {
	t.Helper()
	p, err := e.st.GetPolicy(context.Background(), e.orgs["a"].ID, "fp")
	if err != nil {
		t.Fatal(err)
	}
	var d apiPolicy
	if err := d.UnmarshalJSON(p.Doc); err != nil {
		t.Fatal(err)
	}
	return strings.Join(d.Block.Domains, ","), p.Version
}

func TestPolicyPageShowsSourcesAndExplains(t *testing.T) {
	e := newFeedEnv(t)
	c, _ := e.session(t, "victor")
	code, body, _ := get(t, c, e.srv.URL+"/ui/policies")
	if code != 200 || !strings.Contains(body, `data-policy="fp"`) || !strings.Contains(body, "<title>Policies · rpzfw</title>") {
		t.Fatalf("policies page: %d %s", code, body)
	}
	code, body, _ = get(t, c, e.srv.URL+"/ui/policies/fp")
	for _, want := range []string{`data-source="allow-list"`, `data-source="block-list"`, `data-source="feed"`, "installable domains", `<label for="explain">`, `<label for="block_list">`, "drop", `data-device="edge"`} {
		if !strings.Contains(body, want) {
			t.Errorf("policy page (%d) lacks %q", code, want)
		}
	}
	if strings.Contains(body, `id="save-lists"`) || !strings.Contains(body, "readonly") {
		t.Error("a viewer is offered to save the lists")
	}
	tests := []struct{ name, want []string }{
		{[]string{"evil.example"}, []string{`class="decider">feed<`, `class="line">5<`, "NXDOMAIN", "Enforced by rule"}},
		{[]string{"x.ads.example"}, []string{`class="decider">feed<`, `class="line">6<`, "NODATA"}},
		{[]string{"listed.example"}, []string{`class="decider">block-list<`}},
		{[]string{"fine.example"}, []string{"no source matches", "resolves normally"}},
		{[]string{"not a name"}, []string{`id="explain-error"`, "not a query name"}},
	}
	for _, tc := range tests {
		code, body, _ := get(t, c, e.srv.URL+"/ui/policies/fp?explain="+url.QueryEscape(tc.name[0]))
		for _, w := range tc.want {
			if code != 200 || !strings.Contains(body, w) {
				t.Errorf("explain %s: %d, the page lacks %q", tc.name[0], code, w)
			}
		}
	}
	// With two devices, explain asks whose settings to use.
	if _, err := e.st.CreateDevice(context.Background(), store.Device{OrgID: e.orgs["a"].ID, Nickname: "watcher", Provider: "aws-dns-firewall", Policy: "fp",
		Region: "eu-west-1", RuleGroupID: "rslvr-frg-0123456789abcdef1", PriorityBand: "1000-9000", CredKind: store.CredAmbient, MaxPolicySize: 500, MonitorOnly: true}); err != nil {
		t.Fatal(err)
	}
	_, body, _ = get(t, c, e.srv.URL+"/ui/policies/fp?explain=evil.example&device=watcher")
	for _, w := range []string{`<label for="explain-device">`, `<option value="watcher" selected>`, "settings of device watcher", "monitor only: it alerts instead", "ALERT"} {
		if !strings.Contains(body, w) {
			t.Errorf("explain with the monitor-only device's settings: the page lacks %q", w)
		}
	}
	if code, _, _ := get(t, c, e.srv.URL+"/ui/policies/nope"); code != http.StatusNotFound {
		t.Errorf("an unknown policy: %d, want 404", code)
	}
}

func TestPolicyListEdits(t *testing.T) {
	e := newFeedEnv(t)
	c, csrf := e.session(t, "alice")
	post1 := func(form url.Values) (int, string) {
		code, body, _ := post(t, c, e.srv.URL+"/ui/policies/fp/lists", form)
		return code, body
	}
	tests := []struct {
		name       string
		form       url.Values
		wantCode   int
		wantInPage []string
	}{
		{"bad entry on line 3", url.Values{"csrf": {csrf}, "version": {"1"}, "allow_list": {"ok.evil.example"}, "block_list": {"good.example\n\nbad entry.example"}},
			http.StatusUnprocessableEntity, []string{`id="block_list-error"`, "Line 3:", "bad entry.example", `aria-invalid="true"`}},
		{"stale version", url.Values{"csrf": {csrf}, "version": {"7"}, "allow_list": {""}, "block_list": {"kept.example"}},
			http.StatusPreconditionFailed, []string{`id="lists-error"`, "someone changed it", "kept.example"}},
		{"no version", url.Values{"csrf": {csrf}, "block_list": {"x.example"}}, http.StatusBadRequest, []string{"version"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post1(tc.form)
			if code != tc.wantCode {
				t.Fatalf("status %d, want %d: %s", code, tc.wantCode, body)
			}
			for _, w := range tc.wantInPage {
				if !strings.Contains(body, w) {
					t.Errorf("the page lacks %q", w)
				}
			}
			if got, v := e.blockList(t); got != "listed.example" || v != 1 {
				t.Errorf("stored block list %q version %d changed by a refused edit", got, v)
			}
		})
	}
	code, _, h := post(t, c, e.srv.URL+"/ui/policies/fp/lists", url.Values{"csrf": {csrf}, "version": {"1"}, "allow_list": {"ok.evil.example"}, "block_list": {"listed.example\r\n*.new.example\n"}})
	if code != http.StatusSeeOther || !strings.Contains(h.Get("Location"), "saved=2") {
		t.Fatalf("a good edit: %d %q", code, h.Get("Location"))
	}
	if got, v := e.blockList(t); got != "listed.example,*.new.example" || v != 2 {
		t.Errorf("stored block list %q version %d, want the edit at version 2", got, v)
	}
	_, body, _ := get(t, c, e.srv.URL+h.Get("Location")+"&explain=a.new.example")
	if !strings.Contains(body, `id="notice"`) || !strings.Contains(body, `class="decider">block-list<`) {
		t.Error("after saving: no notice, or explain does not see the new entry")
	}
}

func TestPolicyFormsRefusedWithoutAdminOrCSRF(t *testing.T) {
	e := newFeedEnv(t)
	viewer, vcsrf := e.session(t, "victor")
	admin, acsrf := e.session(t, "alice")
	anon := e.client(t)
	form := func(csrf string) url.Values {
		return url.Values{"csrf": {csrf}, "version": {"1"}, "block_list": {"changed.example"}}
	}
	tests := []struct {
		name string
		c    *http.Client
		path string
		form url.Values
	}{
		{"viewer edits lists", viewer, "/ui/policies/fp/lists", form(vcsrf)},
		{"viewer accepts", viewer, "/ui/policies/fp/sources/feed/accept", url.Values{"csrf": {vcsrf}}},
		{"admin without CSRF", admin, "/ui/policies/fp/lists", form("")},
		{"admin with a forged CSRF", admin, "/ui/policies/fp/lists", form("forged")},
		{"admin with the viewer's CSRF", admin, "/ui/policies/fp/lists", form(vcsrf)},
		{"no session", anon, "/ui/policies/fp/lists", form(acsrf)},
		{"accept without CSRF", admin, "/ui/policies/fp/sources/feed/accept", url.Values{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, _ := post(t, tc.c, e.srv.URL+tc.path, tc.form)
			if code != http.StatusForbidden {
				t.Errorf("status %d, want 403", code)
			}
			if got, v := e.blockList(t); got != "listed.example" || v != 1 {
				t.Errorf("stored block list %q version %d: a refused form changed it", got, v)
			}
		})
	}
}

func TestAcceptHeldFromThePolicyPage(t *testing.T) {
	e := newFeedEnv(t)
	c, csrf := e.session(t, "alice")
	if code, _, _ := post(t, c, e.srv.URL+"/ui/policies/fp/sources/feed/accept", url.Values{"csrf": {csrf}}); code != http.StatusConflict {
		t.Errorf("accepting with nothing held: %d, want 409", code)
	}
	// The feed shrinks from 3 records to 1; a changed source is fetched
	// again, and the shrink is held.
	path := writeZone(t, e.root, "evil.example CNAME .")
	ctx := context.Background()
	p, err := e.st.GetPolicy(ctx, e.orgs["a"].ID, "fp")
	if err != nil {
		t.Fatal(err)
	}
	p.Doc = []byte(feedDoc(path, "2h"))
	if _, err := e.st.UpdatePolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	_, body, _ := get(t, c, e.srv.URL+"/ui/policies/fp")
	if !strings.Contains(body, "held: 1 records") || !strings.Contains(body, `aria-label="Accept the held update of feed"`) {
		t.Fatalf("the held shrink is not shown with its accept button")
	}
	code, _, h := post(t, c, e.srv.URL+"/ui/policies/fp/sources/feed/accept", url.Values{"csrf": {csrf}})
	if code != http.StatusSeeOther || !strings.Contains(h.Get("Location"), "accepted=feed") {
		t.Fatalf("accept: %d %q", code, h.Get("Location"))
	}
	_, body, _ = get(t, c, e.srv.URL+h.Get("Location"))
	if strings.Contains(body, "held:") || !strings.Contains(body, "Accepted the held update of feed") {
		t.Error("after accepting, the update is still held or no notice is shown")
	}
}
