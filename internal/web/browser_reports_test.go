package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/miekg/dns"

	"github.com/rpzfw/rpzfw/internal/service"
	"github.com/rpzfw/rpzfw/internal/store"
	"github.com/rpzfw/rpzfw/internal/web"
)

// screenshots is where this test's screenshots go: $RPZFW_SCREENSHOTS
// when set (to keep them), else a temporary directory.
func screenshots(t *testing.T) string {
	if dir := os.Getenv("RPZFW_SCREENSHOTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// apiCall is a request to the service's JSON API with its first admin
// token (test setup only; the pages are driven in the browser).
func apiCall(t *testing.T, svc *service.Service, method, path string, body any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, svc.URL+path, strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+svc.FirstToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d", method, path, resp.StatusCode)
	}
}

// sampleLine is the line of examples/sample.rpz that starts with name.
func sampleLine(t *testing.T, name string) int {
	t.Helper()
	f, err := os.Open("../../examples/sample.rpz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.HasPrefix(sc.Text(), name+" ") {
			return n
		}
	}
	t.Fatalf("%s is not in sample.rpz", name)
	return 0
}

// waitSynced waits until the device has synced after since and is in
// sync, and returns its status.
func waitSynced(t *testing.T, st store.Store, d store.Device, since time.Time) store.Status {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		s, err := st.GetStatus(context.Background(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if s.State == store.StateInSync && s.LastSyncAt.After(since) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("device %s is %q (%s), last synced %s: no sync after %s within 90 s", d.Nickname, s.State, s.Error, s.LastSyncAt, since)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// queryBlocked asks the sandbox's DNS for name n times; each must be
// blocked (NXDOMAIN), as the device's rule says.
func queryBlocked(t *testing.T, svc *service.Service, name string, n int) {
	t.Helper()
	c := &dns.Client{Timeout: 5 * time.Second}
	for range n {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), dns.TypeA)
		r, _, err := c.Exchange(m, svc.Sandbox().Data.Addr())
		if err != nil {
			t.Fatalf("asking the sandbox for %s: %v", name, err)
		}
		if r.Rcode != dns.RcodeNameError {
			t.Fatalf("the sandbox answers %s with %s, want NXDOMAIN", name, dns.RcodeToString[r.Rcode])
		}
	}
}

// waitHits waits until the log path has stored at least n hits of name.
func waitHits(t *testing.T, st store.Store, org int64, name string, n int) []store.Hit {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		now := time.Now()
		hits, err := st.SearchHits(context.Background(), store.HitQuery{LogFilter: store.LogFilter{OrgID: org, From: now.Add(-time.Hour), To: now.Add(time.Minute)}, Name: name, Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits) >= n {
			return hits
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d hits of %s stored after 90 s, want %d: the sandbox's log path did not bring them", len(hits), name, n)
		}
		time.Sleep(time.Second)
	}
}

// canvasInk counts the painted pixels of the chart's canvas (-1: none).
const canvasInk = `(() => {
  const c = document.querySelector('#timeline canvas');
  if (!c || !c.width || !c.height) return -1;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
  return n;
})()`

func TestPoliciesAndReportsInBrowser(t *testing.T) {
	svc := startService(t)
	ctx := context.Background()
	st := svc.Store()
	hash, err := web.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateUser(ctx, store.User{OrgID: svc.Org.ID, Name: "alice", Role: store.RoleAdmin, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	// A policy of our own (the pre-defined ones are read-only), on the
	// sandbox device: the sample zone and an inline block list.
	apiCall(t, svc, "POST", "/api/v1/policies", map[string]any{"name": "mine", "block_list": []string{"before.example"},
		"sources": []any{map[string]any{"name": "sample", "kind": "file", "path": "sample.rpz"}}})
	apiCall(t, svc, "PATCH", "/api/v1/devices/sandbox", map[string]any{"policy": "mine"})
	dev, err := st.GetDevice(ctx, svc.Org.ID, "sandbox")
	if err != nil {
		t.Fatal(err)
	}
	waitSynced(t, st, dev, time.Time{})

	shots, b, base := screenshots(t), browser(t), svc.URL
	if err := chromedp.Do(b,
		chromedp.Navigate(base+"/ui/login"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery"),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("logout")),
		chromedp.Navigate(base+"/ui/policies"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-policy="mine"]`)),
		shot(t, shots, "policies-01-list"),
		chromedp.Click(chromedp.CSS(`tr[data-policy="mine"] a`)),
		chromedp.WaitVisible(chromedp.ID("explain")),
	); err != nil {
		t.Fatalf("opening the policies: %v", err)
	}
	if title, err := chromedp.Run(b, chromedp.Title()); err != nil || title != "Policy mine · rpzfw" {
		t.Errorf("policy page title %q %v", title, err)
	}
	if txt := text(t, b, `tr[data-source="sample"]`); !strings.Contains(txt, "ok") {
		t.Errorf("the sample source row %q does not say ok", txt)
	}

	// Explain a name from the keyboard: the source and line that decide.
	if err := chromedp.Do(b,
		chromedp.Focus(chromedp.ID("explain")),
		chromedp.SendKeys(chromedp.ID("explain"), "malware.example\r"),
		chromedp.WaitVisible(chromedp.ID("explanation")),
		shot(t, shots, "policies-02-explain"),
	); err != nil {
		t.Fatalf("explain: %v", err)
	}
	if got, want := text(t, b, "#explanation .decider")+" "+text(t, b, "#explanation .line"), "sample "+strconv.Itoa(sampleLine(t, "malware.example")); got != want {
		t.Errorf("explain malware.example: decided by %q, want %q", got, want)
	}
	if rule := text(t, b, "#explanation"); !strings.Contains(rule, "Enforced by rule") || !strings.Contains(rule, "NXDOMAIN") {
		t.Errorf("the explanation %q lacks the rule and BIND's answer", rule)
	}

	// A pre-defined policy is shown read-only, its lists' files named.
	if err := chromedp.Do(b, chromedp.Navigate(base+"/ui/policies/sample"), chromedp.WaitVisible(chromedp.ID("block_list"))); err != nil {
		t.Fatal(err)
	}
	if page := text(t, b, "main"); !strings.Contains(page, "pre-defined, read-only") || !strings.Contains(page, "Read from the file") || strings.Contains(page, "Save lists") {
		t.Errorf("the pre-defined policy's page is not read-only: %q", page)
	}
	if err := chromedp.Do(b, chromedp.Navigate(base+"/ui/policies/mine"), chromedp.WaitVisible(chromedp.ID("block_list"))); err != nil {
		t.Fatal(err)
	}

	// Edit the block list; the device syncs again with the new entry.
	saved := time.Now()
	if err := chromedp.Do(b,
		chromedp.SetValue(chromedp.ID("block_list"), "before.example\nportal-blocked.example"),
		chromedp.Click(chromedp.ID("save-lists")),
		chromedp.WaitVisible(chromedp.ID("notice")),
	); err != nil {
		t.Fatalf("saving the block list: %v", err)
	}
	if n := text(t, b, "#notice"); !strings.Contains(n, "Lists saved (version 2)") {
		t.Errorf("notice after saving: %q", n)
	}
	synced := waitSynced(t, st, dev, saved)
	if synced.PlanDomains == 0 {
		t.Errorf("after the edit the plan has no domains: %+v", synced)
	}
	if err := chromedp.Do(b,
		chromedp.Navigate(base+"/ui/policies/mine?explain=portal-blocked.example"),
		chromedp.WaitVisible(chromedp.ID("explanation")),
		shot(t, shots, "policies-03-after-edit"),
	); err != nil {
		t.Fatal(err)
	}
	if row := text(t, b, `tr[data-device="sandbox"]`); !strings.Contains(row, "in sync") || !strings.Contains(row, synced.LastSyncAt.UTC().Format("15:04")) {
		t.Errorf("the device row %q does not show the new sync at %s", row, synced.LastSyncAt.UTC().Format("15:04"))
	}
	if got := text(t, b, "#explanation .decider"); got != "block-list" {
		t.Errorf("portal-blocked.example decided by %q, want block-list", got)
	}
	listLine := text(t, b, "#explanation .line")

	// Traffic: real DNS queries to the sandbox, whose query logs go to its
	// S3 bucket, whose notifications the service's log consumer reads.
	dev, err = st.GetDevice(ctx, svc.Org.ID, "sandbox")
	if err != nil {
		t.Fatal(err)
	}
	if !dev.LogEnabled || dev.LogQueueURL == "" {
		t.Fatalf("the sandbox device has no log upload: %+v", dev)
	}
	queryBlocked(t, svc, "portal-blocked.example", 3)
	waitHits(t, st, svc.Org.ID, "portal-blocked.example", 3)

	if err := chromedp.Do(b,
		chromedp.Navigate(base+"/ui/reports?device=sandbox&range=1h"),
		chromedp.WaitVisible(chromedp.CSS("#timeline canvas")),
		shot(t, shots, "reports-01-device"),
	); err != nil {
		t.Fatalf("opening the reports: %v", err)
	}
	if ink, err := chromedp.Run(b, chromedp.Evaluate[int](canvasInk)); err != nil || ink <= 0 {
		t.Errorf("the timeline chart is not drawn: %d painted pixels, %v", ink, err)
	}
	if blocked, err := strconv.Atoi(text(t, b, "#tile-blocked")); err != nil || blocked < 3 {
		t.Errorf("blocked tile %d %v, want at least our 3", blocked, err)
	}
	if note := text(t, b, "#cache-note"); !strings.Contains(note, "lower bound") {
		t.Errorf("the page does not say cached answers are not logged: %q", note)
	}
	csv, err := chromedp.Run(b, chromedp.Evaluate[string](`fetch(document.querySelector('#csv-hits').href).then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil || !strings.Contains(csv, "at,device,query_name") || strings.Count(csv, "portal-blocked.example.") < 3 {
		t.Errorf("the CSV download: %v\n%s", err, csv)
	}

	// Our domain's row of the top domains drills down to its hits, each
	// with the list and line explain named.
	if err := chromedp.Do(b,
		chromedp.Click(chromedp.CSS(`#top-domain a[title="The hits of portal-blocked.example."]`)),
		chromedp.WaitVisible(chromedp.ID("hits")),
		shot(t, shots, "reports-02-hits"),
	); err != nil {
		t.Fatalf("drilling down: %v", err)
	}
	hits := text(t, b, "#hits tbody")
	if n := strings.Count(hits, "portal-blocked.example."); n < 3 || strings.Count(hits, "block-list line "+listLine) != n {
		t.Errorf("the hits of portal-blocked.example, from block-list line %s as explain says: %q", listLine, hits)
	}
	if err := chromedp.Do(b,
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(base+"/ui/reports?device=sandbox&range=1h"),
		chromedp.WaitVisible(chromedp.CSS("#timeline canvas")),
		shot(t, shots, "reports-03-phone"),
		chromedp.EmulateViewport(1280, 900),
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("username")),
	); err != nil {
		t.Fatalf("phone width and logout: %v", err)
	}
	if wide, err := chromedp.Run(b, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); err != nil || wide {
		t.Errorf("the login page after logout scrolls sideways: %v %v", wide, err)
	}
}
