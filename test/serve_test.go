package test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
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
// flags but where to keep data and which ports), checks that the sandbox
// device reaches in_sync and the sandbox's DNS answers as the sample policy
// says, that an edited policy reaches the firewall, and that a restart
// keeps everything.
func TestServeEmbeddedDefault(t *testing.T) {
	dir := t.TempDir()
	flags := []string{"--sandbox-api", "127.0.0.1:0", "--sandbox-dns", "127.0.0.1:0", "--sandbox-settle", "50ms"}
	s := startServe(t, dir, flags...)
	if s.Token == "" || s.DNS == "" {
		t.Fatalf("serve did not print a token and the sandbox's DNS:\n%s", s.out.String())
	}
	if fi, err := os.Stat(filepath.Join(dir, "master.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master key file: %v %v", fi, err)
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

	s.stop()
	s2 := startServe(t, dir, flags...)
	if s2.Token != s.Token {
		t.Fatalf("a restart made a new first token")
	}
	again := s2.waitDevice("sandbox", "in_sync", func(d deviceView) bool { return d.Status.State == "in_sync" })
	if again.Status.PlanHash != d.Status.PlanHash || again.Policy != "mine" {
		t.Fatalf("after a restart: %+v, before: %+v", again, d)
	}
	waitRcode(t, s2.DNS, "second.example", "NXDOMAIN")
	s2.stop()
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
