package querylog

import (
	"context"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rpzfw/rpzfw/internal/report"
	"github.com/rpzfw/rpzfw/internal/store"
)

// TestRetentionByKind: the pipeline prunes each kind of log data past its
// own retention: hits go after Retention.Hits, counts of resolutions stay
// until Retention.Counts.
func TestRetentionByKind(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	d := testDevice(t, s, "o", "fw", "rslvr-frg-block", testQueue, "vpc-a")
	ages := map[string]time.Duration{"old": 40 * 24 * time.Hour, "middle": 32 * 24 * time.Hour, "new": 2 * 24 * time.Hour}
	for name, age := range ages {
		at := t0.Add(-age)
		text := logLine(at, "vpc-a", name+".bad.example.", "10.0.0.1", "rslvr-frg-block", "BLOCK", "list-1") + "\n" +
			logLine(at, "vpc-a", "clean.example.", "10.0.0.1", "", "", "") + "\n"
		ingestText(t, s, devicesOf(t, s, d), name, strings.NewReader(text))
	}
	hitsAt := func(age time.Duration) int {
		at := t0.Add(-age)
		hs, err := s.SearchHits(ctx, store.HitQuery{LogFilter: store.LogFilter{OrgID: d.OrgID, From: at.Add(-time.Hour), To: at.Add(time.Hour)}})
		if err != nil {
			t.Fatal(err)
		}
		return len(hs)
	}
	countsAt := func(age time.Duration) int64 {
		at := t0.Add(-age).Truncate(time.Minute)
		f := store.LogFilter{OrgID: d.OrgID, Devices: []int64{d.ID}, From: at, To: at.Add(time.Minute)}
		sums, err := s.SumCounts(ctx, f, []store.Span{{From: f.From, To: f.To, Width: time.Minute}})
		if err != nil {
			t.Fatal(err)
		}
		return sums[store.ActionNone] + sums[store.ActionBlock]
	}
	for name, age := range ages {
		if hitsAt(age) != 1 || countsAt(age) != 2 {
			t.Fatalf("%s before pruning: %d hits, %d resolutions", name, hitsAt(age), countsAt(age))
		}
	}
	m, err := New(Config{Store: s, Now: func() time.Time { return t0 }, PruneEvery: 20 * time.Millisecond,
		Retention: store.Retention{Hits: 30 * 24 * time.Hour, Counts: 35 * 24 * time.Hour},
		Clients:   func(context.Context, QueueSpec) (Clients, error) { return Clients{SQS: &fakeSQS{}, S3: fakeS3{}}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown(context.Background()) })
	waitUntil(t, "the old hits pruned", func() bool { return hitsAt(ages["old"]) == 0 && hitsAt(ages["middle"]) == 0 })
	waitUntil(t, "the old counts pruned", func() bool { return countsAt(ages["old"]) == 0 })
	if n := countsAt(ages["middle"]); n != 2 {
		t.Errorf("resolutions 32 days old (counts kept 35): %d, want 2", n)
	}
	if h, n := hitsAt(ages["new"]), countsAt(ages["new"]); h != 1 || n != 2 {
		t.Errorf("two days old: %d hits, %d resolutions; want 1 and 2", h, n)
	}
}

// allowedLabels are every value each label of the pipeline's metrics may
// take: none names a queue, bucket, object or device, so the number of
// series stays bounded.
var allowedLabels = map[string][]string{
	"result": {"ok", "test", "ignored", "failed", "quarantined", "retried", "duplicate", "skipped", "missing"},
	"kind":   {"read", "bad", "unattributed"},
	"action": {store.ActionBlock, store.ActionAlert},
	"op":     {"receive", "delete", "visibility", "get", "store"},
	"class":  {"access_denied", "other"},
	"since":  {"notification", "line"},
	// This test's hit has no deployment to find its source in.
	"feed": {"unknown"},
}

// TestMetricsLabelsBounded: after objects, bad lines, hits and an access
// denied, every label of every series has one of its few values.
func TestMetricsLabelsBounded(t *testing.T) {
	s := openStore(t)
	testDevice(t, s, "o", "fw", "rslvr-frg-block", testQueue, "vpc-a")
	reg := prometheus.NewRegistry()
	lines := logLine(t0, "vpc-a", "x.bad.example.", "10.0.0.1", "rslvr-frg-block", "BLOCK", "list-1") + "\n{broken\n" +
		logLine(t0, "vpc-b", "clean.example.", "10.0.0.2", "", "", "") + "\n"
	denied := true
	q := &fakeSQS{body: logObjectEvent}
	m, err := New(Config{Store: s, Registerer: reg, Refresh: 50 * time.Millisecond, Visibility: 2 * time.Second, RetryBase: time.Millisecond,
		Clients: func(context.Context, QueueSpec) (Clients, error) {
			return Clients{SQS: q, S3: fakeS3{get: func() (*s3.GetObjectOutput, error) {
				if denied {
					denied = false // one worker reads it: no race
					return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied"}
				}
				return &s3.GetObjectOutput{Body: io.NopCloser(strings.NewReader(lines))}, nil
			}}}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown(context.Background()) })
	// The denied message waits 5 minutes in SQS; the fake gives it back at
	// once.
	waitUntil(t, "the message through", func() bool { _, del, _ := q.state(); return del })
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, mt := range f.GetMetric() {
			for _, l := range mt.GetLabel() {
				if !slices.Contains(allowedLabels[l.GetName()], l.GetValue()) {
					t.Errorf("%s: label %s=%q is not one of %v", f.GetName(), l.GetName(), l.GetValue(), allowedLabels[l.GetName()])
				}
				if c := mt.GetCounter(); c != nil {
					got[f.GetName()+"{"+l.GetName()+"="+l.GetValue()+"}"] += c.GetValue()
				}
			}
		}
	}
	for series, want := range map[string]float64{
		"rpzfw_querylog_objects_total{result=ok}": 1, "rpzfw_querylog_lines_total{kind=bad}": 1,
		"rpzfw_querylog_lines_total{kind=unattributed}": 1, "rpzfw_querylog_hits_total{action=BLOCK}": 1,
		"rpzfw_querylog_feed_hits_total{feed=unknown}": 1, "rpzfw_querylog_errors_total{op=get}": 1, "rpzfw_querylog_errors_total{class=access_denied}": 1,
	} {
		if got[series] != want {
			t.Errorf("%s = %v, want %v", series, got[series], want)
		}
	}
}

// TestDeniedPutsDeviceInError: an access denied on the device's queue
// shows in its log health as an error naming the permission.
func TestDeniedPutsDeviceInError(t *testing.T) {
	for _, c := range []struct {
		name, permission string
		sqs              *fakeSQS
		s3               fakeS3
	}{
		{"receive", "sqs:ReceiveMessage on arn:aws:sqs:us-east-1:123456789012:logs",
			&fakeSQS{receiveErr: &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized"}}, fakeS3{}},
		{"get", "s3:GetObject on arn:aws:s3:::logs/*", &fakeSQS{body: logObjectEvent},
			fakeS3{get: func() (*s3.GetObjectOutput, error) {
				return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied"}
			}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := openStore(t)
			d := testDevice(t, s, "o", "fw", "rslvr-frg-block", testQueue, "vpc-a")
			startFake(t, s, c.sqs, c.s3)
			var h report.LogHealth
			waitUntil(t, "the device's logs in error", func() bool {
				var err error
				h, err = report.Health(t.Context(), s, d, time.Now())
				return err == nil && h.State == store.QueueError
			})
			if h.Permission != c.permission || !strings.Contains(h.Error, c.permission) {
				t.Errorf("log health %+v, want the permission %s named", h, c.permission)
			}
		})
	}
}

// TestOneConsumerPerQueue: devices that share a queue and credentials
// share one consumer, which attributes each line of an object to its own
// device; another queue, or the same queue with other credentials, gets
// its own, and each consumer of a queue attributes the lines of all its
// devices, whatever their credentials.
func TestOneConsumerPerQueue(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	const other = "http://127.0.0.1:1/123456789012/other"
	a := testDevice(t, s, "o", "a", "rslvr-frg-a", testQueue, "vpc-a")
	b := testDevice(t, s, "o", "b", "rslvr-frg-b", testQueue, "vpc-b")
	testDevice(t, s, "o", "c", "rslvr-frg-c", other, "vpc-c")
	role := testDevice(t, s, "o", "d", "rslvr-frg-d", testQueue, "vpc-d")
	role.CredKind, role.RoleARN = "role", "arn:aws:iam::123456789012:role/logs"
	if _, err := s.UpdateDevice(ctx, role); err != nil {
		t.Fatal(err)
	}
	lines := logLine(t0, "vpc-a", "x.bad.example.", "10.0.0.1", "rslvr-frg-a", "BLOCK", "list-1") + "\n" +
		logLine(t0, "vpc-b", "y.bad.example.", "10.0.0.2", "rslvr-frg-b", "BLOCK", "list-1") + "\n" +
		logLine(t0, "vpc-d", "z.bad.example.", "10.0.0.4", "rslvr-frg-d", "BLOCK", "list-1") + "\n"
	var mu sync.Mutex
	made := map[string]int{}
	shared := &fakeSQS{body: logObjectEvent}
	reg := prometheus.NewRegistry()
	m, err := New(Config{Store: s, Registerer: reg, Refresh: 50 * time.Millisecond, Clients: func(_ context.Context, q QueueSpec) (Clients, error) {
		mu.Lock()
		defer mu.Unlock()
		made[q.URL+" "+q.Device.RoleARN]++
		sq := &fakeSQS{}
		if q.URL == testQueue && q.Device.RoleARN == "" {
			sq = shared
		}
		return Clients{SQS: sq, S3: fakeS3{get: func() (*s3.GetObjectOutput, error) {
			return &s3.GetObjectOutput{Body: io.NopCloser(strings.NewReader(lines))}, nil
		}}}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown(context.Background()) })
	waitUntil(t, "the shared queue's message", func() bool { _, del, _ := shared.state(); return del })
	mu.Lock()
	want := map[string]int{testQueue + " ": 1, other + " ": 1, testQueue + " " + role.RoleARN: 1}
	if !maps.Equal(made, want) {
		t.Errorf("clients made %v, want %v", made, want)
	}
	mu.Unlock()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	queues := -1.0
	for _, f := range fams {
		if f.GetName() == "rpzfw_querylog_queues" {
			queues = f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	if queues != 3 {
		t.Errorf("queues gauge %v, want 3", queues)
	}
	for _, d := range []store.Device{a, b, role} {
		hs, err := s.SearchHits(ctx, store.HitQuery{LogFilter: store.LogFilter{OrgID: d.OrgID, Devices: []int64{d.ID}, From: t0.Add(-time.Hour), To: t0.Add(time.Hour)}})
		if err != nil || len(hs) != 1 {
			t.Errorf("device %s: %d hits (%v), want 1", d.Nickname, len(hs), err)
		}
	}
}

// gate lets each of its readers read once all of them have started.
type gate struct {
	r    io.Reader
	wg   *sync.WaitGroup
	once sync.Once
}

func (g *gate) Read(p []byte) (int, error) {
	g.once.Do(func() { g.wg.Done(); g.wg.Wait() })
	return g.r.Read(p)
}

// TestTwoInstancesOneObject: two instances given the same object at once
// (SQS hands a message to a second consumer when the first is slow)
// store it once.
func TestTwoInstancesOneObject(t *testing.T) {
	ctx := t.Context()
	s := openStore(t)
	d := testDevice(t, s, "o", "fw", "rslvr-frg-block", testQueue, "vpc-a")
	var text strings.Builder
	for i := range 500 {
		text.WriteString(logLine(t0.Add(time.Duration(i)*time.Second), "vpc-a", "h"+strconv.Itoa(i)+".bad.example.", "10.0.0.1", "rslvr-frg-block", "BLOCK", "list-1") + "\n")
	}
	var wg sync.WaitGroup
	wg.Add(2)
	fresh := make(chan bool, 2)
	errs := make(chan error, 2)
	for range 2 {
		in, err := NewIngester(ctx, s, testQueue, nil)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			ok, _, err := in.Ingest(ctx, ObjectRef{Bucket: "logs", Key: "AWSLogs/1/vpcdnsquerylogs/vpc-a/o.log.gz", ETag: "e1"},
				&gate{r: strings.NewReader(text.String()), wg: &wg}, 0)
			fresh <- ok
			errs <- err
		}()
	}
	stored := 0
	for range 2 {
		if <-fresh {
			stored++
		}
		if err := <-errs; err != nil {
			t.Errorf("an instance failed: %v", err)
		}
	}
	if stored != 1 {
		t.Errorf("the object was stored %d times, want once", stored)
	}
	f := store.LogFilter{OrgID: d.OrgID, Devices: []int64{d.ID}, From: t0.Add(-time.Hour), To: t0.Add(time.Hour)}
	hs, err := s.SearchHits(ctx, store.HitQuery{LogFilter: f, Limit: 1000})
	if err != nil || len(hs) != 500 {
		t.Errorf("%d hits (%v), want 500", len(hs), err)
	}
	counts, err := s.SumCounts(ctx, f, []store.Span{{From: f.From, To: f.To, Width: time.Minute}})
	if err != nil || counts[store.ActionBlock] != 500 {
		t.Errorf("counts %v (%v), want 500 blocked", counts, err)
	}
}
