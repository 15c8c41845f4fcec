package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rpzfw/rpzfw/internal/secret"
	"github.com/rpzfw/rpzfw/internal/service"
	"github.com/rpzfw/rpzfw/internal/store"
	"github.com/rpzfw/rpzfw/internal/web"
)

// chromium finds Debian's chromium. A machine without it fails the test:
// the portal is only proven in a real browser.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is missing: install it with 'apt-get install -y chromium' (.ci/run does)")
	return ""
}

// startService runs rpzfw serve in-process with the sandbox, on free
// ports and a fresh data directory.
func startService(t *testing.T) *service.Service {
	t.Helper()
	t.Setenv(secret.KeyEnv, "")
	cfg := service.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Listen, cfg.SandboxAPI, cfg.SandboxDNS, cfg.SandboxAWS = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	cfg.SandboxSettle = 200 * time.Millisecond
	ctx := context.Background()
	svc, err := service.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := svc.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return svc
}

// browser starts headless chromium with a fresh profile.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// shot saves a screenshot of the page for a person to look at.
func shot(t *testing.T, dir, name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		png, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return err
		}
		p := filepath.Join(dir, name+".png")
		t.Logf("screenshot: %s", p)
		return os.WriteFile(p, png, 0o644)
	})
}

// text reads the text of the first element sel selects.
func text(t *testing.T, b context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(b, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("reading %s: %v", sel, err)
	}
	return s
}

func TestPortalInBrowser(t *testing.T) {
	svc := startService(t)
	ctx := context.Background()
	hash, err := web.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Store().CreateUser(ctx, store.User{OrgID: svc.Org.ID, Name: "alice", Role: store.RoleAdmin, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	shots := t.ArtifactDir()
	b := browser(t)
	base := svc.URL
	row := `tr[data-device="sandbox"]`

	if err := chromedp.Do(b,
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("username")),
		shot(t, shots, "01-login"),
	); err != nil {
		t.Fatalf("opening the portal: %v", err)
	}
	if title, err := chromedp.Run(b, chromedp.Title()); err != nil || title != "Log in · rpzfw" {
		t.Errorf("login page title %q %v", title, err)
	}
	if err := chromedp.Do(b,
		chromedp.SendKeys(chromedp.ID("username"), "alice"),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery"),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.CSS(row)),
		shot(t, shots, "02-devices"),
	); err != nil {
		t.Fatalf("logging in: %v", err)
	}
	rowText := text(t, b, row)
	for _, want := range []string{"sandbox", "sample", " of "} {
		if !strings.Contains(rowText, want) {
			t.Errorf("sandbox row %q lacks %q", rowText, want)
		}
	}

	// Sync now, then watch the device reach "in sync".
	if err := chromedp.Do(b,
		chromedp.Click(chromedp.CSS(row+` button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("notice")),
	); err != nil {
		t.Fatalf("sync now: %v", err)
	}
	if notice := text(t, b, "#notice"); !strings.Contains(notice, "Sync of sandbox requested") {
		t.Errorf("notice after sync now: %q", notice)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		if err := chromedp.Do(b, chromedp.Navigate(base+"/ui/devices"), chromedp.WaitVisible(chromedp.CSS(row))); err != nil {
			t.Fatal(err)
		}
		badge := text(t, b, row+" .badge")
		if badge == "in sync" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sandbox device is %q, not in sync, after 90 s", badge)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// Filter from the keyboard, then look at phone width.
	if err := chromedp.Do(b,
		shot(t, shots, "03-devices-in-sync"),
		chromedp.Focus(chromedp.ID("filter")),
		chromedp.SendKeys(chromedp.ID("filter"), "no-such-device"),
	); err != nil {
		t.Fatalf("filter: %v", err)
	}
	if hidden, err := chromedp.Run(b, chromedp.Evaluate[bool](`document.querySelector('tr[data-device="sandbox"]').hidden`)); err != nil || !hidden {
		t.Errorf("the filter did not hide the row that does not match: %v %v", hidden, err)
	}
	if err := chromedp.Do(b,
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(base+"/ui/devices"),
		chromedp.WaitVisible(chromedp.CSS(row)),
		shot(t, shots, "04-devices-phone"),
		chromedp.EmulateViewport(1280, 900),
	); err != nil {
		t.Fatalf("phone width: %v", err)
	}

	// A forged POST from the page's own session, without the form's
	// token, is refused; so is one with no session at all.
	status, err := chromedp.Run(b, chromedp.Evaluate[int](
		`fetch("/ui/devices/sandbox/sync", {method: "POST", body: new URLSearchParams({csrf: "forged"})}).then(r => r.status)`,
		chromedp.EvalAwaitPromise))
	if err != nil || status != http.StatusForbidden {
		t.Errorf("forged POST in the session: %d %v, want 403", status, err)
	}
	resp, err := http.PostForm(base+"/ui/devices/sandbox/sync", url.Values{"csrf": {"x"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST without a session: %d, want 403", resp.StatusCode)
	}

	// Log out; the devices page then asks to log in again.
	if err := chromedp.Do(b,
		chromedp.Click(chromedp.ID("logout")),
		chromedp.WaitVisible(chromedp.ID("username")),
		shot(t, shots, "05-logged-out"),
	); err != nil {
		t.Fatalf("logout: %v", err)
	}
	if info := text(t, b, ".notice"); !strings.Contains(info, "logged out") {
		t.Errorf("after logout: notice %q", info)
	}
	if err := chromedp.Do(b, chromedp.Navigate(base+"/ui/devices"), chromedp.WaitVisible(chromedp.ID("username"))); err != nil {
		t.Fatal(err)
	}
	if loc, err := chromedp.Run(b, chromedp.Location()); err != nil || !strings.HasSuffix(loc, "/ui/login") {
		t.Errorf("devices after logout: at %q %v, want the login page", loc, err)
	}
}
