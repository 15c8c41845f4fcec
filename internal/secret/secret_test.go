package secret

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func keyring(t *testing.T) *Keyring {
	t.Helper()
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	k, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k, other := keyring(t), keyring(t)
	sealed, err := k.Seal([]byte("wJalrXUtnFEMI"), "p")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("wJalrXUtnFEMI")) {
		t.Fatal("sealed value holds the plaintext")
	}
	if pt, err := k.Open(sealed, "p"); err != nil || string(pt) != "wJalrXUtnFEMI" {
		t.Fatalf("open: %q %v", pt, err)
	}
	if _, err := k.Open(sealed, "q"); err == nil {
		t.Fatal("opened under another purpose")
	}
	if _, err := other.Open(sealed, "p"); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("other key: %v", err)
	}
	damaged := bytes.Clone(sealed)
	damaged[len(damaged)-1] ^= 1
	if _, err := k.Open(damaged, "p"); err == nil {
		t.Fatal("opened a damaged value")
	}
	if _, err := k.Open([]byte("v1"), "p"); err == nil {
		t.Fatal("opened a short value")
	}
	re, err := other.Reseal(k, sealed, "p")
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := other.Open(re, "p"); err != nil || string(pt) != "wJalrXUtnFEMI" {
		t.Fatalf("resealed: %q %v", pt, err)
	}
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "master.key")
	none := func(string) string { return "" }
	k1, created, err := LoadKey(none, path)
	if err != nil || !created {
		t.Fatalf("first: %v created=%v", err, created)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi.Mode(), err)
	}
	k2, created, err := LoadKey(none, path)
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("second load: %v created=%v", err, created)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadKey(none, path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable key file: %v", err)
	}
	env := func(k string) string {
		if k == KeyEnv {
			return EncodeKey(k1)
		}
		return ""
	}
	if k3, _, err := LoadKey(env, filepath.Join(dir, "unused")); err != nil || !bytes.Equal(k3, k1) {
		t.Fatalf("from env: %v", err)
	}
	bad := func(string) string { return "c2hvcnQ=" }
	if _, _, err := LoadKey(bad, path); err == nil || !strings.Contains(err.Error(), KeyEnv) {
		t.Fatalf("bad env key: %v", err)
	}
}

func TestStringNeverShows(t *testing.T) {
	s := String("hunter2")
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("x", "secret", s)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "secret", s)
	j, _ := json.Marshal(struct{ S String }{s})
	out := buf.String() + fmt.Sprintf("%v %s %+v %#v", s, s, s, s) + string(j)
	if strings.Contains(out, "hunter2") {
		t.Fatalf("secret shown: %s", out)
	}
	if s.Reveal() != "hunter2" {
		t.Fatal("reveal")
	}
}
