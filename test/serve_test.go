package test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/miekg/dns"

	"github.com/rpzfw/rpzfw/internal/awsclient"
	"github.com/rpzfw/rpzfw/internal/emulator"
	"github.com/rpzfw/rpzfw/internal/secret"
)

// rcode asks addr for name and returns the answer's rcode.
func rcode(t *testing.T, addr, name string) string {
	t.Helper()
	c := &dns.Client{Timeout: 3 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("asking %s for %s: %v", addr, name, err)
	}
	return dns.RcodeToString[r.Rcode]
}

// waitRcode asks until name gets want.
func waitRcode(t *testing.T, addr, name, want string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	got := ""
	for time.Now().Before(deadline) {
		if got = rcode(t, addr, name); got == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: %s, want %s", name, got, want)
}

// TestServeEmbeddedDefault runs "rpzfw serve" as a newcomer would (no
// flags but where to keep data and which ports), checks that it says how
// to log in, that the sandbox device reaches in_sync and the sandbox's DNS
// answers as the sample policy says, that the sandbox's traffic reaches
// the reports through its log path (local S3, event, SQS, consumer) with
// hits attributed to feeds, that an edited policy reaches the firewall,
// and that a restart keeps everything and counts each log line once.
func TestServeEmbeddedDefault(t *testing.T) {
	dir := t.TempDir()
	// The local S3 and SQS keep their port across the restart: the
	// device's queue URL names it, as an AWS queue URL names its region.
	awsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	flags := []string{"--sandbox-api", "127.0.0.1:0", "--sandbox-dns", "127.0.0.1:0", "--sandbox-settle", "50ms",
		"--sandbox-aws", awsAddr, "--sandbox-log-flush", "1s"}
	if _, err := rpzfwBinary(); err != nil { // built before the clock starts
		t.Fatal(err)
	}
	started := time.Now()
	s := startServe(t, dir, flags...)
	if s.Token == "" || s.DNS == "" {
		t.Fatalf("serve did not print a token and the sandbox's DNS:\n%s", s.out.String())
	}
	for _, f := range []string{"master.key", "admin.password"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, fi, err)
		}
	}
	password := readTrimmed(t, filepath.Join(dir, "admin.password"))
	if !strings.Contains(s.out.String(), `Log in as "admin"`) || !strings.Contains(s.out.String(), password) {
		t.Fatalf("serve did not say how to log in to the portal:\n%s", s.out.String())
	}
	code, portal := s.portalLogin("admin", password)
	if code != 303 {
		t.Fatalf("portal login with the printed password: status %d, want 303", code)
	}
	if code, _ := s.portalLogin("admin", password+"x"); code == 303 {
		t.Fatalf("portal login with a wrong password worked")
	}
	if code := s.call("GET", "/api/v1/devices", "", nil, nil); code != 401 {
		t.Fatalf("no token: status %d, want 401", code)
	}
	s.waitDevice("sandbox", "in_sync", func(d deviceView) bool { return d.Status.State == "in_sync" })
	for name, want := range map[string]string{"malware.example": "NXDOMAIN", "www.botnet.example": "NXDOMAIN"} {
		if got := rcode(t, s.DNS, name); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	var plan map[string]any
	s.must(200, "GET", "/api/v1/devices/sandbox/plan", nil, &plan)
	feed := checkSandboxReports(t, s, started)
	// The portal shows the same: the device in sync, the feed in its reports.
	if body := s.page(portal, "/ui/devices"); !strings.Contains(body, "sandbox") || !strings.Contains(body, "state-in_sync") {
		t.Fatalf("the portal's devices page does not show the sandbox in sync:\n%s", body)
	}
	if body := s.page(portal, "/ui/reports?device=sandbox&range=1h"); !strings.Contains(body, feed) {
		t.Fatalf("the portal's reports do not name feed %q:\n%s", feed, body)
	}

	// A policy of one's own, then an edit of it, reach the firewall.
	s.must(201, "POST", "/api/v1/policies", map[string]any{"name": "mine", "block_list": []string{"first.example"}}, nil)
	s.must(200, "PATCH", "/api/v1/devices/sandbox", map[string]any{"policy": "mine"}, nil)
	waitRcode(t, s.DNS, "first.example", "NXDOMAIN")
	s.must(200, "PUT", "/api/v1/policies/mine", map[string]any{"name": "mine", "block_list": []string{"second.example"}}, nil)
	waitRcode(t, s.DNS, "second.example", "NXDOMAIN")
	waitRcode(t, s.DNS, "first.example", "NOERROR")
	d := s.waitDevice("sandbox", "in_sync", func(d deviceView) bool { return d.Status.State == "in_sync" })
	var runs []map[string]any
	var page struct {
		Syncs []map[string]any `json:"syncs"`
	}
	s.must(200, "GET", "/api/v1/devices/sandbox/syncs", nil, &page)
	runs = page.Syncs
	if len(runs) < 3 {
		t.Fatalf("want at least 3 sync runs in the history, got %d", len(runs))
	}
	before := s.resolutions()

	s.stop()
	// Without traffic now, so that what S3 holds stops growing.
	s2 := startServe(t, dir, append(flags, "--sandbox-traffic=false")...)
	if s2.Token != s.Token {
		t.Fatalf("a restart made a new first token")
	}
	if strings.Contains(s2.out.String(), password) {
		t.Fatalf("a restart showed the portal password again")
	}
	again := s2.waitDevice("sandbox", "in_sync", func(d deviceView) bool { return d.Status.State == "in_sync" })
	if again.Status.PlanHash != d.Status.PlanHash || again.Policy != "mine" {
		t.Fatalf("after a restart: %+v, before: %+v", again, d)
	}
	waitRcode(t, s2.DNS, "second.example", "NXDOMAIN")
	checkCountedOnce(t, s2, newSandboxAWS(t, "http://"+awsAddr), before)
	s2.stop()
}

