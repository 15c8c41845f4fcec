package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rpzfw/rpzfw/internal/awsclient"
	"github.com/rpzfw/rpzfw/internal/emulator"
)

// world is the service with its devices, buckets and queues set up.
type world struct {
	c         config
	srv       *served
	s3c       *s3.Client
	buckets   []string // by account
	groups    []string // by device
	bodies    [][]byte // a log object's body, by account
	firstSync time.Duration
	hash      string // the plan all devices are in sync with
	round     int    // policy changes made
	puts      int    // objects put
	motoPID   int
}

// setUp makes a bucket and queue per account, a rule group per device,
// the policy and the devices, and waits for their first sync.
func setUp(ctx context.Context, c config, srv *served, emuURL, moto string) (*world, error) {
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")}
	w := &world{c: c, srv: srv, s3c: s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(moto); o.UsePathStyle = true })}
	sqsc := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.BaseEndpoint = aws.String(moto) })
	queues := make([]string, c.accounts)
	for a := range c.accounts {
		var err error
		w.buckets = append(w.buckets, fmt.Sprintf("logs-%02d", a))
		if queues[a], err = notifiedBucket(ctx, w.s3c, sqsc, w.buckets[a]); err != nil {
			return nil, err
		}
	}
	for i := range c.devices {
		g, err := ruleGroup(ctx, emuURL, keyID(i%c.accounts), i)
		if err != nil {
			return nil, err
		}
		w.groups = append(w.groups, g)
	}
	if err := srv.do("POST", "/api/v1/policies", map[string]any{"name": "shared", "block_list": w.blockList()}, nil); err != nil {
		return nil, err
	}
	start := time.Now()
	for i := range c.devices {
		a := i % c.accounts
		err := srv.do("POST", "/api/v1/devices", map[string]any{
			"nickname": fmt.Sprintf("dev-%03d", i), "policy": "shared", "region": "us-east-1", "rule_group_id": w.groups[i], "endpoint_url": emuURL,
			"credentials": map[string]any{"type": "access_key", "access_key_id": keyID(a), "secret_access_key": secretKey},
			"log_upload":  map[string]any{"enabled": true, "sqs_queue_url": queues[a]},
		}, nil)
		if err != nil {
			return nil, err
		}
	}
	var err error
	if w.hash, err = w.waitAll(ctx, ""); err != nil {
		return nil, err
	}
	w.firstSync = time.Since(start)
	for a := range c.accounts {
		if b, err := w.body(a); err != nil {
			return nil, err
		} else {
			w.bodies = append(w.bodies, b)
		}
	}
	return w, nil
}

// blockList is the policy after w.round changes: the first change
// domains are replaced at each round; the others stay (the hits' names).
func (w *world) blockList() []string {
	out := make([]string, 0, w.c.domains)
	for i := range w.c.change {
		out = append(out, fmt.Sprintf("r%d-%d.bench.example", w.round, i))
	}
	for i := w.c.change; i < w.c.domains; i++ {
		out = append(out, fmt.Sprintf("d%d.bench.example", i))
	}
	return out
}

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

func ruleGroup(ctx context.Context, endpoint, key string, i int) (string, error) {
	opts := awsclient.Options{Region: "us-east-1", Endpoint: endpoint}
	cfg, err := awsclient.Config(ctx, opts)
	if err != nil {
		return "", err
	}
	cfg.Credentials = credentials.NewStaticCredentialsProvider(key, secretKey, "")
	g, err := awsclient.Resolver(cfg, opts).CreateFirewallRuleGroup(ctx, &r53r.CreateFirewallRuleGroupInput{
		CreatorRequestId: aws.String(fmt.Sprint("g", i)), Name: aws.String(fmt.Sprint("bench-", i))})
	if err != nil {
		return "", err
	}
	return aws.ToString(g.FirewallRuleGroup.Id), nil
}

