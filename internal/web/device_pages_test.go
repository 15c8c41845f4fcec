package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/api"
	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/store"
)

// goodDevice is a form that the API accepts.
func goodDevice(csrf, nick string) url.Values {
	return url.Values{"csrf": {csrf}, "nickname": {nick}, "policy": {"p"}, "region": {"eu-west-1"},
		"rule_group_id": {"rslvr-frg-00aa11bb22cc33dd4"}, "credentials.type": {"access_key"},
		"credentials.access_key_id": {"AKIAEXAMPLEEXAMPLE12"}, "credentials.secret_access_key": {"secretsecretsecretsecret"},
		"max_policy_size": {"100000"}, "note": {"rack 4"}}
}

// adminSession logs alice in and returns her client and CSRF token.
func adminSession(t *testing.T, e *env, name string) (*http.Client, string) {
	t.Helper()
	c := e.client(t)
	code, body := e.login(t, c, name, testPassword)
	if code != http.StatusOK {
		t.Fatalf("login %s: %d", name, code)
	}
	return c, csrfOf(t, body)
}

func TestAddDeviceFormShowsTheAPIsMessageByItsField(t *testing.T) {
	e := newEnv(t, Limits{})
	c, token := adminSession(t, e, "alice")
	code, body, _ := get(t, c, e.srv.URL+"/ui/add-device")
	if code != http.StatusOK {
		t.Fatalf("add device page: %d", code)
	}
	for _, id := range []string{"nickname", "policy", "note", "region", "rule_group_id", "credentials.type", "credentials.access_key_id",
		"credentials.secret_access_key", "credentials.role_arn", "credentials.external_id", "max_policy_size", "monitor_only",
		"log_upload.enabled", "log_upload.sqs_queue_url", "endpoint_url", "priority_band", "paused"} {
		if !strings.Contains(body, `<label for="`+id+`">`) || !strings.Contains(body, `id="`+id+`"`) {
			t.Errorf("the form has no labelled field %s", id)
		}
	}
	tests := []struct {
		name, field, value, wantField, wantText string
		status                                  int
	}{
		{"bad nickname", "nickname", "bad nick!", "nickname", "letters, digits", 422},
		{"taken nickname", "nickname", "edge", "nickname", "already exists", 409},
		{"no policy", "policy", "", "policy", "required", 422},
		{"unknown policy", "policy", "nope", "policy", "no policy of that name", 422},
		{"bad region", "region", "mars-1", "region", "AWS region", 422},
		{"bad rule group", "rule_group_id", "rg-1", "rule_group_id", "rule group ID", 422},
		{"size not a number", "max_policy_size", "lots", "max_policy_size", "whole number", 422},
		{"size too big", "max_policy_size", "999999999", "max_policy_size", "want 1 to", 422},
		{"no secret", "credentials.secret_access_key", "", "credentials.secret_access_key", "required", 422},
		{"bad queue", "log_upload.sqs_queue_url", "not a url", "log_upload.sqs_queue_url", "SQS queue URL", 422},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			form := goodDevice(token, "new1")
			form.Set(tc.field, tc.value)
			code, body, _ := post(t, c, e.srv.URL+"/ui/add-device", form)
			if code != tc.status {
				t.Fatalf("status %d, want %d", code, tc.status)
			}
			i := strings.Index(body, `id="err-`+tc.wantField+`"`)
			if i < 0 {
				t.Fatalf("no message by field %s in the page", tc.wantField)
			}
			if msg := body[i:min(len(body), i+300)]; !strings.Contains(msg, tc.wantText) {
				t.Errorf("message by %s is %q, want it to say %q", tc.wantField, msg, tc.wantText)
			}
			if !strings.Contains(body, `value="rack 4"`) && !strings.Contains(body, ">rack 4</textarea>") {
				t.Error("the note typed is not kept")
			}
			if strings.Contains(body, "secretsecretsecretsecret") {
				t.Error("the secret is sent back to the browser")
			}
		})
	}
	if _, err := e.st.GetDevice(context.Background(), e.orgs["a"].ID, "new1"); err == nil {
		t.Fatal("a refused form stored a device")
	}
	code, _, h := post(t, c, e.srv.URL+"/ui/add-device", goodDevice(token, "new1"))
	if code != http.StatusSeeOther || h.Get("Location") != "/ui/devices/new1?notice=created" {
		t.Fatalf("good form: %d %q", code, h.Get("Location"))
	}
	d, err := e.st.GetDevice(context.Background(), e.orgs["a"].ID, "new1")
	if err != nil || d.Note != "rack 4" || len(d.SecretKey) == 0 || d.AccessKeyID != "AKIAEXAMPLEEXAMPLE12" {
		t.Fatalf("stored device %+v %v", d, err)
	}
}

