package service

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/secret"
	"github.com/rpzfw/rpzfw/internal/store"
)

func TestSandboxConfig(t *testing.T) {
	c := Defaults()
	c.DataDir = t.TempDir()
	if !c.SandboxLogs || !c.SandboxTraffic || c.SandboxAWS == "" {
		t.Fatalf("the embedded default runs the sandbox's log path and traffic: %+v", c)
	}
	env := map[string]string{"RPZFW_SANDBOX_LOGS": "false", "RPZFW_SANDBOX_AWS": "127.0.0.1:7000", "RPZFW_SANDBOX_TRAFFIC": "false", "RPZFW_SANDBOX_LOG_FLUSH": "3s"}
	if err := c.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.SandboxLogs || c.SandboxTraffic || c.SandboxAWS != "127.0.0.1:7000" || c.SandboxLogFlush != 3*time.Second {
		t.Fatalf("from the environment: %+v", c)
	}
	for _, tc := range []struct{ key, value string }{{"sandbox_logs", "maybe"}, {"sandbox_traffic", "2"}, {"sandbox_log_flush", "often"}} {
		c := Defaults()
		if err := c.Set(tc.key, tc.value); err == nil {
			t.Errorf("%s=%s accepted", tc.key, tc.value)
		}
	}
	for name, mod := range map[string]func(*Config){
		"address": func(c *Config) { c.SandboxAWS = "5381" },
		"flush":   func(c *Config) { c.SandboxLogFlush = time.Millisecond },
	} {
		c := Defaults()
		c.DataDir = t.TempDir()
		mod(&c)
		if err := c.Check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
		c.SandboxLogs = false // not used then
		if err := c.Check(); err != nil {
			t.Errorf("%s with the log path off: %v", name, err)
		}
	}
}

func TestSandboxDeviceLogs(t *testing.T) {
	const ours = "http://127.0.0.1:5381/123456789012/rpzfw-logs-sandbox"
	const moved = "http://127.0.0.1:6000/123456789012/rpzfw-logs-sandbox"
	const users = "https://sqs.eu-west-1.amazonaws.com/111122223333/mine"
	for _, tc := range []struct {
		name        string
		running     string // the local queue's URL ("": the log path is off)
		in, want    store.Device
		wantChanged bool
	}{
		{"new device", ours, store.Device{}, store.Device{LogEnabled: true, LogQueueURL: ours}, true},
		{"in place", ours, store.Device{LogEnabled: true, LogQueueURL: ours}, store.Device{LogEnabled: true, LogQueueURL: ours}, false},
		{"moved port", moved, store.Device{LogEnabled: true, LogQueueURL: ours}, store.Device{LogEnabled: true, LogQueueURL: moved}, true},
		{"back on", ours, store.Device{LogQueueURL: ours}, store.Device{LogEnabled: true, LogQueueURL: ours}, true},
		{"turned off", "", store.Device{LogEnabled: true, LogQueueURL: ours}, store.Device{LogQueueURL: ours}, true},
		{"off and new", "", store.Device{}, store.Device{}, false},
		{"the user's queue", ours, store.Device{LogEnabled: true, LogQueueURL: users}, store.Device{LogEnabled: true, LogQueueURL: users}, false},
		{"the user's queue, path off", "", store.Device{LogEnabled: true, LogQueueURL: users}, store.Device{LogEnabled: true, LogQueueURL: users}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Service{sbx: sandboxExtras{queueURL: tc.running}}
			d := tc.in
			if changed := s.sandboxDeviceLogs(&d); changed != tc.wantChanged || d.LogEnabled != tc.want.LogEnabled || d.LogQueueURL != tc.want.LogQueueURL {
				t.Fatalf("got %v %+v, want %v %+v", changed, d, tc.wantChanged, tc.want)
			}
		})
	}
}

// startSandboxService runs the service in-process with the sandbox on
// free ports over dir.
func startSandboxService(t *testing.T, dir string, mod func(*Config)) *Service {
	t.Helper()
	t.Setenv(secret.KeyEnv, "")
	cfg := Defaults()
	cfg.DataDir = dir
	cfg.Listen, cfg.SandboxAPI, cfg.SandboxDNS, cfg.SandboxAWS = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.SandboxSettle, cfg.SandboxTraffic = 50*time.Millisecond, false
	if mod != nil {
		mod(&cfg)
	}
	ctx := context.Background()
	svc, err := New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return svc
}

