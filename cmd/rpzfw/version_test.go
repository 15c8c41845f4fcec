package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestVersionSaysVersionAndCommit(t *testing.T) {
	out, stderr, code := runCLI(t, "version")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"rpzfw " + version, "commit ", "built with go"} {
		if !strings.Contains(out, want) {
			t.Errorf("version printed %q, want it to hold %q", out, want)
		}
	}
	if _, _, code := runCLI(t, "version", "extra"); code == 0 {
		t.Error("version with an argument succeeded")
	}
}

func TestHealth(t *testing.T) {
	healthy := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy {
			http.Error(w, "store unreachable", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	tests := []struct {
		name    string
		healthy bool
		url     string
		code    int
		stderr  string
	}{
		{"alive", true, srv.URL, 0, ""},
		{"unwell", false, srv.URL, 1, "503"},
		{"nobody there", true, "http://127.0.0.1:1/healthz", 1, "asking http://127.0.0.1:1/healthz"},
		{"bad url", true, "::", 2, "--url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			healthy = tc.healthy
			_, stderr, code := runCLI(t, "health", "--url", tc.url)
			if code != tc.code || !strings.Contains(stderr, tc.stderr) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.code, tc.stderr)
			}
		})
	}
}
