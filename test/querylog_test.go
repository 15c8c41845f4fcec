package test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rpzfw/rpzfw/internal/querylog"
	"github.com/rpzfw/rpzfw/internal/store"
)

// hitsByName reads the device's hits of the last hour.
func (env *logEnv) hitsByName(t *testing.T) map[string][]store.Hit {
	t.Helper()
	now := time.Now()
	hits, err := env.st.SearchHits(context.Background(), store.HitQuery{LogFilter: store.LogFilter{OrgID: env.dev.OrgID,
		From: now.Add(-time.Hour), To: now.Add(time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]store.Hit{}
	for _, h := range hits {
		out[h.QueryName] = append(out[h.QueryName], h)
	}
	return out
}

// TestQueryLogsEndToEnd: the emulator's answers become query logs in
// moto's S3, the bucket's notification reaches moto's SQS, and the
// pipeline stores each hit once with its device, rule and the feed and
// line that caused it. Then the ways delivery goes wrong: a redelivered
// notification, a test event, an SNS-wrapped one, a crash between the
// commit and the delete, and a poison object.
func TestQueryLogsEndToEnd(t *testing.T) {
	env := newLogEnv(t)
	var crash atomic.Bool
	var crashed atomic.Int32
	hook := func(querylog.ObjectRef) error {
		if crash.Load() {
			crashed.Add(1)
			return errors.New("crash")
		}
		return nil
	}
	first := env.pipeline(t, hook)

	env.resolve(t, "x.bad.example", "blocked.example", "ok.bad.example", "pass.bad.example", "clean.example", "clean.example")
	waitFor(t, "the hits of the first object", func() bool { return len(env.hitsByName(t)) == 4 })
	byName := env.hitsByName(t)
	for name, want := range map[string]struct{ kind, source, entry string }{
		"x.bad.example.":    {store.KindBlock, "threats", "*.bad.example"},
		"blocked.example.":  {store.KindBlock, "block-list", "blocked.example"},
		"ok.bad.example.":   {store.KindAllowList, "allow-list", "ok.bad.example"},
		"pass.bad.example.": {store.KindPassthru, "threats", "pass.bad.example"},
	} {
		hs := byName[name]
		if len(hs) != 1 {
			t.Errorf("%s: %d hits, want 1", name, len(hs))
			continue
		}
		h := hs[0]
		if h.DeviceID != env.dev.ID || h.Kind != want.kind || h.Source != want.source || h.Entry != want.entry || h.VPCID != env.e.VPCID() {
			t.Errorf("%s: %+v, want %+v of device %d", name, h, want, env.dev.ID)
		}
	}
	if h := byName["x.bad.example."][0]; h.Line != 5 || !strings.HasSuffix(h.Rule, "-nxdomain") || h.Action != store.ActionBlock || h.SrcAddr != "127.0.0.1" {
		t.Errorf("the feed's hit: %+v", h)
	}
	counts := env.counts(t)
	if counts[store.ActionNone] != 2 || counts[store.ActionBlock] != 2 || counts[store.ActionAlert] != 2 {
		t.Errorf("resolutions by action: %v", counts)
	}
	if st, _ := env.st.GetStatus(context.Background(), env.dev.ID); st.LastLogRetrieved.IsZero() {
		t.Error("the device's last_log_retrieved is not set")
	}
	env.checkReports(t)
	if n := env.metric(t, "rpzfw_querylog_hits_total", "action", "BLOCK"); n != 2 {
		t.Errorf("hits_total{action=BLOCK} = %v, want 2", n)
	}

	outer := t
	t.Run("redelivery", func(t *testing.T) { env.redelivery(t) })
	t.Run("test event", func(t *testing.T) {
		before := env.metric(t, "rpzfw_querylog_messages_total", "result", "test")
		env.send(t, `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2030-01-01T00:00:00.000Z","Bucket":"dns-logs","RequestId":"1","HostId":"2"}`)
		waitFor(t, "the test event", func() bool { return env.metric(t, "rpzfw_querylog_messages_total", "result", "test") > before })
	})
	t.Run("SNS-wrapped event", func(t *testing.T) { env.snsWrapped(t) })
	t.Run("crash between commit and delete", func(t *testing.T) {
		crash.Store(true)
		env.resolve(t, "crash.bad.example")
		waitFor(t, "the crash after the commit", func() bool { return crashed.Load() > 0 })
		if err := first.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := len(env.hitsByName(t)["crash.bad.example."]); n != 1 {
			t.Fatalf("%d hits committed before the crash, want 1", n)
		}
		dups := env.metric(t, "rpzfw_querylog_objects_total", "result", "duplicate")
		env.pipeline(outer, nil) // a new instance, for the rest of the test
		waitFor(t, "the redelivery after the crash", func() bool {
			return env.metric(t, "rpzfw_querylog_objects_total", "result", "duplicate") > dups && env.queueEmpty(t)
		})
		if n := len(env.hitsByName(t)["crash.bad.example."]); n != 1 {
			t.Errorf("%d hits after the redelivery, want 1", n)
		}
	})
	t.Run("poison object", func(t *testing.T) { env.poison(t) })
}

func (env *logEnv) counts(t *testing.T) map[string]int64 {
	t.Helper()
	now := time.Now()
	f := store.LogFilter{OrgID: env.dev.OrgID, Devices: []int64{env.dev.ID}, From: now.Add(-time.Hour).Truncate(time.Minute), To: now.Add(time.Hour).Truncate(time.Minute)}
	c, err := env.st.SumCounts(context.Background(), f, []store.Span{{From: f.From, To: f.To, Width: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// redelivery sends the notification of every object again: nothing is
// counted twice.
func (env *logEnv) redelivery(t *testing.T) {
	before, counts := env.hitsByName(t), env.counts(t)
	dups := env.metric(t, "rpzfw_querylog_objects_total", "result", "duplicate")
	objs := env.listObjects(t)
	for key, etag := range objs {
		env.send(t, s3Event(env.bucket, key, etag))
	}
	waitFor(t, "the redeliveries", func() bool {
		return env.metric(t, "rpzfw_querylog_objects_total", "result", "duplicate") >= dups+float64(len(objs)) && env.queueEmpty(t)
	})
	after := env.hitsByName(t)
	for name, hs := range after {
		if len(hs) != len(before[name]) {
			t.Errorf("%s: %d hits after a redelivery, %d before", name, len(hs), len(before[name]))
		}
	}
	if c := env.counts(t); c[store.ActionNone] != counts[store.ActionNone] {
		t.Errorf("counts changed on a redelivery: %v, before %v", c, counts)
	}
}

// snsWrapped: an object whose notification comes wrapped by SNS, from a
// bucket that notifies no queue itself.
func (env *logEnv) snsWrapped(t *testing.T) {
	ctx := context.Background()
	bucket := "dns-logs-sns"
	if _, err := motoS3(env.moto).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	key := "via sns/" + logKey(1)
	etag := env.putObject(t, bucket, key, gzipLines(env.hitRecord(t, "sns.bad.example.", "*.bad.example")))
	env.send(t, snsWrap(s3Event(bucket, key, etag)))
	waitFor(t, "the hit of the SNS-wrapped event", func() bool { return len(env.hitsByName(t)["sns.bad.example."]) == 1 })
	if h := env.hitsByName(t)["sns.bad.example."][0]; h.Source != "threats" || h.SrcID != "" {
		t.Errorf("hit of the SNS-wrapped object: %+v", h)
	}
}

// poison: an object that cannot be read is quarantined after MaxReceives
// with its reason, shown by the API with the device's log health, and once
// fixed goes through when retried through the API.
func (env *logEnv) poison(t *testing.T) {
	ctx := context.Background()
	get, post := env.reportsAPI(t)
	good := gzipLines(env.hitRecord(t, "poison.bad.example.", "*.bad.example"))
	bad := append(append([]byte{}, good[:len(good)/2]...), 0xde, 0xad)
	env.putObject(t, env.bucket, logKey(2), bad) // notified by the bucket
	type quarantined struct {
		Messages []struct {
			ID       int64
			Reason   string
			Receives int
		}
	}
	var q quarantined
	waitFor(t, "the poison message in quarantine", func() bool {
		get("/api/v1/logs/quarantine", &q)
		return len(q.Messages) == 1 && env.queueEmpty(t)
	})
	if m := q.Messages[0]; !strings.Contains(m.Reason, logKey(2)) || m.Receives < 2 {
		t.Errorf("quarantined %+v", m)
	}
	var health struct{ Quarantined int }
	get("/api/v1/devices/fw/logs", &health)
	if health.Quarantined != 1 {
		t.Errorf("the device's log health counts %d quarantined messages, want 1", health.Quarantined)
	}
	env.putObject(t, env.bucket, logKey(2), good) // fixed (and notified again: counted once)
	var retry struct{ Retrying int }
	post("/api/v1/logs/quarantine/"+strconv.FormatInt(q.Messages[0].ID, 10)+"/retry", &retry)
	if retry.Retrying != 1 {
		t.Errorf("retrying %d messages, want 1", retry.Retrying)
	}
	waitFor(t, "the retried message", func() bool {
		left, err := env.st.ListQuarantined(ctx, env.dev.OrgID, "")
		return err == nil && len(left) == 0 && env.queueEmpty(t)
	})
	get("/api/v1/logs/quarantine", &q)
	if len(q.Messages) != 0 {
		t.Errorf("still quarantined after the retry: %+v", q.Messages)
	}
	if n := len(env.hitsByName(t)["poison.bad.example."]); n != 1 {
		t.Errorf("%d hits of the fixed object, want 1", n)
	}
}

// checkReports reads the first object's hits back through the reports
// API: device, feed and line of each, and the totals.
func (env *logEnv) checkReports(t *testing.T) {
	get, _ := env.reportsAPI(t)
	var hits struct {
		Hits []struct {
			Device, QueryName, Kind, Feed, Entry string
			Line                                 int
		} `json:"hits"`
		Note string `json:"note"`
	}
	get("/api/v1/reports/hits?device=fw&from=-1h", &hits)
	if len(hits.Hits) != 4 || !strings.Contains(hits.Note, "cache") {
		t.Fatalf("hits through the API: %+v", hits)
	}
	for _, h := range hits.Hits {
		if h.Device != "fw" || h.Feed == "" {
			t.Errorf("hit through the API: %+v", h)
		}
		if h.QueryName == "x.bad.example." && (h.Feed != "threats" || h.Line != 5 || h.Entry != "*.bad.example" || h.Kind != "block") {
			t.Errorf("the feed's hit through the API: %+v", h)
		}
	}
	var top struct {
		Rows []struct {
			Value          string
			Blocked, Total int64
		} `json:"rows"`
	}
	get("/api/v1/reports/top?by=feed&device=fw&from=-1h", &top)
	if len(top.Rows) != 3 || top.Rows[0].Value != "threats" || top.Rows[0].Total != 2 {
		t.Errorf("top feeds through the API: %+v", top)
	}
	var sum struct{ Resolutions, Blocked, Alerted int64 }
	get("/api/v1/reports/summary?device=fw&from=-1h", &sum)
	if sum.Resolutions != 6 || sum.Blocked != 2 || sum.Alerted != 2 {
		t.Errorf("summary through the API: %+v", sum)
	}
}