// checkSandboxReports waits until the reports show hits of the sandbox
// device attributed to a feed and its log health shows objects read, and
// logs how long that took from the start (a measurement, not a check). It
// returns the feed with the most hits.
func checkSandboxReports(t *testing.T, s *served, started time.Time) string {
	t.Helper()
	var hits struct {
		Hits []struct {
			Device, Feed, Action, Entry string
		} `json:"hits"`
	}
	eventually(t, "a hit of the sandbox attributed to a feed in the reports", func() bool {
		s.must(200, "GET", "/api/v1/reports/hits?device=sandbox&from=-1h&limit=50", nil, &hits)
		for _, h := range hits.Hits {
			if h.Device == "sandbox" && h.Feed != "" && h.Entry != "" {
				return true
			}
		}
		return false
	})
	t.Logf("first hit in the reports %v after the start", time.Since(started).Round(100*time.Millisecond))
	var top struct {
		Rows []struct {
			Value string `json:"value"`
			Total int64  `json:"total"`
		} `json:"rows"`
	}
	s.must(200, "GET", "/api/v1/reports/top?by=feed&device=sandbox&from=-1h", nil, &top)
	if len(top.Rows) == 0 || top.Rows[0].Total == 0 || top.Rows[0].Value == "" {
		t.Fatalf("top feeds: %+v", top)
	}
	var health struct {
		Enabled          bool    `json:"enabled"`
		State            string  `json:"state"`
		ObjectsPerMinute float64 `json:"objects_per_minute"`
		LinesPerMinute   float64 `json:"lines_per_minute"`
	}
	s.must(200, "GET", "/api/v1/devices/sandbox/logs", nil, &health)
	if !health.Enabled || health.State != "ok" || health.ObjectsPerMinute <= 0 || health.LinesPerMinute <= 0 {
		t.Fatalf("log health: %+v", health)
	}
	return top.Rows[0].Value
}

// checkCountedOnce waits until the queue is drained and the reports count
// every line of every object in the sandbox's S3, then announces an object
// again (the same key and ETag, as a repeated notification would) and
// checks that nothing is counted twice.
func checkCountedOnce(t *testing.T, s *served, a sandboxAWS, before int64) {
	t.Helper()
	var lines, got int64
	idle := false
	eventually(t, "the reports count each line in S3", func() bool {
		if idle = a.idle(t); !idle {
			return false
		}
		lines, got = a.lines(t), s.resolutions()
		t.Logf("queue idle: %v; %d lines in S3, %d resolutions in the reports", idle, lines, got)
		return lines == got
	})
	if got < before {
		t.Fatalf("after a restart the reports count %d resolutions, before it %d", got, before)
	}
	keys := a.objects(t)
	out, err := a.s3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("rpzfw-sandbox-logs"), Key: aws.String(keys[0])})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if _, err := a.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("rpzfw-sandbox-logs"), Key: aws.String(keys[0]),
		Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the repeated event is read", func() bool { return a.idle(t) })
	// Lines read again: a last flush of the sandbox may have added some.
	if again, now := s.resolutions(), a.lines(t); again != now {
		t.Fatalf("an object announced twice was counted twice: %d resolutions, %d lines in S3", again, now)
	}
	t.Logf("%d lines in %d objects, each counted once", lines, len(keys))
}

