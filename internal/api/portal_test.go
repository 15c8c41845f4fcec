package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rpzfw/rpzfw/internal/store"
)

// TestAsUser: a portal request is served with its user's organization and
// role, and only code in the process can make one.
func TestAsUser(t *testing.T) {
	e := newEnv(t)
	serve := func(ctx context.Context, method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(ctx, method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		return rec
	}
	bg := context.Background()
	if rec := serve(bg, http.MethodGet, "/api/v1/policies", ""); rec.Code != http.StatusUnauthorized {
		t.Fatalf("no token and no user: %d, want 401", rec.Code)
	}
	viewer := AsUser(bg, store.User{OrgID: e.orgA.ID, Name: "victor", Role: store.RoleViewer})
	if rec := serve(viewer, http.MethodGet, "/api/v1/policies", ""); rec.Code != http.StatusOK {
		t.Fatalf("viewer reads: %d %s", rec.Code, rec.Body)
	}
	rec := serve(viewer, http.MethodPost, "/api/v1/policies", `{"name":"x","sources":[]}`)
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "victor") {
		t.Fatalf("viewer writes: %d %s, want 403 naming the user", rec.Code, rec.Body)
	}
	// Org B's admin sees none of org A's policies by name.
	if _, err := e.store.CreatePolicy(bg, store.Policy{OrgID: e.orgA.ID, Name: "only-a", Doc: []byte(`{"sources":[]}`)}); err != nil {
		t.Fatal(err)
	}
	adminB := AsUser(bg, store.User{OrgID: e.orgB.ID, Name: "bob", Role: store.RoleAdmin})
	if rec := serve(adminB, http.MethodGet, "/api/v1/policies/only-a", ""); rec.Code != http.StatusNotFound {
		t.Fatalf("org B reads org A's policy: %d, want 404", rec.Code)
	}
	if rec := serve(viewer, http.MethodGet, "/api/v1/policies/only-a", ""); rec.Code != http.StatusOK {
		t.Fatalf("org A reads its policy: %d %s", rec.Code, rec.Body)
	}
}