// body is a gzipped query log object of account a: hits of its devices on
// names of the block list that never change, and resolutions of a VPC no
// device holds.
func (w *world) body(a int) ([]byte, error) {
	var devs []int
	for i := a; i < w.c.devices; i += w.c.accounts {
		devs = append(devs, i)
	}
	if len(devs) == 0 {
		return nil, fmt.Errorf("account %d has no device", a)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	enc := json.NewEncoder(zw)
	every := max(int(1/w.c.hitShare), 1)
	at := time.Now().UTC().Format(time.RFC3339)
	for i := range w.c.lines {
		r := emulator.LogRecord{Version: "1.100000", AccountID: account(a), Region: "us-east-1", VpcID: "vpc-bench", QueryTimestamp: at,
			QueryName: fmt.Sprintf("q%d.clean.example.", i%5000), QueryType: "A", QueryClass: "IN", Rcode: "NOERROR", Answers: []emulator.LogAnswer{},
			SrcAddr: fmt.Sprintf("10.0.%d.%d", i%7, i%250), SrcPort: "53", Transport: "UDP", SrcIDs: map[string]string{"instance": "i-bench"}}
		if i%every == 0 {
			r.QueryName = fmt.Sprintf("d%d.bench.example.", w.c.change+i%(w.c.domains-w.c.change))
			r.Rcode, r.FirewallRuleGroupID, r.FirewallRuleAction, r.FirewallDomainListID = "NXDOMAIN", w.groups[devs[i%len(devs)]], "BLOCK", "rslvr-fdl-bench"
		}
		if err := enc.Encode(r); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// waitAll waits until every device is in_sync with a plan other than old.
func (w *world) waitAll(ctx context.Context, old string) (string, error) {
	for deadline := time.Now().Add(30 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var page struct {
			Devices []struct {
				Status struct {
					State    string `json:"state"`
					Error    string `json:"error"`
					PlanHash string `json:"plan_hash"`
				} `json:"status"`
			} `json:"devices"`
		}
		if err := w.srv.do("GET", "/api/v1/devices", nil, &page); err != nil {
			return "", err
		}
		done, hash := 0, ""
		for _, d := range page.Devices {
			if d.Status.State == "error" {
				return "", fmt.Errorf("a device is in error: %s", d.Status.Error)
			}
			if d.Status.State == "in_sync" && d.Status.PlanHash != old {
				done, hash = done+1, d.Status.PlanHash
			}
		}
		if done == w.c.devices {
			return hash, nil
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
	}
	return "", fmt.Errorf("the devices did not all reach in_sync")
}

// result is one measured load.
type result struct {
	sync, ingest time.Duration
	lines        float64
	cpu, pgCPU   float64 // cores, on average: rpzfw serve, PostgreSQL
	motoCPU      float64
}

func (r result) syncCol() string {
	if r.sync == 0 {
		return "-"
	}
	return r.sync.Round(10 * time.Millisecond).String()
}

func (r result) ingestCol() string {
	if r.ingest == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f (%.0f lines in %s)", r.lines/r.ingest.Seconds(), r.lines, r.ingest.Round(10*time.Millisecond))
}

// measure runs a policy change (sync), a burst of log objects (ingest),
// or both at once, and times each until done, with the CPU the process
// used meanwhile.
func (w *world) measure(ctx context.Context, sync, ingest bool) (result, error) {
	var r result
	read0, err := w.srv.metric("rpzfw_querylog_lines_total", `kind="read"`)
	if err != nil {
		return r, err
	}
	cpu0, pg0, moto0, start := w.srv.cpuSeconds(), postgresCPU(), procCPU(w.motoPID), time.Now()
	ingested := make(chan error, 1)
	if ingest {
		r.lines = float64(w.c.objects * w.c.lines)
		go func() {
			err := w.ingest(ctx, read0+r.lines)
			r.ingest = time.Since(start)
			ingested <- err
		}()
	}
	if sync {
		w.round++
		if err := w.srv.do("PUT", "/api/v1/policies/shared", map[string]any{"name": "shared", "block_list": w.blockList()}, nil); err != nil {
			return r, err
		}
		if w.hash, err = w.waitAll(ctx, w.hash); err != nil {
			return r, err
		}
		r.sync = time.Since(start)
	}
	if ingest {
		if err := <-ingested; err != nil {
			return r, err
		}
	}
	took := time.Since(start).Seconds()
	r.cpu, r.pgCPU, r.motoCPU = (w.srv.cpuSeconds()-cpu0)/took, (postgresCPU()-pg0)/took, (procCPU(w.motoPID)-moto0)/took
	return r, nil
}

// ingest puts the run's objects and waits until the process has read
// lines lines in all.
func (w *world) ingest(ctx context.Context, lines float64) error {
	if err := w.putObjects(ctx); err != nil {
		return err
	}
	for deadline := time.Now().Add(30 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		read, err := w.srv.metric("rpzfw_querylog_lines_total", `kind="read"`)
		if err != nil {
			return err
		}
		if read >= lines {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %.0f of %.0f lines were read", read, lines)
		}
	}
}

// putObjects puts the run's objects round-robin over the accounts'
// buckets, as fast as moto takes them.
func (w *world) putObjects(ctx context.Context) error {
	for range w.c.objects {
		a := w.puts % w.c.accounts
		key := fmt.Sprintf("AWSLogs/%s/vpcdnsquerylogs/vpc-bench/%s/vpc-bench_vpcdnsquerylogs_%s_%s_%06d.log.gz",
			account(a), time.Now().UTC().Format("2006/01/02"), account(a), time.Now().UTC().Format("20060102T1504Z"), w.puts)
		w.puts++
		if _, err := w.s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: &w.buckets[a], Key: &key, Body: bytes.NewReader(w.bodies[a])}); err != nil {
			return fmt.Errorf("putting %s: %w", key, err)
		}
	}
	return nil
}