func readTrimmed(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestServeTwoInstancesTakeOver runs two "rpzfw serve" processes on one
// PostgreSQL database against one emulator, kills the one that holds the
// device's account (kill -9), and checks that the other takes the device
// over: a policy edit made after the kill reaches the firewall, synced by
// the survivor.
func TestServeTwoInstancesTakeOver(t *testing.T) {
	dsn := postgresSchema(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	emu, err := emulator.Serve(ctx, emulator.ServeConfig{Config: emulator.Config{Settle: 20 * time.Millisecond, Log: quietLog()},
		APIAddr: "127.0.0.1:0", DNSAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	opts := awsclient.Options{Region: "us-east-1", Endpoint: emu.APIURL}
	cfg, err := awsclient.Config(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	api := awsclient.Resolver(cfg, opts)
	g, err := api.CreateFirewallRuleGroup(ctx, &r53r.CreateFirewallRuleGroupInput{CreatorRequestId: aws.String("two"), Name: aws.String("two")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.AssociateFirewallRuleGroup(ctx, &r53r.AssociateFirewallRuleGroupInput{CreatorRequestId: aws.String("two"),
		FirewallRuleGroupId: g.FirewallRuleGroup.Id, VpcId: aws.String(emu.VPCID()), Priority: aws.Int32(101), Name: aws.String("two")}); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--database", dsn, "--sandbox=false", "--poll", "200ms", "--lease-ttl", "3s"}
	// Instances that share a database share its master key.
	key, err := secret.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	env := []string{secret.KeyEnv + "=" + secret.EncodeKey(key)}
	a := startServeEnv(t, t.TempDir(), env, append(flags, "--instance", "alpha")...)
	b := startServeEnv(t, t.TempDir(), env, append(flags, "--instance", "beta")...)
	token := a.Token
	if token == "" {
		token = b.Token
	}
	a.Token, b.Token = token, token
	a.must(201, "POST", "/api/v1/policies", map[string]any{"name": "p", "block_list": []string{"one.example"}}, nil)
	a.must(201, "POST", "/api/v1/devices", map[string]any{
		"nickname": "edge", "policy": "p", "region": "us-east-1", "rule_group_id": aws.ToString(g.FirewallRuleGroup.Id),
		"endpoint_url": emu.APIURL,
		"credentials":  map[string]any{"type": "access_key", "access_key_id": "AKIAEMULATOR0000TEST", "secret_access_key": "emulator-secret-key-0000"},
	}, nil)
	a.waitDevice("edge", "in_sync", func(d deviceView) bool { return d.Status.State == "in_sync" })
	waitRcode(t, emu.Data.Addr(), "one.example", "NXDOMAIN")

	var page struct {
		Syncs []struct {
			Instance string `json:"instance"`
			Result   string `json:"result"`
		} `json:"syncs"`
	}
	a.must(200, "GET", "/api/v1/devices/edge/syncs", nil, &page)
	if len(page.Syncs) == 0 {
		t.Fatal("no sync run recorded")
	}
	holder, survivor := a, b
	if page.Syncs[0].Instance == "beta" {
		holder, survivor = b, a
	}
	holder.kill()
	killed := time.Now()
	survivor.must(200, "PUT", "/api/v1/policies/p", map[string]any{"name": "p", "block_list": []string{"two.example"}}, nil)
	waitRcode(t, emu.Data.Addr(), "two.example", "NXDOMAIN")
	t.Logf("the survivor synced the edit %s after the kill (lease 3s)", time.Since(killed).Round(10*time.Millisecond))
	// The run is recorded when the sync ends, a moment after DNS changed.
	want := map[*served]string{a: "alpha", b: "beta"}[survivor]
	deadline := time.Now().Add(time.Minute)
	for {
		survivor.must(200, "GET", "/api/v1/devices/edge/syncs", nil, &page)
		if len(page.Syncs) > 0 && page.Syncs[0].Instance == want && page.Syncs[0].Result != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sync run by the survivor %q; runs: %+v", want, page.Syncs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	survivor.waitDevice("edge", "in_sync", func(d deviceView) bool { return d.Status.State == "in_sync" })
	survivor.stop()
}
