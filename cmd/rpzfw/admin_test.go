package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpzfw/rpzfw/internal/api"
	"github.com/rpzfw/rpzfw/internal/policydoc"
	"github.com/rpzfw/rpzfw/internal/secret"
	"github.com/rpzfw/rpzfw/internal/service"
	"github.com/rpzfw/rpzfw/internal/store"
)

// adminFixture makes a data directory with an organization, a device with a
// sealed secret key and a policy with a sealed TSIG secret.
func adminFixture(t *testing.T) (dir string, dev store.Device, pol store.Policy) {
	t.Helper()
	t.Setenv(secret.KeyEnv, "")
	dir = t.TempDir()
	ctx := context.Background()
	cfg := service.Defaults()
	cfg.DataDir = dir
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	st, keys, err := service.OpenStore(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	org, err := service.CreateOrg(ctx, st, cfg, "default")
	if err != nil {
		t.Fatal(err)
	}
	checked, err := policydoc.Check("vendor", []byte(`{"sources":[{"name":"v","kind":"zone-transfer","zone":"rpz.test","primaries":["127.0.0.1"],"tsig":{"name":"k","secret":"c2VjcmV0"}}]}`), policydoc.Secrets{}, policydoc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sealedPol, err := policydoc.Seal(keys, checked.Secrets)
	if err != nil {
		t.Fatal(err)
	}
	if pol, err = st.CreatePolicy(ctx, store.Policy{OrgID: org.ID, Name: "vendor", Doc: checked.Doc, Secrets: sealedPol}); err != nil {
		t.Fatal(err)
	}
	sealedKey, err := keys.Seal([]byte("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), store.PurposeDeviceSecret)
	if err != nil {
		t.Fatal(err)
	}
	dev, err = st.CreateDevice(ctx, store.Device{OrgID: org.ID, Nickname: "edge", Provider: "aws-dns-firewall", Policy: "vendor", Region: "eu-west-1",
		RuleGroupID: "rslvr-frg-0123456789abcdef0", PriorityBand: "1000-9000", CredKind: store.CredAccessKey, AccessKeyID: "AKIAIOSFODNN7EXAMPLE",
		SecretKey: sealedKey, MaxPolicySize: 100000})
	if err != nil {
		t.Fatal(err)
	}
	return dir, dev, pol
}

func openFixture(t *testing.T, dir string) (store.Store, *secret.Keyring) {
	t.Helper()
	cfg := service.Defaults()
	cfg.DataDir = dir
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	st, keys, err := service.OpenStore(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, keys
}

func TestAdminTokenAndOrg(t *testing.T) {
	dir, _, _ := adminFixture(t)
	out, stderr, code := runCLI(t, "admin", "token", "create", "--data-dir", dir, "--name", "ci", "--role", "viewer")
	if code != 0 || !strings.HasPrefix(out, api.TokenPrefix) {
		t.Fatalf("token create: %d %q %s", code, out, stderr)
	}
	st, _ := openFixture(t, dir)
	tok, err := st.TokenByHash(context.Background(), api.HashToken(strings.TrimSpace(out)))
	if err != nil || tok.Role != store.RoleViewer || tok.Name != "ci" {
		t.Fatalf("stored token: %+v %v", tok, err)
	}
	for _, args := range [][]string{
		{"admin", "token", "create", "--data-dir", dir, "--name", "x", "--role", "root"},
		{"admin", "token", "create", "--data-dir", dir},
		{"admin", "frobnicate"},
		{"admin", "org", "create", "--data-dir", dir, "bad name"},
	} {
		if _, stderr, code := runCLI(t, args...); code == 0 || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
	if _, stderr, code := runCLI(t, "admin", "token", "create", "--data-dir", dir, "--name", "x", "--org", "nope"); code != 1 || !strings.Contains(stderr, "no organization") {
		t.Fatalf("unknown org: %d %s", code, stderr)
	}
	if out, stderr, code := runCLI(t, "admin", "org", "create", "--data-dir", dir, "acme"); code != 0 || !strings.Contains(out, "acme") {
		t.Fatalf("org create: %d %s %s", code, out, stderr)
	}
	org, err := st.OrgByName(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	pols, err := st.ListPolicies(context.Background(), org.ID)
	if err != nil || len(pols) < 4 {
		t.Fatalf("acme's pre-defined policies: %d %v", len(pols), err)
	}
}

func TestAdminRotateKey(t *testing.T) {
	dir, dev, pol := adminFixture(t)
	keyFile := filepath.Join(dir, "master.key")
	before, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	oldKey, _ := secret.DecodeKey(string(before))
	oldKeys, _ := secret.New(oldKey)
	out, stderr, code := runCLI(t, "admin", "rotate-key", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "Re-encrypted 2 secrets") {
		t.Fatalf("rotate-key: %d %q %s", code, out, stderr)
	}
	after, _ := os.ReadFile(keyFile)
	if bytes.Equal(before, after) {
		t.Fatal("the key file did not change")
	}
	if _, err := os.Stat(keyFile + ".new"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the pending key file was left behind: %v", err)
	}
	st, keys := openFixture(t, dir)
	ctx := context.Background()
	d, err := st.DeviceByID(ctx, dev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := keys.Open(d.SecretKey, store.PurposeDeviceSecret); err != nil || string(pt) != "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" {
		t.Fatalf("device secret under the new key: %q %v", pt, err)
	}
	if _, err := oldKeys.Open(d.SecretKey, store.PurposeDeviceSecret); !errors.Is(err, secret.ErrWrongKey) {
		t.Fatalf("the old key still opens the secret: %v", err)
	}
	p, err := st.GetPolicy(ctx, pol.OrgID, pol.Name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := policydoc.Open(keys, p.Secrets)
	if err != nil || s.TSIG["v"] != "c2VjcmV0" {
		t.Fatalf("policy secrets under the new key: %+v %v", s, err)
	}
}

func TestAdminUserCreate(t *testing.T) {
	dir, _, _ := adminFixture(t)
	old := adminStdin
	t.Cleanup(func() { adminStdin = old })
	adminStdin = strings.NewReader("correct horse battery\n")
	out, stderr, code := runCLI(t, "admin", "user", "create", "--data-dir", dir, "--name", "alice", "--role", "viewer")
	if code != 0 || !strings.Contains(out, `"alice"`) {
		t.Fatalf("user create: %d %q %s", code, out, stderr)
	}
	st, _ := openFixture(t, dir)
	u, err := st.UserByName(context.Background(), "alice")
	if err != nil || u.Role != store.RoleViewer || !strings.HasPrefix(u.PasswordHash, "$2") || strings.Contains(u.PasswordHash, "horse") {
		t.Fatalf("stored user: %+v %v", u, err)
	}
	for _, c := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"correct horse battery\n", []string{"--name", "alice", "--role", "admin"}, "exists"},
		{"short\n", []string{"--name", "bob", "--role", "admin"}, "password"},
		{"", []string{"--name", "bob", "--role", "admin"}, "password"},
		{"correct horse battery\n", []string{"--name", "bob", "--role", "root"}, "--role"},
		{"correct horse battery\n", []string{"--name", "bad name", "--role", "admin"}, "--name"},
		{"correct horse battery\n", []string{"--role", "admin"}, "--name"},
		{"correct horse battery\n", []string{"--name", "bob", "--role", "admin", "--org", "nope"}, "no organization"},
	} {
		adminStdin = strings.NewReader(c.stdin)
		args := append([]string{"admin", "user", "create", "--data-dir", dir}, c.args...)
		if _, stderr, code := runCLI(t, args...); code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
	}
}
