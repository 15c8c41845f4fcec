package feed

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rpzfw/rpzfw/internal/policy"
	"github.com/rpzfw/rpzfw/internal/secret"
)

// headerRecorder serves a small zone and remembers the headers it saw.
type headerRecorder struct {
	mu   sync.Mutex
	seen []http.Header
}

func (h *headerRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.seen = append(h.seen, r.Header.Clone())
	h.mu.Unlock()
	w.Write([]byte(zoneOf(3, "r")))
}

func (h *headerRecorder) requests() []http.Header {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]http.Header(nil), h.seen...)
}

func TestHTTPSRedirects(t *testing.T) {
	secrets := map[string]secret.String{"Authorization": "Bearer s3cret", "X-Api-Key": "k3y"}
	for _, tc := range []struct {
		name string
		// to builds the redirect target from the origin server's URL and
		// the other servers' URLs.
		to          func(origin, otherTLS, plain string) string
		wantErr     string
		wantHeaders bool // the target saw the configured headers
		target      string
	}{
		{name: "same host keeps headers", to: func(o, _, _ string) string { return o + "/moved" }, wantHeaders: true, target: "origin"},
		{name: "another https host gets no headers", to: func(_, other, _ string) string { return other + "/feed" }, target: "other"},
		{name: "http is refused", to: func(_, _, plain string) string { return plain + "/feed" }, wantErr: "leaves https", target: "plain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			originRec, otherRec, plainRec := &headerRecorder{}, &headerRecorder{}, &headerRecorder{}
			other := httptest.NewTLSServer(otherRec)
			defer other.Close()
			plain := httptest.NewServer(plainRec)
			defer plain.Close()
			var originURL string
			origin := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/moved" {
					originRec.ServeHTTP(w, r)
					return
				}
				http.Redirect(w, r, tc.to(originURL, other.URL, plain.URL), http.StatusFound)
			}))
			defer origin.Close()
			originURL = origin.URL
			m := newHTTPSManager(t, origin, func(s *policy.SourceSpec) { s.Headers = secrets })

			_, err := m.Refresh(context.Background(), "feed")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one that says %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if n := len(plainRec.requests()); n != 0 {
				t.Errorf("the plain http server got %d requests", n)
			}
			rec := map[string]*headerRecorder{"origin": originRec, "other": otherRec, "plain": plainRec}[tc.target]
			for _, h := range rec.requests() {
				for k, v := range secrets {
					if got := h.Get(k) == v.Reveal(); got != tc.wantHeaders {
						t.Errorf("header %s sent to the %s server: %v, want %v", k, tc.target, got, tc.wantHeaders)
					}
				}
			}
		})
	}
}
