package service

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "rpzfw.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:9000\nreconcile: 30m\nrate: 2\nfile_roots: [/srv/zones]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Defaults()
	if err := c.LoadFile(file); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"RPZFW_RECONCILE": "20m", "RPZFW_DATA_DIR": dir}
	if err := c.LoadEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if err := c.Set("rate", "3"); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9000" || c.Reconcile != 20*time.Minute || c.Rate != 3 || c.DataDir != dir ||
		c.Database != filepath.Join(dir, "rpzfw.db") || c.MasterKeyFile != filepath.Join(dir, "master.key") || c.FileRoots[0] != "/srv/zones" {
		t.Fatalf("config: %+v", c)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("lisen: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := Defaults()
	if err := c.LoadFile(bad); err == nil || !strings.Contains(err.Error(), "lisen") {
		t.Fatalf("unknown key: %v", err)
	}
	for _, tc := range []struct{ key, value string }{
		{"reconcile", "soon"}, {"poll", "-1s"}, {"sandbox", "maybe"}, {"rate", "fast"}, {"colour", "red"},
	} {
		c := Defaults()
		if err := c.Set(tc.key, tc.value); err == nil {
			t.Errorf("%s=%s accepted", tc.key, tc.value)
		}
	}
	for name, mod := range map[string]func(*Config){
		"listen":     func(c *Config) { c.Listen = "8080" },
		"rate":       func(c *Config) { c.Rate = 0 },
		"reconcile":  func(c *Config) { c.Reconcile = time.Second },
		"lease":      func(c *Config) { c.LeaseTTL = c.Poll },
		"file roots": func(c *Config) { c.FileRoots = []string{"relative"} },
	} {
		c := Defaults()
		c.DataDir = dir
		mod(&c)
		if err := c.Check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestConfigLogRedactsThePassword(t *testing.T) {
	c := Defaults()
	c.Database = "postgres://rpzfw:hunter2@db.example/rpzfw"
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "config", c)
	if strings.Contains(buf.String(), "hunter2") || !strings.Contains(buf.String(), "db.example") {
		t.Fatalf("logged: %s", buf.String())
	}
}