func stopService(t *testing.T, svc *Service) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := svc.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestSandboxStartAndRestart checks what a first start makes (the portal
// user and its password file, the sandbox device's log upload to the
// local queue) and that restarts keep the user and follow the log path
// being turned off and on, on another port.
func TestSandboxStartAndRestart(t *testing.T) {
	dir := t.TempDir()
	svc := startSandboxService(t, dir, nil)
	if svc.FirstPassword == "" || svc.SandboxAWS() == "" {
		t.Fatalf("first start: password %q, local AWS %q", svc.FirstPassword, svc.SandboxAWS())
	}
	b, err := os.ReadFile(svc.PasswordFile())
	if fi, _ := os.Stat(svc.PasswordFile()); err != nil || strings.TrimSpace(string(b)) != svc.FirstPassword || fi.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %q %v", b, err)
	}
	users, err := svc.Store().ListUsers(context.Background(), svc.Org.ID)
	if err != nil || len(users) != 1 || users[0].Name != FirstUserName || users[0].Role != store.RoleAdmin {
		t.Fatalf("users: %+v %v", users, err)
	}
	d := sandboxDev(t, svc)
	if want := svc.SandboxAWS() + "/123456789012/rpzfw-logs-sandbox"; !d.LogEnabled || d.LogQueueURL != want {
		t.Fatalf("sandbox device logs: %v %s, want %s", d.LogEnabled, d.LogQueueURL, want)
	}
	stopService(t, svc)

	svc = startSandboxService(t, dir, func(c *Config) { c.SandboxLogs = false })
	if svc.FirstPassword != "" || svc.SandboxAWS() != "" {
		t.Fatalf("second start: password %q, local AWS %q", svc.FirstPassword, svc.SandboxAWS())
	}
	if d := sandboxDev(t, svc); d.LogEnabled {
		t.Fatalf("log upload still on with the log path off: %+v", d)
	}
	stopService(t, svc)

	svc = startSandboxService(t, dir, nil)
	defer stopService(t, svc)
	if d := sandboxDev(t, svc); !d.LogEnabled || !strings.HasPrefix(d.LogQueueURL, svc.SandboxAWS()+"/") {
		t.Fatalf("log upload after the log path is back on %s: %+v", svc.SandboxAWS(), d)
	}
}

func sandboxDev(t *testing.T, svc *Service) store.Device {
	t.Helper()
	d, err := svc.Store().GetDevice(context.Background(), svc.Org.ID, sandboxDevice)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSandboxAWSPortTaken checks that a taken port for the local S3 and
// SQS fails the start with the way out, and that the stop after it ends.
func TestSandboxAWSPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Setenv(secret.KeyEnv, "")
	cfg := Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Listen, cfg.SandboxAPI, cfg.SandboxDNS, cfg.SandboxAWS = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", ln.Addr().String()
	ctx := context.Background()
	svc, err := New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	err = svc.Start(ctx)
	if err == nil || !strings.Contains(err.Error(), "--sandbox-aws") {
		t.Fatalf("start with the port taken: %v", err)
	}
	stopService(t, svc)
}

// TestSandboxLogPathInProcess runs the sandbox with its traffic and log
// path in this process (so the race detector sees them) until a hit of
// the sandbox device, attributed to a source, is stored.
func TestSandboxLogPathInProcess(t *testing.T) {
	svc := startSandboxService(t, t.TempDir(), func(c *Config) { c.SandboxTraffic, c.SandboxLogFlush = true, 200*time.Millisecond })
	defer stopService(t, svc)
	d := sandboxDev(t, svc)
	deadline := time.Now().Add(3 * time.Minute) // bounds a failure only
	for {
		now := time.Now()
		hits, err := svc.Store().SearchHits(context.Background(), store.HitQuery{LogFilter: store.LogFilter{OrgID: svc.Org.ID, From: now.Add(-time.Hour), To: now.Add(time.Minute)}, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hits {
			if h.DeviceID == d.ID && h.Source != "" && h.Entry != "" {
				return
			}
		}
		if now.After(deadline) {
			t.Fatalf("no hit of the sandbox attributed to a source: %+v", hits)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
