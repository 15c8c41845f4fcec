package web_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/chromedp/chromedp"
	"github.com/miekg/dns"

	"github.com/rpzfw/rpzfw/internal/awsclient"
	"github.com/rpzfw/rpzfw/internal/service"
	"github.com/rpzfw/rpzfw/internal/store"
	"github.com/rpzfw/rpzfw/internal/web"
)

// screenshotDir is $RPZFW_SCREENSHOTS when set (kept after the test),
// else the test's artifact directory.
func screenshotDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("RPZFW_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.ArtifactDir()
}

// secondRuleGroup makes a rule group in the sandbox, associated with its
// VPC, as a user does in the console before adding a device.
func secondRuleGroup(t *testing.T, svc *service.Service) string {
	t.Helper()
	ctx := context.Background()
	o := awsclient.Options{Region: "us-east-1", Endpoint: svc.Sandbox().APIURL}
	cfg, err := awsclient.Config(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	api := awsclient.Resolver(cfg, o)
	g, err := api.CreateFirewallRuleGroup(ctx, &r53r.CreateFirewallRuleGroupInput{CreatorRequestId: aws.String("browser"), Name: aws.String("browser")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.AssociateFirewallRuleGroup(ctx, &r53r.AssociateFirewallRuleGroupInput{CreatorRequestId: aws.String("browser"),
		FirewallRuleGroupId: g.FirewallRuleGroup.Id, VpcId: aws.String(svc.Sandbox().VPCID()), Priority: aws.Int32(150), Name: aws.String("browser")}); err != nil {
		t.Fatal(err)
	}
	return aws.ToString(g.FirewallRuleGroup.Id)
}

func addUsers(t *testing.T, svc *service.Service) {
	t.Helper()
	hash, err := web.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	for name, role := range map[string]string{"alice": store.RoleAdmin, "victor": store.RoleViewer} {
		if _, err := svc.Store().CreateUser(context.Background(), store.User{OrgID: svc.Org.ID, Name: name, Role: role, PasswordHash: hash}); err != nil {
			t.Fatal(err)
		}
	}
}

// logIn logs name in through the form.
func logIn(t *testing.T, b context.Context, base, name string) {
	t.Helper()
	if err := chromedp.Do(b,
		chromedp.Navigate(base+"/ui/login"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), name),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery"),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("devices")),
	); err != nil {
		t.Fatalf("logging in as %s: %v", name, err)
	}
}

func TestDevicePagesInBrowser(t *testing.T) {
	svc := startService(t)
	addUsers(t, svc)
	group := secondRuleGroup(t, svc)
	shots := screenshotDir(t)
	b := browser(t)
	base := svc.URL
	logIn(t, b, base, "alice")

	addDevice(t, b, group, shots)
	waitInSync(t, b, base+"/ui/devices/edge-sb")
	if err := chromedp.Do(b, shot(t, shots, "12-device-in-sync")); err != nil {
		t.Fatal(err)
	}
	if h := text(t, b, "#syncs tbody"); !strings.Contains(h, "ok") {
		t.Errorf("sync history %q has no run that worked", h)
	}

	testConnectionPlanSetup(t, b, svc, shots)

	// Phone width: the overview still reads, with no sideways scrolling.
	if err := chromedp.Do(b,
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(base+"/ui/devices/edge-sb"),
		chromedp.WaitVisible(chromedp.ID("state")),
		shot(t, shots, "17-device-phone"),
	); err != nil {
		t.Fatal(err)
	}
	if wide, err := chromedp.Run(b, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`)); err != nil || wide {
		t.Errorf("the overview scrolls sideways at phone width: %v %v", wide, err)
	}
	if err := chromedp.Do(b,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("username")),
	); err != nil {
		t.Fatalf("logout: %v", err)
	}
	viewerCannotChange(t, b, base, shots)
}

// setValue sets a field by its ID (which may hold a dot) and tells the
// page's scripts, as typing would.
func setValue(id, v string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		js := `(() => { const el = document.getElementById(` + strconv.Quote(id) + `); el.value = ` + strconv.Quote(v) + `; el.dispatchEvent(new Event("change")); return true })()`
		_, err := chromedp.Evaluate[bool](js)(ctx, tg)
		return err
	})
}

// addDevice adds edge-sb on group: a bad nickname first, whose message
// shows by its field with what was typed kept, then a good one.
func addDevice(t *testing.T, b context.Context, group, shots string) {
	t.Helper()
	if err := chromedp.Do(b,
		chromedp.Click(chromedp.ID("add-device")),
		chromedp.WaitVisible(chromedp.ID("nickname")),
		chromedp.SendKeys(chromedp.ID("nickname"), "bad nick!"),
		chromedp.SetValue(chromedp.ID("policy"), "sample"),
		chromedp.SendKeys(chromedp.ID("region"), "sandbox"),
		chromedp.SendKeys(chromedp.ID("rule_group_id"), group),
		setValue(`credentials.type`, ""),
		chromedp.SendKeys(chromedp.ID("note"), "added from the browser test"),
		shot(t, shots, "10-add-device"),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.ID("err-nickname")),
		shot(t, shots, "11-add-device-bad-nickname"),
	); err != nil {
		t.Fatalf("adding a device with a bad nickname: %v", err)
	}
	if msg := text(t, b, "#err-nickname"); !strings.Contains(msg, "letters, digits") {
		t.Errorf("nickname message %q", msg)
	}
	if inv, err := chromedp.Run(b, chromedp.Evaluate[string](`document.getElementById("nickname").getAttribute("aria-invalid")`)); err != nil || inv != "true" {
		t.Errorf("the nickname field is not marked invalid: %q %v", inv, err)
	}
	if focus, err := chromedp.Run(b, chromedp.Evaluate[string](`document.activeElement.id`)); err != nil || focus != "nickname" {
		t.Errorf("after the refusal the keyboard is at %q, not the field to fix (%v)", focus, err)
	}
	if note, err := chromedp.Run(b, chromedp.Evaluate[string](`document.getElementById("note").value`)); err != nil || note != "added from the browser test" {
		t.Errorf("the note typed was lost: %q", note)
	}
	if err := chromedp.Do(b,
		setValue("nickname", ""),
		chromedp.SendKeys(chromedp.ID("nickname"), "edge-sb"),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.ID("notice")),
	); err != nil {
		t.Fatalf("adding a good device: %v", err)
	}
}

// waitInSync reloads the overview until the device is in sync.
func waitInSync(t *testing.T, b context.Context, page string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		if err := chromedp.Do(b, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.ID("state"))); err != nil {
			t.Fatal(err)
		}
		state := text(t, b, "#state")
		if state == "in sync" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the device is %q, not in sync, after 90 s", state)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// testConnectionPlanSetup runs the preflight, opens the plan and the
// setup, and digs the setup's test name against the sandbox's DNS.
func testConnectionPlanSetup(t *testing.T, b context.Context, svc *service.Service, shots string) {
	t.Helper()
	if err := chromedp.Do(b,
		chromedp.Click(chromedp.ID("test-connection")),
		chromedp.WaitVisible(chromedp.ID("checks")),
		shot(t, shots, "13-test-connection"),
	); err != nil {
		t.Fatalf("test connection: %v", err)
	}
	if v := text(t, b, "#preflight-verdict"); !strings.Contains(v, "Every permission") {
		t.Errorf("preflight verdict %q", v)
	}
	if p := text(t, b, "#iam-policy"); !strings.Contains(p, "route53resolver:ListFirewallRules") {
		t.Errorf("no IAM policy after the test: %q", p)
	}
	if err := chromedp.Do(b,
		chromedp.Click(chromedp.CSS(`nav.tabs a[href$="/plan"]`)),
		chromedp.WaitVisible(chromedp.ID("rules")),
		shot(t, shots, "14-plan"),
	); err != nil {
		t.Fatalf("opening the plan: %v", err)
	}
	if rules := text(t, b, "#rules tbody"); !strings.Contains(rules, "BLOCK") {
		t.Errorf("the plan has no rule that blocks: %q", rules)
	}
	if err := chromedp.Do(b,
		chromedp.Click(chromedp.CSS(`nav.tabs a[href$="/setup"]`)),
		chromedp.WaitVisible(chromedp.ID("dig")),
		shot(t, shots, "15-setup"),
	); err != nil {
		t.Fatalf("opening the setup: %v", err)
	}
	dig := strings.Fields(text(t, b, "#dig"))
	name := dig[len(dig)-1]
	if !strings.Contains(strings.Join(dig, " "), "-p") {
		t.Errorf("the sandbox's dig %q does not name the sandbox's port", dig)
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	host, port, _ := net.SplitHostPort(svc.Sandbox().Data.Addr())
	in, err := dns.Exchange(m, net.JoinHostPort(host, port))
	if err != nil {
		t.Fatalf("dig %s: %v", name, err)
	}
	if expect := text(t, b, "#expect-block"); !answerAsExpected(in, expect) {
		t.Errorf("dig %s answered %s with %d records; the page expects %q", name, dns.RcodeToString[in.Rcode], len(in.Answer), expect)
	}
	if err := chromedp.Do(b,
		chromedp.Click(chromedp.CSS(`nav.tabs a[href$="/logs"]`)),
		chromedp.WaitVisible(chromedp.ID("health")),
		shot(t, shots, "16-log-pipeline"),
	); err != nil {
		t.Fatalf("opening the log pipeline: %v", err)
	}
}

// answerAsExpected says whether a DNS answer is what the setup page's
// test step says a blocked name gets.
func answerAsExpected(in *dns.Msg, expect string) bool {
	switch {
	case strings.Contains(expect, "NXDOMAIN"):
		return in.Rcode == dns.RcodeNameError
	case strings.Contains(expect, "NODATA"):
		return in.Rcode == dns.RcodeSuccess && len(in.Answer) == 0
	case strings.Contains(expect, "CNAME"):
		return in.Rcode == dns.RcodeSuccess && len(in.Answer) > 0 && in.Answer[0].Header().Rrtype == dns.TypeCNAME
	}
	return false
}

// viewerCannotChange: the viewer sees the device with no button that
// changes it, and a POST with the viewer's own token is refused.
func viewerCannotChange(t *testing.T, b context.Context, base, shots string) {
	t.Helper()
	logIn(t, b, base, "victor")
	if n, err := chromedp.Run(b, chromedp.Evaluate[int](`document.querySelectorAll("#add-device, #devices form").length`)); err != nil || n != 0 {
		t.Errorf("the viewer's devices page has %d controls that change things (%v)", n, err)
	}
	if err := chromedp.Do(b,
		chromedp.Click(chromedp.CSS(`tr[data-device="edge-sb"] a`)),
		chromedp.WaitVisible(chromedp.ID("state")),
		shot(t, shots, "18-viewer-device"),
	); err != nil {
		t.Fatalf("viewer opens the device: %v", err)
	}
	if n, err := chromedp.Run(b, chromedp.Evaluate[int](`document.querySelectorAll("main form").length`)); err != nil || n != 0 {
		t.Errorf("the viewer's overview has %d forms (%v)", n, err)
	}
	if err := chromedp.Do(b, chromedp.Navigate(base+"/ui/devices/edge-sb/edit"), chromedp.WaitVisible(chromedp.ID("nickname"))); err != nil {
		t.Fatal(err)
	}
	if dis, err := chromedp.Run(b, chromedp.Evaluate[bool](`Array.from(document.querySelectorAll("main fieldset")).every(f => f.disabled) && !document.getElementById("save")`)); err != nil || !dis {
		t.Errorf("the viewer's settings page can be changed: %v %v", dis, err)
	}
	for _, path := range []string{"/ui/devices/edge-sb/sync-now", "/ui/devices/edge-sb/edit", "/ui/devices/edge-sb/delete", "/ui/add-device"} {
		status, err := chromedp.Run(b, chromedp.Evaluate[int](
			`fetch("`+path+`", {method: "POST", body: new URLSearchParams({csrf: document.querySelector("input[name=csrf]").value, confirm: "edge-sb", keep_rules: "true", nickname: "x"})}).then(r => r.status)`,
			chromedp.EvalAwaitPromise))
		if err != nil || status != http.StatusForbidden {
			t.Errorf("viewer's POST %s: %d %v, want 403", path, status, err)
		}
	}
	if err := chromedp.Do(b, chromedp.Navigate(base+"/ui/devices/edge-sb"), chromedp.WaitVisible(chromedp.ID("state"))); err != nil {
		t.Fatalf("the device is gone after the viewer's attempts: %v", err)
	}
}
