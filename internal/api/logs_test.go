package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeAWS answers the two calls a teardown with nothing to remove makes:
// no query logging configuration, no queue.
func fakeAWS(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		switch target := r.Header.Get("X-Amz-Target"); {
		case strings.HasSuffix(target, "ListResolverQueryLogConfigs"):
			w.Write([]byte(`{"ResolverQueryLogConfigs":[]}`))
		case strings.HasSuffix(target, "GetQueueUrl"):
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.WriteHeader(400)
			w.Write([]byte(`{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}`))
		default:
			t.Errorf("unexpected AWS call %s", target)
			w.WriteHeader(500)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// happyLogSetup walks logs setup (a dry run: the account is known, so
// nothing is asked of AWS) and teardown (against fakeAWS).
func happyLogSetup(t *testing.T, e *env) {
	d := e.storedDevice(e.orgA, "edge-1")
	if err := e.store.SetAccount(context.Background(), d.ID, "111122223333"); err != nil {
		t.Fatal(err)
	}
	var res logSetupResult
	e.must(200, "POST", "/api/v1/devices/edge-1/logs/setup", e.admin, map[string]any{"bucket": "dns-logs", "dry_run": true}).json(t, &res)
	if !res.DryRun || len(res.Steps) != 3 || res.Steps[0].Done || !strings.Contains(res.Steps[0].Do, "rpzfw-logs-edge-1") {
		t.Fatalf("setup dry run: %+v", res)
	}
	t.Setenv("AWS_ENDPOINT_URL", fakeAWS(t))
	e.must(200, "POST", "/api/v1/devices/edge-1/logs/teardown?dry_run=true", e.admin, nil).json(t, &res)
	if !res.DryRun || len(res.Steps) != 0 {
		t.Fatalf("teardown of nothing: %+v", res)
	}
	if got := e.storedDevice(e.orgA, "edge-1"); got.LogEnabled {
		t.Fatal("a dry run turned log upload on")
	}
}

func TestLogSetupRefuses(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/policies", e.admin, blockPolicy("mine"))
	e.must(201, "POST", "/api/v1/devices", e.admin, accessKeyDevice("a", "mine"))
	e.wantError(422, CodeInvalid, "bucket", "POST", "/api/v1/devices/a/logs/setup", e.admin, map[string]any{"dry_run": true})
	e.wantError(400, CodeUnknownField, "bukket", "POST", "/api/v1/devices/a/logs/setup", e.admin, map[string]any{"bukket": "x"})
	e.wantError(409, CodeConflict, "query_logging", "POST", "/api/v1/devices/a/logs/setup", e.admin, map[string]any{"bucket": "x", "query_logging": true, "dry_run": true})
	e.wantError(403, CodeForbidden, "", "POST", "/api/v1/devices/a/logs/setup", e.viewer, map[string]any{"bucket": "x"})
	e.wantError(404, CodeNotFound, "", "POST", "/api/v1/devices/nobody/logs/teardown", e.admin, nil)
	e.wantError(400, CodeBadRequest, "dry_run", "POST", "/api/v1/devices/a/logs/teardown?dry_run=maybe", e.admin, nil)
}
