package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rpzfw/rpzfw/internal/api"
	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/querylog"
	"github.com/rpzfw/rpzfw/internal/secret"
	"github.com/rpzfw/rpzfw/internal/store"
	"github.com/rpzfw/rpzfw/internal/store/sqlstore"
)

// latencyBench measures, on moto's S3 and SQS, the time from putting a
// log object to its hit in the reports API, with the pipeline at its
// defaults (20 s long poll), against the time the same notification takes
// to reach a bare SQS long poll of a second bucket and queue.
func latencyBench(ctx context.Context, samples int) error {
	moto, stop, err := startMoto()
	if err != nil {
		return err
	}
	defer stop()
	s3c, sqsc := motoClients(moto)
	ours, err := notifiedBucket(ctx, s3c, sqsc, "logs-rpzfw")
	if err != nil {
		return err
	}
	bare, err := notifiedBucket(ctx, s3c, sqsc, "logs-bare")
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "logbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := sqlstore.Open(ctx, filepath.Join(dir, "rpzfw.db"), nil)
	if err != nil {
		return err
	}
	defer st.Close()
	w, err := setupWorld(ctx, st, ours)
	if err != nil {
		return err
	}
	m, err := querylog.New(querylog.Config{Store: st})
	if err != nil {
		return err
	}
	if err := m.Start(ctx); err != nil {
		return err
	}
	defer m.Shutdown(context.Background())
	get, err := reportsClient(ctx, st, w.org)
	if err != nil {
		return err
	}
	lat, base, err := sample(ctx, s3c, get, bareReader(ctx, sqsc, bare), samples)
	if err != nil {
		return err
	}
	fmt.Printf("%d objects (1,000 lines each), pipeline at its defaults (20 s long poll), SQLite store; hits read through the reports API every 25 ms.\n\n", samples)
	fmt.Println("| from S3 PutObject to | median | p90 | max |")
	fmt.Println("|---|---|---|---|")
	for _, r := range []struct {
		name string
		d    []time.Duration
	}{{"the notification in a bare SQS long poll (baseline)", base}, {"the hit in GET /api/v1/reports/hits", lat}} {
		fmt.Printf("| %s | %.2f s | %.2f s | %.2f s |\n", r.name, median(r.d).Seconds(), pct(r.d, 0.9).Seconds(), pct(r.d, 1).Seconds())
	}
	fmt.Println()
	return nil
}

// sample puts samples objects, each in both buckets, and measures the time
// to the hit in the API and to the bare reader's notification.
func sample(ctx context.Context, s3c *s3.Client, get func(string, any) error, arrived func(string) time.Time, samples int) (lat, base []time.Duration, err error) {
	g := newLineGen(3, 0.03, planLines)
	for i := range samples {
		name := fmt.Sprintf("latency%d.bad1.example.", i)
		body := sampleObject(g, name)
		key := fmt.Sprintf("AWSLogs/111122223333/vpcdnsquerylogs/vpc-a/x_vpcdnsquerylogs_111122223333_%04d.log.gz", i)
		t0 := time.Now()
		for _, b := range []string{"logs-bare", "logs-rpzfw"} {
			if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(key), Body: bytes.NewReader(body)}); err != nil {
				return nil, nil, err
			}
		}
		d, err := untilHit(get, name, t0)
		if err != nil {
			return nil, nil, err
		}
		lat = append(lat, d)
		base = append(base, arrived(key).Sub(t0))
		time.Sleep(time.Second)
	}
	return lat, base, nil
}

// sampleObject is a gzipped object of 1,000 lines and one hit on name.
func sampleObject(g *lineGen, name string) []byte {
	var raw []byte
	now := time.Now()
	for range 1000 {
		raw = g.line(raw, now)
	}
	hit := string(g.line(nil, now))
	for !strings.Contains(hit, `"BLOCK"`) || !strings.Contains(hit, `"vpc-a"`) {
		hit = string(g.line(nil, now))
	}
	i := strings.Index(hit, `"query_name":"`) + len(`"query_name":"`)
	j := strings.Index(hit[i:], `"`)
	raw = append(raw, hit[:i]+name+hit[i+j:]...)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(raw)
	zw.Close()
	return z.Bytes()
}

