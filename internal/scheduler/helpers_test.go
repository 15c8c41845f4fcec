package scheduler

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rpzfw/rpzfw/internal/awsclient"
	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/emulator"
	"github.com/rpzfw/rpzfw/internal/policydoc"
	"github.com/rpzfw/rpzfw/internal/secret"
	"github.com/rpzfw/rpzfw/internal/store"
	"github.com/rpzfw/rpzfw/internal/store/sqlstore"
)

// env is a scheduler on a real SQLite store, syncing into a real emulator
// that plays the sandbox.
type env struct {
	t     *testing.T
	ctx   context.Context
	store *sqlstore.DB
	emu   *emulator.Running
	api   *r53r.Client
	org   store.Org
	dir   string // the policies' files
	reg   *prometheus.Registry
	sched *Scheduler
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	emu, err := emulator.Serve(ctx, emulator.ServeConfig{APIAddr: "127.0.0.1:0", DNSAddr: "127.0.0.1:0",
		Config: emulator.Config{Settle: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "rpzfw.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	org, err := st.CreateOrg(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	o, err := device.Connector{SandboxEndpoint: emu.APIURL}.Options(store.Device{Region: device.SandboxRegion})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := awsclient.Config(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, store: st, emu: emu, api: awsclient.Resolver(cfg, o), org: org, dir: t.TempDir(), reg: prometheus.NewRegistry()}
	return e
}

// start runs a scheduler on the env; mod changes its config.
func (e *env) start(mod func(*Config)) *Scheduler {
	e.t.Helper()
	cfg := e.config("test-1", nil)
	// The scheduler's log is shown when the test fails.
	var logs syncBuffer
	cfg.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.t.Cleanup(func() {
		if e.t.Failed() {
			e.t.Logf("scheduler log:\n%s", logs.String())
		}
	})
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	s.ticked = make(chan struct{})
	if err := s.Start(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			e.t.Errorf("shutdown: %v", err)
		}
	})
	e.sched = s
	return s
}

// config is the tests' scheduler config: fast polls and backoff, a store
// and emulator of the env.
func (e *env) config(instance string, now func() time.Time) Config {
	key, _ := secret.GenerateKey()
	keys, _ := secret.New(key)
	reg := prometheus.NewRegistry()
	if e.reg != nil {
		reg = e.reg
	}
	return Config{Store: e.store, Keyring: keys, Instance: instance, Now: now, Poll: 50 * time.Millisecond, LeaseTTL: e.leaseTTL(),
		Rate: 100, BackoffMin: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond, DataDir: e.t.TempDir(),
		PolicyOptions: policydoc.Options{BaseDir: e.dir}, SandboxEndpoint: e.emu.APIURL, Registerer: reg,
		SettlePoll: 10 * time.Millisecond, MaxAttempts: 2}
}

func (e *env) leaseTTL() time.Duration { return 5 * time.Second }

// ruleGroup makes a rule group associated with the emulator's VPC.
func (e *env) ruleGroup(name string) string {
	e.t.Helper()
	g, err := e.api.CreateFirewallRuleGroup(e.ctx, &r53r.CreateFirewallRuleGroupInput{CreatorRequestId: aws.String(name), Name: aws.String(name)})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.api.AssociateFirewallRuleGroup(e.ctx, &r53r.AssociateFirewallRuleGroupInput{CreatorRequestId: aws.String(name),
		FirewallRuleGroupId: g.FirewallRuleGroup.Id, VpcId: aws.String(e.emu.VPCID()), Priority: aws.Int32(101), Name: aws.String(name)}); err != nil {
		e.t.Fatal(err)
	}
	return aws.ToString(g.FirewallRuleGroup.Id)
}

func (e *env) writeFile(name, body string) {
	e.t.Helper()
	tmp := filepath.Join(e.dir, name+".tmp")
	if err := os.WriteFile(tmp, []byte(body), 0o600); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(e.dir, name)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) checked(name, doc string) *policydoc.Checked {
	e.t.Helper()
	c, err := policydoc.Check(name, []byte(doc), policydoc.Secrets{}, policydoc.Options{BaseDir: e.dir})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) createPolicy(name, doc string) {
	e.t.Helper()
	if _, err := e.store.CreatePolicy(e.ctx, store.Policy{OrgID: e.org.ID, Name: name, Doc: e.checked(name, doc).Doc}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) updatePolicy(name, doc string) {
	e.t.Helper()
	if _, err := e.store.UpdatePolicy(e.ctx, store.Policy{OrgID: e.org.ID, Name: name, Doc: e.checked(name, doc).Doc}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) createDevice(nickname, policy, group string) store.Device {
	e.t.Helper()
	d := store.Device{OrgID: e.org.ID, Nickname: nickname, Policy: policy, Region: device.SandboxRegion, RuleGroupID: group}
	device.Defaults(&d)
	d, err := e.store.CreateDevice(e.ctx, d)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// waitStatus waits until the device's status satisfies ok, and returns it.
func (e *env) waitStatus(d store.Device, what string, ok func(store.Status) bool) store.Status {
	e.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var st store.Status
	for time.Now().Before(deadline) {
		var err error
		if st, err = e.store.GetStatus(e.ctx, d.ID); err == nil && ok(st) {
			return st
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("%s: device %s never got there; last status: state=%s error=%q hard=%v", what, d.Nickname, st.State, st.Error, st.ErrorHard)
	return st
}

// resolve asks the emulator's DNS for name and returns the rcode and the
// first A record ("" when none).
func (e *env) resolve(name string) string {
	e.t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	r, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(m, e.emu.Data.Addr())
	if err != nil {
		e.t.Fatal(err)
	}
	out := dns.RcodeToString[r.Rcode]
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *dns.A:
			out += " " + v.A.String()
		case *dns.CNAME:
			out += " CNAME " + v.Target
		}
	}
	return out
}

// waitResolve waits until name resolves as want.
func (e *env) waitResolve(name, want string) {
	e.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	got := ""
	for time.Now().Before(deadline) {
		if got = e.resolve(name); got == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("%s resolves as %q, want %q", name, got, want)
}

func inSync(st store.Status) bool { return st.State == store.StateInSync }

func runs(e *env, d store.Device) []store.SyncRun {
	e.t.Helper()
	rs, err := e.store.ListRuns(e.ctx, d.ID, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return rs
}

func describeRuns(rs []store.SyncRun) string {
	s := ""
	for _, r := range rs {
		s += fmt.Sprintf("\n  %s: %s %s %q calls %v", r.Instance, r.Trigger, r.Result, r.Error, r.Calls)
	}
	return s
}

// counter reads a counter of the env's registry (0 when absent).
func (e *env) counter(name string, labels map[string]string) float64 {
	e.t.Helper()
	fams, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