func TestEditKeepsOrReplacesTheSecret(t *testing.T) {
	e := newEnv(t, Limits{})
	c, token := adminSession(t, e, "alice")
	if code, _, _ := post(t, c, e.srv.URL+"/ui/add-device", goodDevice(token, "web")); code != http.StatusSeeOther {
		t.Fatalf("add: %d", code)
	}
	ctx, org := context.Background(), e.orgs["a"].ID
	before, _ := e.st.GetDevice(ctx, org, "web")
	code, body, _ := get(t, c, e.srv.URL+"/ui/devices/web/edit")
	if code != http.StatusOK || !strings.Contains(body, `id="secret-set"`) || strings.Contains(body, "secretsecret") {
		t.Fatalf("edit page: %d, 'set' shown %v", code, strings.Contains(body, `id="secret-set"`))
	}
	form := goodDevice(token, "web")
	form.Set("credentials.secret_access_key", "")
	form.Set("note", "moved")
	form.Set("monitor_only", "on")
	if code, body, h := post(t, c, e.srv.URL+"/ui/devices/web/edit", form); code != http.StatusSeeOther {
		t.Fatalf("edit keeping the secret: %d %q %s", code, h.Get("Location"), body)
	}
	kept, _ := e.st.GetDevice(ctx, org, "web")
	if kept.Note != "moved" || !kept.MonitorOnly || string(kept.SecretKey) != string(before.SecretKey) {
		t.Fatalf("after edit: note %q monitor %v, secret kept %v", kept.Note, kept.MonitorOnly, string(kept.SecretKey) == string(before.SecretKey))
	}
	form.Set("credentials.secret_access_key", "anothersecretanothersecret")
	if code, _, _ := post(t, c, e.srv.URL+"/ui/devices/web/edit", form); code != http.StatusSeeOther {
		t.Fatalf("edit replacing the secret: %d", code)
	}
	if replaced, _ := e.st.GetDevice(ctx, org, "web"); string(replaced.SecretKey) == string(before.SecretKey) {
		t.Fatal("a new secret did not replace the old one")
	}
	// A new access key ID without its secret is refused by that field.
	form.Set("credentials.secret_access_key", "")
	form.Set("credentials.access_key_id", "AKIAOTHEROTHEROTHER1")
	code, body, _ = post(t, c, e.srv.URL+"/ui/devices/web/edit", form)
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="err-credentials.secret_access_key"`) {
		t.Fatalf("new key without secret: %d", code)
	}
}

func TestDeviceFormsRefuseWithoutCSRFOrAsViewer(t *testing.T) {
	e := newEnv(t, Limits{})
	admin, token := adminSession(t, e, "alice")
	viewer, vtoken := adminSession(t, e, "victor")
	forms := map[string]url.Values{
		"/ui/add-device":              goodDevice("", "x1"),
		"/ui/devices/edge/edit":       goodDevice("", "edge"),
		"/ui/devices/edge/delete":     {"confirm": {"edge"}, "keep_rules": {"true"}},
		"/ui/devices/edge/preflight":  {},
		"/ui/devices/edge/sync-now":   {},
		"/ui/devices/edge/logs/setup": {"bucket": {"logs-bucket"}},
		"/ui/devices/edge/logs/retry": {"id": {"all"}},
	}
	for path, form := range forms {
		for _, tc := range []struct {
			who    string
			c      *http.Client
			token  string
			status int
		}{{"admin, forged token", admin, "forged", 403}, {"admin, no token", admin, "", 403}, {"viewer", viewer, vtoken, 403}} {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			if tc.token != "" {
				f.Set("csrf", tc.token)
			} else {
				f.Del("csrf")
			}
			if code, _, _ := post(t, tc.c, e.srv.URL+path, f); code != tc.status {
				t.Errorf("POST %s as %s: %d, want %d", path, tc.who, code, tc.status)
			}
		}
	}
	if _, err := e.st.GetDevice(context.Background(), e.orgs["a"].ID, "x1"); err == nil {
		t.Error("a refused form created a device")
	}
	if len(e.actions.synced) != 0 {
		t.Errorf("a refused form synced %v", e.actions.synced)
	}
	// The viewer sees the pages, read-only, and no button that changes anything.
	if code, _, _ := get(t, viewer, e.srv.URL+"/ui/add-device"); code != http.StatusForbidden {
		t.Errorf("viewer's add device page: %d, want 403", code)
	}
	for _, p := range []string{"", "/edit", "/plan", "/setup", "/logs"} {
		code, body, _ := get(t, viewer, e.srv.URL+"/ui/devices/edge"+p)
		if code != http.StatusOK {
			t.Errorf("viewer's %s: %d", p, code)
		}
		for _, change := range []string{`id="save"`, `id="remove"`, `id="sync-now"`, `id="test-connection"`, `id="logs-setup-button"`, `id="add-device"`} {
			if strings.Contains(body, change) {
				t.Errorf("viewer's page %q shows %s", p, change)
			}
		}
		if p == "/edit" && !strings.Contains(body, "<fieldset disabled>") {
			t.Error("the viewer's settings page is not read-only")
		}
	}
	// The admin's token works for the same form.
	if code, _, _ := post(t, admin, e.srv.URL+"/ui/devices/edge/sync-now", url.Values{"csrf": {token}}); code != http.StatusSeeOther {
		t.Errorf("admin's sync now: %d", code)
	}
	if code, _, _ := get(t, admin, e.srv.URL+"/ui/devices/other"); code != http.StatusNotFound {
		t.Errorf("another organization's device: %d, want 404", code)
	}
}

// edgeOf logs alice in and returns the env's device "edge" of org a.
func edgeOf(t *testing.T) (*env, *http.Client, string, store.Device) {
	t.Helper()
	e := newEnv(t, Limits{})
	c, token := adminSession(t, e, "alice")
	d, err := e.st.GetDevice(context.Background(), e.orgs["a"].ID, "edge")
	if err != nil {
		t.Fatal(err)
	}
	return e, c, token, d
}

func TestDeviceOverviewShowsStateAndHistory(t *testing.T) {
	e, c, _, d := edgeOf(t)
	code, body, _ := get(t, c, e.srv.URL+"/ui/devices/edge")
	if code != http.StatusOK || !strings.Contains(body, "<title>Device edge · rpzfw</title>") || !strings.Contains(body, "AccessDenied: route53resolver:ListFirewallRules") {
		t.Fatalf("overview: %d, title or last error missing", code)
	}
	if !strings.Contains(body, "No sync has run yet") {
		t.Error("an empty history is not said")
	}
	if _, err := e.st.AddRun(context.Background(), store.SyncRun{DeviceID: d.ID, Trigger: "manual", StartedAt: time.Now(), Took: 2500 * time.Millisecond, Result: "ok",
		Calls: map[string]int{"UpdateFirewallDomains": 3, "ListFirewallRules": 1}, Added: 40, Removed: 2, UpdatesLowerBound: 1, CallsFloor: 3}); err != nil {
		t.Fatal(err)
	}
	// A run that made no plan (or was recorded before bounds were kept) has
	// no floor to show.
	if _, err := e.st.AddRun(context.Background(), store.SyncRun{DeviceID: d.ID, Trigger: "retry", StartedAt: time.Now().Add(-time.Minute), Took: time.Second, Result: "ok",
		Calls: map[string]int{"ListFirewallRules": 7}}); err != nil {
		t.Fatal(err)
	}
	_, body, _ = get(t, c, e.srv.URL+"/ui/devices/edge")
	for _, want := range []string{"manual", "+40 −2 domains", "<summary>4 <span", "(floor 3)</span></summary>", "UpdateFirewallDomains</code> 3", "2.5s", "result-ok",
		"<summary>7</summary>"} {
		if !strings.Contains(body, want) {
			t.Errorf("sync history lacks %q", want)
		}
	}
	if strings.Contains(body, "(floor 0)") {
		t.Error("a run without a plan shows a floor of 0")
	}
}

func TestDevicePlanPage(t *testing.T) {
	e, c, _, d := edgeOf(t)
	// No plan yet: the page says why rather than failing.
	code, body, _ := get(t, c, e.srv.URL+"/ui/devices/edge/plan")
	if code != http.StatusOK || !strings.Contains(body, `id="no-plan"`) || !strings.Contains(body, "no compiled plan yet") {
		t.Fatalf("plan before compile: %d", code)
	}
	nx := "NXDOMAIN"
	sum := device.Summary{DomainCount: 120, MaxDomains: 100, Sources: []string{"feed-a", "feed-b"},
		Rules:             []device.RuleSummary{{Name: "rpzfw-1-allow", Priority: 1000, Action: "ALLOW", DomainCount: 20}, {Name: "rpzfw-2-nxdomain", Priority: 1100, Action: "BLOCK", BlockResponse: &nx, DomainCount: 100}},
		Removed:           map[string]int{"ip trigger": 7},
		RemovedBySource:   map[string]map[string]int{"feed-b": {"ip trigger": 7}},
		Truncated:         30,
		TruncatedBySource: map[string]int{"feed-b": 30}}
	raw, _ := json.Marshal(sum)
	st, _ := e.st.GetStatus(context.Background(), d.ID)
	st.Plan = raw
	if err := e.st.PutStatus(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	_, body, _ = get(t, c, e.srv.URL+"/ui/devices/edge/plan")
	for _, want := range []string{"rpzfw-2-nxdomain", "action-BLOCK", "NXDOMAIN", ">100</td>", "ip trigger", "From source <code>feed-b</code>", `id="truncated-by-source"`, ">30</td>", "<strong>120</strong>"} {
		if !strings.Contains(body, want) {
			t.Errorf("plan page lacks %q", want)
		}
	}
}

func TestDeviceSetupPage(t *testing.T) {
	e, c, _, d := edgeOf(t)
	// The values of this device, and why there is no IAM policy or test
	// name yet (the account is unknown; no firewall to read).
	_, body, _ := get(t, c, e.srv.URL+"/ui/devices/edge/setup")
	for _, want := range []string{"rslvr-frg-0123456789abcdef0", "eu-west-1", `id="iam-missing"`, "not known yet", `id="no-canary"`, `id="logs-setup-button"`} {
		if !strings.Contains(body, want) {
			t.Errorf("setup page lacks %q", want)
		}
	}
	if err := e.st.SetAccount(context.Background(), d.ID, "111122223333"); err != nil {
		t.Fatal(err)
	}
	_, body, _ = get(t, c, e.srv.URL+"/ui/devices/edge/setup")
	if !strings.Contains(body, `id="iam-policy"`) || !strings.Contains(body, "arn:aws:route53resolver:eu-west-1:111122223333:firewall-rule-group/rslvr-frg-0123456789abcdef0") {
		t.Error("the setup page does not show the device's IAM policy once its account is known")
	}
}

func TestDeviceLogsPageAndRetry(t *testing.T) {
	e, c, token, d := edgeOf(t)
	ctx := context.Background()
	_, body, _ := get(t, c, e.srv.URL+"/ui/devices/edge/logs")
	if !strings.Contains(body, `id="logs-off"`) {
		t.Error("the logs page does not say log upload is off")
	}
	queue := "https://sqs.eu-west-1.amazonaws.com/111122223333/rpzfw-logs"
	d.LogEnabled, d.LogQueueURL = true, queue
	if _, err := e.st.UpdateDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Quarantine(ctx, store.QuarantinedMessage{Queue: queue, OrgID: d.OrgID, MessageID: "m-1", Body: "{}", Receives: 5, Reason: "AccessDenied: s3:GetObject", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	_, body, _ = get(t, c, e.srv.URL+"/ui/devices/edge/logs")
	for _, want := range []string{"m-1", "AccessDenied: s3:GetObject", `id="retry-all"`, `id="lag"`, "no line read yet"} {
		if !strings.Contains(body, want) {
			t.Errorf("logs page lacks %q", want)
		}
	}
	code, _, h := post(t, c, e.srv.URL+"/ui/devices/edge/logs/retry", url.Values{"csrf": {token}, "id": {"all"}})
	if code != http.StatusSeeOther || !strings.Contains(h.Get("Location"), "retrying=1") {
		t.Fatalf("retry all: %d %q", code, h.Get("Location"))
	}
	_, body, _ = get(t, c, e.srv.URL+h.Get("Location"))
	if !strings.Contains(body, "retry requested") {
		t.Error("the message retried is not marked")
	}
}

func TestUninstallNeedsConfirmation(t *testing.T) {
	e := newEnv(t, Limits{})
	c, token := adminSession(t, e, "alice")
	for _, tc := range []struct {
		name       string
		form       url.Values
		status     int
		wantInPage string
	}{
		{"no confirmation", url.Values{"keep_rules": {"false"}}, 422, "type its nickname"},
		{"wrong nickname", url.Values{"keep_rules": {"false"}, "confirm": {"edg"}}, 422, "type its nickname"},
		{"no keep choice", url.Values{"confirm": {"edge"}}, 422, "keep its rules"},
		// The test's actions cannot remove: the API's 502 reaches the page.
		{"removal fails", url.Values{"keep_rules": {"false"}, "confirm": {"edge"}}, 502, "was not deleted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.form.Set("csrf", token)
			code, body, _ := post(t, c, e.srv.URL+"/ui/devices/edge/delete", tc.form)
			if code != tc.status || !strings.Contains(body, tc.wantInPage) {
				t.Fatalf("%d, want %d with %q", code, tc.status, tc.wantInPage)
			}
		})
	}
	if _, err := e.st.GetDevice(context.Background(), e.orgs["a"].ID, "edge"); err != nil {
		t.Fatalf("the device is gone: %v", err)
	}
}

func TestSecureCookiesOnPlainHTTPWhenAsked(t *testing.T) {
	for _, secure := range []bool{false, true} {
		s := &Server{cfg: Config{SecureCookies: secure}}
		r, _ := http.NewRequest("GET", "http://portal.example/ui/login", nil)
		if ck := s.cookie(r, sessionCookie, "x", 60); ck.Secure != secure || !ck.HttpOnly {
			t.Errorf("SecureCookies %v: cookie Secure %v HttpOnly %v", secure, ck.Secure, ck.HttpOnly)
		}
	}
}

func TestPreflightAndLogsSetupFailuresAreShown(t *testing.T) {
	e := newEnv(t, Limits{})
	c, token := adminSession(t, e, "alice")
	// The test's actions cannot run a preflight: the API's 502 and its
	// reason reach the page.
	code, body, _ := post(t, c, e.srv.URL+"/ui/devices/edge/preflight", url.Values{"csrf": {token}})
	if code != http.StatusBadGateway || !strings.Contains(body, "could not run") {
		t.Fatalf("preflight that cannot run: %d", code)
	}
	// Logs setup without a bucket: the API names the field; the page
	// shows its message and keeps the form.
	code, body, _ = post(t, c, e.srv.URL+"/ui/devices/edge/logs/setup", url.Values{"csrf": {token}, "prefix": {"dns/"}, "query_logging": {"on"}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="logs-error"`) || !strings.Contains(body, "required") ||
		!strings.Contains(body, `id="bucket" name="bucket" value="" autocomplete="off" aria-invalid="true"`) || !strings.Contains(body, `value="dns/"`) {
		t.Fatalf("logs setup without a bucket: %d", code)
	}
}

