package test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rpzfw/rpzfw/internal/api"
	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/emulator"
	"github.com/rpzfw/rpzfw/internal/fwsync"
	"github.com/rpzfw/rpzfw/internal/policy"
	"github.com/rpzfw/rpzfw/internal/querylog"
	"github.com/rpzfw/rpzfw/internal/secret"
	"github.com/rpzfw/rpzfw/internal/store"
	"github.com/rpzfw/rpzfw/internal/store/sqlstore"
)

// logFeed is the feed of the log tests' policy.
const logFeed = `$ORIGIN threats.test.
$TTL 300
@ SOA ns.threats.test. admin.threats.test. 1 3600 600 86400 300
@ NS ns.threats.test.
*.bad.example CNAME .
pass.bad.example CNAME rpz-passthru.
`

// logEnv is the whole log path on real servers: moto's S3 and SQS with a
// bucket that notifies a queue, the emulator writing its query logs to
// that bucket, a store with a device synced to the emulator's rule group,
// and the log pipeline reading the queue.
type logEnv struct {
	*syncEnv
	moto, queue, bucket string
	st                  *sqlstore.DB
	dev                 store.Device
	plan                *compile.Plan
	reg                 *prometheus.Registry
}

func newLogEnv(t *testing.T) *logEnv {
	t.Helper()
	ctx := context.Background()
	moto := startMoto(t)
	env := &logEnv{moto: moto, bucket: "dns-logs", reg: prometheus.NewRegistry()}
	env.queue = logBucket(t, moto, env.bucket)
	objects, err := emulator.NewS3Store(ctx, moto, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	env.syncEnv = newSyncEnv(t, emulator.Config{Objects: objects})
	lctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	if err := env.e.EnableQueryLogs(lctx, emulator.LogConfig{Bucket: env.bucket, Flush: time.Hour}); err != nil {
		t.Fatal(err)
	}
	env.st, err = sqlstore.Open(ctx, filepath.Join(t.TempDir(), "rpzfw.db"), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.st.Close() })
	env.dev = env.device(t, "fw", env.group, env.queue)
	env.sync(t)
	return env
}

// device stores a device with log upload on queue, associated with the
// emulator's VPC.
func (env *logEnv) device(t *testing.T, nick, group, queue string) store.Device {
	t.Helper()
	ctx := context.Background()
	org, err := env.st.OrgByName(ctx, "default")
	if err != nil {
		if org, err = env.st.CreateOrg(ctx, "default"); err != nil {
			t.Fatal(err)
		}
		if _, err := env.st.CreatePolicy(ctx, store.Policy{OrgID: org.ID, Name: "threats", Doc: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	d, err := env.st.CreateDevice(ctx, store.Device{OrgID: org.ID, Nickname: nick, Provider: "aws-dns-firewall", Policy: "threats",
		Region: "us-east-1", RuleGroupID: group, LogEnabled: true, LogQueueURL: queue})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.st.PutStatus(ctx, store.Status{DeviceID: d.ID, State: store.StatePending, VPCs: []string{env.e.VPCID()}}); err != nil {
		t.Fatal(err)
	}
	return d
}

// sync deploys the test policy to the device's rule group with its state
// in the store, and records the deployment as the scheduler does.
func (env *logEnv) sync(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	feed := filepath.Join(dir, "threats.rpz")
	if err := os.WriteFile(feed, []byte(logFeed), 0o600); err != nil {
		t.Fatal(err)
	}
	src, _ := policy.ParseZoneArg(feed)
	src.Name = "threats"
	pol := policy.Policy{Allow: policy.ListSpec{Domains: []string{"ok.bad.example"}}, Block: policy.ListSpec{Domains: []string{"blocked.example"}},
		Sources: []policy.SourceSpec{src}}
	ss := env.st.SyncState(env.dev.ID)
	s, err := fwsync.New(env.c, ss, nil, nil, fwsync.Config{RuleGroupID: env.group, Device: env.dev.Nickname, RateLimit: -1,
		PollInitial: 2 * time.Millisecond, PollMax: 20 * time.Millisecond, Progress: quietProgress{}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Sync(ctx, func(max int) (*compile.Plan, error) {
		b := compile.NewBuilder()
		if err := pol.Load(ctx, b, nil); err != nil {
			return nil, err
		}
		return b.Compile(compile.Settings{MaxDomains: max})
	}, 100000)
	if err != nil {
		t.Fatal(err)
	}
	env.plan = res.Compile
	if err := querylog.RecordSync(ctx, env.st, env.dev.ID, time.Now(), "test-plan", res.Compile, ss); err != nil {
		t.Fatal(err)
	}
}

// pipeline starts the log pipeline on the store.
func (env *logEnv) pipeline(t *testing.T, hook func(querylog.ObjectRef) error) *querylog.Manager {
	t.Helper()
	m, err := querylog.New(querylog.Config{Store: env.st, Log: quietLog(), Registerer: env.reg, Instance: "test",
		Refresh: 200 * time.Millisecond, Wait: 2 * time.Second, Visibility: 2 * time.Second, MaxReceives: 2, RetryBase: time.Second,
		AfterIngest: hook})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown(context.Background()) })
	return m
}

// resolve asks the emulator's DNS for each name, then writes the logs.
func (env *logEnv) resolve(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		query(t, env.dp.Addr(), "udp", n, dns.TypeA)
	}
	env.e.FlushLogs(context.Background())
}

// metric reads a counter of the pipeline by its label value.
func (env *logEnv) metric(t *testing.T, name, label, value string) float64 {
	t.Helper()
	fams, err := env.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// waitFor polls cond for up to 30 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// queueEmpty says the queue holds no message, visible or in flight.
func (env *logEnv) queueEmpty(t *testing.T) bool {
	t.Helper()
	out, err := motoSQS(env.moto).GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: &env.queue,
		AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Attributes["ApproximateNumberOfMessages"] == "0" && out.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
}

// send puts a message on the queue as S3 or SNS would.
func (env *logEnv) send(t *testing.T, body string) {
	t.Helper()
	if _, err := motoSQS(env.moto).SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &env.queue, MessageBody: &body}); err != nil {
		t.Fatal(err)
	}
}

// s3Event is the S3 notification of an object, key form-encoded.
func s3Event(bucket, key, etag string) string {
	b, _ := json.Marshal(map[string]any{"Records": []any{map[string]any{
		"eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "eventTime": time.Now().UTC().Format(time.RFC3339),
		"s3": map[string]any{"bucket": map[string]any{"name": bucket}, "object": map[string]any{"key": strings.ReplaceAll(key, " ", "+"), "eTag": etag, "size": 1}},
	}}})
	return string(b)
}

func snsWrap(inner string) string {
	b, _ := json.Marshal(map[string]string{"Type": "Notification", "MessageId": "1", "TopicArn": "arn:aws:sns:us-east-1:123456789012:logs", "Message": inner})
	return string(b)
}

// putObject writes an object to moto's S3 and returns its ETag.
func (env *logEnv) putObject(t *testing.T, bucket, key string, body []byte) string {
	t.Helper()
	out, err := motoS3(env.moto).PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Trim(aws.ToString(out.ETag), `"`)
}

// gzipLines is a query log object of records.
func gzipLines(recs ...emulator.LogRecord) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	enc := json.NewEncoder(zw)
	for _, r := range recs {
		enc.Encode(r)
	}
	zw.Close()
	return b.Bytes()
}

