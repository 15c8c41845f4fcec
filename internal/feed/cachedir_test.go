package feed

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpzfw/rpzfw/internal/policy"
)

func TestCacheDir(t *testing.T) {
	state := t.TempDir()
	files := t.TempDir()
	for _, d := range []string{"a", "b"} {
		if err := os.MkdirAll(filepath.Join(files, d), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(files, d, "policy.yaml"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(files, "a"), filepath.Join(files, "link")); err != nil {
		t.Fatal(err)
	}
	src := []policy.SourceSpec{{Name: "vendor", Kind: policy.KindHTTPS}}
	pol := func(dir string) policy.Policy {
		return policy.Policy{Name: "policy", File: filepath.Join(files, dir, "policy.yaml"), Sources: src}
	}
	dirOf := func(p policy.Policy) string {
		t.Helper()
		d, err := CacheDir(state, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	a, b, link := dirOf(pol("a")), dirOf(pol("b")), dirOf(pol("link"))
	if a == b {
		t.Errorf("two policy files with one name share the cache %s", a)
	}
	if a != link {
		t.Errorf("one file through a symbolic link has another cache: %s and %s", a, link)
	}
	if !strings.HasPrefix(filepath.Base(a), "policy-") || filepath.Dir(a) != filepath.Join(state, "feeds") {
		t.Errorf("cache %s: want feeds/policy-<key>", a)
	}

	for _, tc := range []struct {
		name      string
		files     map[string]string
		wantMoved bool
	}{
		{"old cache of this policy is moved", map[string]string{"vendor.status.json": `{"name":"vendor","kind":"https","records":3}`, "vendor.good": "x"}, true},
		{"old cache with another source is kept", map[string]string{"vendor.status.json": `{"name":"vendor","kind":"https"}`, "other.status.json": `{"name":"other"}`}, false},
		{"old cache with another kind is kept", map[string]string{"vendor.status.json": `{"name":"vendor","kind":"file"}`}, false},
		{"damaged old cache is kept", map[string]string{"vendor.status.json": `{"name":`}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := t.TempDir()
			legacy := filepath.Join(state, "feeds", "policy")
			if err := os.MkdirAll(legacy, 0o700); err != nil {
				t.Fatal(err)
			}
			for name, text := range tc.files {
				if err := os.WriteFile(filepath.Join(legacy, name), []byte(text), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			d, err := CacheDir(state, pol("a"), nil)
			if err != nil {
				t.Fatal(err)
			}
			_, statErr := os.Stat(filepath.Join(d, "vendor.status.json"))
			if moved := statErr == nil; moved != tc.wantMoved {
				t.Errorf("moved %v, want %v", moved, tc.wantMoved)
			}
			if _, err := os.Stat(legacy); (err == nil) == tc.wantMoved {
				t.Errorf("the old directory exists: %v", err == nil)
			}
		})
	}

	for _, bad := range []string{"../..", "a/b", ""} {
		p := pol("a")
		p.Name = bad
		if _, err := CacheDir(state, p, nil); err == nil {
			t.Errorf("policy name %q accepted as a cache directory", bad)
		}
	}
}