// untilHit polls the reports API until name's hit shows.
func untilHit(get func(string, any) error, name string, t0 time.Time) (time.Duration, error) {
	for time.Since(t0) < 2*time.Minute {
		var out struct{ Hits []struct{} }
		if err := get("/api/v1/reports/hits?from=-1h&name="+name, &out); err != nil {
			return 0, err
		}
		if len(out.Hits) > 0 {
			return time.Since(t0), nil
		}
		time.Sleep(25 * time.Millisecond)
	}
	return 0, fmt.Errorf("the hit on %s did not show within 2 minutes", name)
}

// bareReader long-polls queue and notes when each object's notification
// arrives.
func bareReader(ctx context.Context, c *sqs.Client, queue string) func(key string) time.Time {
	var mu sync.Mutex
	seen := map[string]time.Time{}
	go func() {
		for ctx.Err() == nil {
			out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &queue, WaitTimeSeconds: 20, MaxNumberOfMessages: 10})
			if err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			now := time.Now()
			for _, msg := range out.Messages {
				ev, err := querylog.ParseEvent([]byte(aws.ToString(msg.Body)))
				for _, o := range ev.Objects {
					if err == nil {
						mu.Lock()
						seen[o.Key] = now
						mu.Unlock()
					}
				}
				c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &queue, ReceiptHandle: msg.ReceiptHandle})
			}
		}
	}()
	return func(key string) time.Time {
		for {
			mu.Lock()
			t, ok := seen[key]
			mu.Unlock()
			if ok {
				return t
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// reportsClient serves the API on st and returns a GET with a viewer
// token of org.
func reportsClient(ctx context.Context, st store.Store, org int64) (func(string, any) error, error) {
	keys, err := secret.New(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		return nil, err
	}
	srv, err := api.New(api.Config{Store: st, Keyring: keys, Actions: nopActions{}, Limits: api.Limits{PerToken: 1000, TokenBurst: 1000}})
	if err != nil {
		return nil, err
	}
	hs := httptest.NewServer(srv)
	plain, hash, err := api.NewToken()
	if err != nil {
		return nil, err
	}
	if _, err := st.CreateToken(ctx, store.Token{OrgID: org, Name: "bench", Role: store.RoleViewer, Hash: hash}); err != nil {
		return nil, err
	}
	return func(path string, v any) error {
		req, _ := http.NewRequest("GET", hs.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+plain)
		res, err := hs.Client().Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if res.StatusCode != 200 {
			return fmt.Errorf("GET %s: %s", path, res.Status)
		}
		return json.NewDecoder(res.Body).Decode(v)
	}, nil
}

type nopActions struct{}

func (nopActions) Changed()                                    {}
func (nopActions) SyncNow(context.Context, store.Device) error { return nil }
func (nopActions) Preflight(context.Context, store.Device) (*device.PreflightReport, error) {
	return nil, fmt.Errorf("no preflight here")
}
func (nopActions) RemoveDevice(context.Context, store.Device, bool) error { return nil }

// notifiedBucket makes a bucket whose object-created events go to a new
// queue, and returns the queue's URL.
func notifiedBucket(ctx context.Context, s3c *s3.Client, sqsc *sqs.Client, bucket string) (string, error) {
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		return "", err
	}
	q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(bucket + "-events")})
	if err != nil {
		return "", err
	}
	_, err = s3c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: &bucket,
		NotificationConfiguration: &s3types.NotificationConfiguration{QueueConfigurations: []s3types.QueueConfiguration{{
			QueueArn: aws.String("arn:aws:sqs:us-east-1:123456789012:" + bucket + "-events"), Events: []s3types.Event{"s3:ObjectCreated:*"}}}}})
	return aws.ToString(q.QueueUrl), err
}

func motoClients(url string) (*s3.Client, *sqs.Client) {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")}
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(url); o.UsePathStyle = true }),
		sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(url) })
}

// startMoto runs moto_server on a free port.
func startMoto() (string, func(), error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return "", nil, fmt.Errorf("moto_server is needed for the latency benchmark and is not on PATH")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if res, err := http.Get(url + "/moto-api/"); err == nil {
			res.Body.Close()
			return url, stop, nil
		}
	}
	stop()
	return "", nil, fmt.Errorf("moto_server did not answer on %s", url)
}