// hitRecord is a BLOCK log line of the device's list holding entry.
func (env *logEnv) hitRecord(t *testing.T, name, entry string) emulator.LogRecord {
	t.Helper()
	ctx := context.Background()
	st, err := env.st.SyncState(env.dev.ID).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for id := range st.Lists {
		doms, _ := env.st.SyncState(env.dev.ID).LoadDomains(ctx, id)
		for _, d := range doms {
			if d == entry {
				return emulator.LogRecord{Version: "1.100000", AccountID: "123456789012", Region: "us-east-1", VpcID: env.e.VPCID(),
					QueryTimestamp: time.Now().UTC().Format(time.RFC3339), QueryName: name, QueryType: "A", QueryClass: "IN", Rcode: "NXDOMAIN",
					Answers: []emulator.LogAnswer{}, SrcAddr: "10.0.0.9", SrcPort: "1234", Transport: "UDP", SrcIDs: map[string]string{},
					FirewallRuleGroupID: env.group, FirewallRuleAction: "BLOCK", FirewallDomainListID: id}
			}
		}
	}
	t.Fatalf("no list holds %s", entry)
	return emulator.LogRecord{}
}

func logKey(n int) string {
	return fmt.Sprintf("AWSLogs/123456789012/vpcdnsquerylogs/vpc-emulated/2030/01/01/vpc-emulated_vpcdnsquerylogs_123456789012_20300101T0000Z_%08x.log.gz", n)
}

// listObjects lists the log bucket's objects with their ETags.
func (env *logEnv) listObjects(t *testing.T) map[string]string {
	t.Helper()
	out, err := motoS3(env.moto).ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &env.bucket})
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]string{}
	for _, o := range out.Contents {
		objs[aws.ToString(o.Key)] = strings.Trim(aws.ToString(o.ETag), `"`)
	}
	return objs
}

// nopActions is an api.Actions for a store without a scheduler.
type nopActions struct{}

func (nopActions) Changed()                                    {}
func (nopActions) SyncNow(context.Context, store.Device) error { return nil }
func (nopActions) Preflight(context.Context, store.Device) (*device.PreflightReport, error) {
	return nil, errors.New("no preflight here")
}
func (nopActions) RemoveDevice(context.Context, store.Device, bool) error { return nil }

// reportsAPI serves the JSON API on the log test's store; it returns
// functions that GET a path with a viewer's token, and POST to one with an
// administrator's, into v.
func (env *logEnv) reportsAPI(t *testing.T) (get, post func(path string, v any)) {
	t.Helper()
	keys, err := secret.New(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Config{Store: env.st, Keyring: keys, Actions: nopActions{}, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	token := func(role string) string {
		plain, hash, err := api.NewToken()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := env.st.CreateToken(context.Background(), store.Token{OrgID: env.dev.OrgID, Name: role, Role: role, Hash: hash}); err != nil {
			t.Fatal(err)
		}
		return plain
	}
	viewer, admin := token(store.RoleViewer), token(store.RoleAdmin)
	call := func(method, token string, want int) func(path string, v any) {
		return func(path string, v any) {
			t.Helper()
			req, _ := http.NewRequest(method, hs.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			res, err := hs.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != want {
				b, _ := io.ReadAll(res.Body)
				t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
			}
			if err := json.NewDecoder(res.Body).Decode(v); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
		}
	}
	return call("GET", viewer, http.StatusOK), call("POST", admin, http.StatusAccepted)
}

// logRecordAt is a log line of a resolution no rule matched.
func logRecordAt(at time.Time, vpc, name string) emulator.LogRecord {
	return emulator.LogRecord{Version: "1.100000", AccountID: "123456789012", Region: "us-east-1", VpcID: vpc,
		QueryTimestamp: at.UTC().Format(time.RFC3339), QueryName: name, QueryType: "A", QueryClass: "IN", Rcode: "NOERROR",
		Answers: []emulator.LogAnswer{}, SrcAddr: "10.0.0.1", SrcPort: "53", Transport: "UDP", SrcIDs: map[string]string{}}
}
