package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/report"
	"github.com/rpzfw/rpzfw/internal/store"
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
	var res LogSetupResult
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

// TestLogHealth: a device's log health says how its logs arrive (newest
// line's age, objects and lines a minute, bad lines, quarantined
// messages), and an access denied on its queue puts it in error naming
// the permission, until the queue works again.
func TestLogHealth(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.must(201, "POST", "/api/v1/policies", e.admin, blockPolicy("mine"))
	e.must(201, "POST", "/api/v1/devices", e.admin, accessKeyDevice("a", "mine"))
	var h LogHealth
	e.must(200, "GET", "/api/v1/devices/a/logs", e.viewer, nil).json(t, &h)
	if h.State != "disabled" || h.LastLogRetrieved != nil || h.NewestLogAge != nil {
		t.Fatalf("a device without log upload: %+v", h)
	}
	d := e.storedDevice(e.orgA, "a")
	d.LogEnabled, d.LogQueueURL = true, "https://sqs.us-east-1.amazonaws.com/111122223333/rpzfw-logs-a"
	if _, err := e.store.UpdateDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	e.must(200, "GET", "/api/v1/devices/a/logs", e.viewer, nil).json(t, &h)
	if h.State != "waiting" || h.SQSQueueURL != d.LogQueueURL {
		t.Fatalf("a device with log upload and nothing read: %+v", h)
	}

	e.ingestHits(d, 12, "threats") // 22 lines, newest a minute ago
	now := e.clock.Now()
	obj := store.LogObject{Queue: d.LogQueueURL, Bucket: "logs", Key: "bad-lines", ETag: "e", OrgID: d.OrgID, Lines: 5, BadLines: 3,
		Newest: now.Add(-2 * time.Minute), ProcessedAt: now, Devices: []int64{d.ID}}
	if _, err := e.store.IngestObject(ctx, obj, func(store.IngestWriter) error { return nil }); err != nil {
		t.Fatal(err)
	}
	for i, q := range []string{d.LogQueueURL, d.LogQueueURL, "https://sqs.us-east-1.amazonaws.com/111122223333/other"} {
		m := store.QuarantinedMessage{Queue: q, OrgID: d.OrgID, MessageID: "m" + strconv.Itoa(i), Body: "{}", Receives: 5, Reason: "bad gzip", At: now}
		if err := e.store.Quarantine(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	denied := store.LogQueue{URL: d.LogQueueURL, OrgID: d.OrgID, State: store.QueueError, ErrorAt: now,
		Error: "access denied (grant s3:GetObject on arn:aws:s3:::logs/*)", Permission: "s3:GetObject on arn:aws:s3:::logs/*"}
	if err := e.store.PutLogQueue(ctx, denied); err != nil {
		t.Fatal(err)
	}
	e.must(200, "GET", "/api/v1/devices/a/logs", e.viewer, nil).json(t, &h)
	if h.State != "error" || h.MissingPermission != denied.Permission || !strings.Contains(h.Error, "access denied") {
		t.Errorf("an access denied: state %q, permission %q, error %q", h.State, h.MissingPermission, h.Error)
	}
	if h.LastLogRetrieved == nil || !h.LastLogRetrieved.Equal(now) || h.NewestLogAge == nil || *h.NewestLogAge != 60 {
		t.Errorf("last retrieved %v, newest line's age %v: want %v and 60 s", h.LastLogRetrieved, h.NewestLogAge, now)
	}
	if h.ObjectsPerMinute != 2.0/60 || h.LinesPerMinute != 22.0/60 || h.BadLines != 3 || h.Quarantined != 2 {
		t.Errorf("rates: %+v", h)
	}
	var dev struct {
		Status struct {
			LastLogRetrieved *time.Time `json:"last_log_retrieved"`
		} `json:"status"`
	}
	e.must(200, "GET", "/api/v1/devices/a", e.viewer, nil).json(t, &dev)
	if dev.Status.LastLogRetrieved == nil || !dev.Status.LastLogRetrieved.Equal(now) {
		t.Errorf("device state's last_log_retrieved %v, want %v", dev.Status.LastLogRetrieved, now)
	}

	denied.State, denied.Error, denied.Permission = store.QueueOK, "", ""
	if err := e.store.PutLogQueue(ctx, denied); err != nil {
		t.Fatal(err)
	}
	h = LogHealth{} // error and missing_permission are left out when empty
	e.must(200, "GET", "/api/v1/devices/a/logs", e.viewer, nil).json(t, &h)
	if h.State != "ok" || h.MissingPermission != "" || h.Error != "" {
		t.Errorf("after access was granted: %+v", h)
	}
}

// TestEveryReportHasTheNote: every report, in JSON and CSV, says that
// answers from the resolver's cache are not logged.
func TestEveryReportHasTheNote(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/policies", e.admin, blockPolicy("mine"))
	e.must(201, "POST", "/api/v1/devices", e.admin, accessKeyDevice("a", "mine"))
	e.ingestHits(e.storedDevice(e.orgA, "a"), 3, "threats")
	if !strings.Contains(report.Note, "cache") {
		t.Fatalf("the note does not speak of the cache: %q", report.Note)
	}
	for _, path := range []string{"/api/v1/reports/summary", "/api/v1/reports/timeline", "/api/v1/reports/top?by=domain",
		"/api/v1/reports/top?by=client", "/api/v1/reports/top?by=feed", "/api/v1/reports/top?by=rule", "/api/v1/reports/hits",
		"/api/v1/devices/a/logs"} {
		var out struct {
			Note string `json:"note"`
		}
		e.must(200, "GET", path, e.viewer, nil).json(t, &out)
		if out.Note != report.Note {
			t.Errorf("%s: note %q", path, out.Note)
		}
	}
	for _, path := range []string{"/api/v1/reports/top?by=domain&format=csv", "/api/v1/reports/hits?format=csv"} {
		r := e.must(200, "GET", path, e.viewer, nil)
		if !strings.HasPrefix(string(r.body), "# "+report.Note+"\n") || r.header.Get("Rpzfw-Note") != report.Note {
			t.Errorf("%s: %q, header %q", path, strings.SplitN(string(r.body), "\n", 2)[0], r.header.Get("Rpzfw-Note"))
		}
	}
}