func TestPreflightPageListsEachMissingPermission(t *testing.T) {
	e := newEnv(t, Limits{})
	s := e.srv.Config.Handler.(*Server)
	rep := device.PreflightReport{Account: "111122223333", Missing: []string{"route53resolver:ListFirewallRules", "sqs:ReceiveMessage"},
		Checks: []device.Check{
			{Permission: "sts:GetCallerIdentity", OK: true, Status: device.CheckOK, For: "sync"},
			{Permission: "route53resolver:ListFirewallRules", Status: device.CheckMissing, Error: "access denied", For: "sync"},
			{Permission: "sqs:ReceiveMessage", Status: device.CheckMissing, Error: "access denied", For: "logs"},
			{Permission: "route53resolver:CreateFirewallRule", Status: device.CheckNotChecked, Error: "a write", For: "sync"},
		},
		IAMPolicy: json.RawMessage(`{"Version":"2012-10-17","Statement":[]}`)}
	data := preflightData{D: api.DeviceView{Nickname: "edge"}, Report: rep, Missing: failedChecks(rep), IAM: indentJSON(rep.IAMPolicy)}
	rec := httptest.NewRecorder()
	s.render(rec, http.StatusOK, "device_preflight", page{Title: "Connection test of edge", Admin: true, Data: data})
	body := rec.Body.String()
	i := strings.Index(body, `<ul id="missing">`)
	if i < 0 {
		t.Fatal("no list of missing permissions")
	}
	list := body[i : i+strings.Index(body[i:], "</ul>")]
	for _, want := range []string{"route53resolver:ListFirewallRules</code> (for sync)", "sqs:ReceiveMessage</code> (for logs)"} {
		if !strings.Contains(list, want) {
			t.Errorf("the missing list lacks %q", want)
		}
	}
	if strings.Contains(list, "CreateFirewallRule") || strings.Contains(list, "GetCallerIdentity") {
		t.Error("the missing list holds a permission that is not missing")
	}
	if !strings.Contains(body, "2 checks failed") || !strings.Contains(body, `&#34;Version&#34;: &#34;2012-10-17&#34;`) {
		t.Error("the verdict or the IAM policy is not shown")
	}
}

func TestEditPageShowsTheIAMPolicyOnceTheAccountIsKnown(t *testing.T) {
	e, c, _, d := edgeOf(t)
	_, body, _ := get(t, c, e.srv.URL+"/ui/devices/edge/edit")
	if !strings.Contains(body, `id="iam-missing"`) || strings.Contains(body, `id="iam-policy"`) {
		t.Fatal("the edit page does not say why there is no IAM policy yet")
	}
	if err := e.st.SetAccount(context.Background(), d.ID, "111122223333"); err != nil {
		t.Fatal(err)
	}
	_, body, _ = get(t, c, e.srv.URL+"/ui/devices/edge/edit")
	if !strings.Contains(body, `id="copy-iam"`) || !strings.Contains(body, "firewall-rule-group/rslvr-frg-0123456789abcdef0") {
		t.Error("the edit page does not show the device's IAM policy to copy")
	}
}
