package test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rpzfw/rpzfw/internal/querylog"
	"github.com/rpzfw/rpzfw/internal/store"
	"github.com/rpzfw/rpzfw/internal/store/sqlstore"
)

// TestLogsSetup on moto's S3 and SQS: setup makes a queue that only the
// bucket may send to and the bucket's notification, keeping the
// bucket's other notifications; a log object then reaches the queue and
// the pipeline; setup again changes nothing; teardown removes exactly
// what setup made.
func TestLogsSetup(t *testing.T) {
	ctx := context.Background()
	moto := startMoto(t)
	s3c, sqsc := motoS3(moto), motoSQS(moto)
	bucket := "corp-dns-logs"
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	// Someone else's notification on the same bucket stays.
	other, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("audit")})
	if err != nil {
		t.Fatal(err)
	}
	otherCfg := s3types.QueueConfiguration{Id: aws.String("audit"), QueueArn: aws.String("arn:aws:sqs:us-east-1:123456789012:audit"),
		Events: []s3types.Event{"s3:ObjectRemoved:*"}}
	if _, err := s3c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: &bucket,
		NotificationConfiguration: &s3types.NotificationConfiguration{QueueConfigurations: []s3types.QueueConfiguration{otherCfg}}}); err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "rpzfw.db"), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	org, _ := st.CreateOrg(ctx, "default")
	st.CreatePolicy(ctx, store.Policy{OrgID: org.ID, Name: "p", Doc: []byte(`{}`)})
	dev, err := st.CreateDevice(ctx, store.Device{OrgID: org.ID, Nickname: "prod", Provider: "aws-dns-firewall", Policy: "p", Region: "us-east-1", RuleGroupID: "rslvr-frg-1",
		EndpointURL: moto}) // moto's Route 53 Resolver has the query logging configurations
	if err != nil {
		t.Fatal(err)
	}
	cl, err := querylog.NewSetupClients(ctx, dev, querylog.ClientOptions{Endpoint: moto})
	if err != nil {
		t.Fatal(err)
	}
	if cl.Account != "123456789012" {
		t.Fatalf("account %q learned from STS", cl.Account)
	}
	req := querylog.SetupRequest{Device: dev.Nickname, Bucket: bucket, Prefix: "resolver/", DryRun: true}
	res, err := querylog.Setup(ctx, cl, req)
	if err != nil || len(res.Steps) != 3 || res.Steps[0].Done || res.QueueURL != "" {
		t.Fatalf("dry run: %+v, %v", res, err)
	}
	if _, err := sqsc.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(querylog.QueueName("prod"))}); err == nil {
		t.Fatal("a dry run made the queue")
	}
	req.DryRun = false
	for range 2 { // the second changes nothing
		if res, err = querylog.Setup(ctx, cl, req); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.HasSuffix(res.QueueURL, "/123456789012/rpzfw-logs-prod") || !res.Steps[2].Done {
		t.Fatalf("setup: %+v", res)
	}
	attrs, err := sqsc.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &res.QueueURL, AttributeNames: []sqstypes.QueueAttributeName{"Policy"}})
	if err != nil || !strings.Contains(attrs.Attributes["Policy"], `arn:aws:s3:::corp-dns-logs`) {
		t.Errorf("queue policy %q (%v)", attrs.Attributes["Policy"], err)
	}
	n, err := s3c.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: &bucket})
	if err != nil || len(n.QueueConfigurations) != 2 {
		t.Fatalf("notifications after setup: %+v, %v", n, err)
	}

	// A log object now reaches the pipeline through the new queue.
	dev.LogEnabled, dev.LogQueueURL = true, res.QueueURL
	if dev, err = st.UpdateDevice(ctx, dev); err != nil {
		t.Fatal(err)
	}
	m, err := querylog.New(querylog.Config{Store: st, Log: quietLog(), Wait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	key := "resolver/" + logKey(7)
	rec := logRecordAt(time.Now(), "vpc-1", "a.example.")
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: strings.NewReader(string(gzipLines(rec)))}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the object through the new queue", func() bool {
		s, _ := st.QueueStats(ctx, res.QueueURL, time.Now().Add(-time.Hour))
		return s.Objects == 1
	})
	m.Shutdown(ctx)

	res, err = querylog.Teardown(ctx, cl, querylog.TeardownRequest{Device: "prod", DryRun: true})
	if err != nil || len(res.Steps) != 2 || res.Steps[0].Done {
		t.Fatalf("teardown dry run: %+v, %v", res, err)
	}
	if res, err = querylog.Teardown(ctx, cl, querylog.TeardownRequest{Device: "prod"}); err != nil || len(res.Steps) != 2 || !res.Steps[1].Done {
		t.Fatalf("teardown: %+v, %v", res, err)
	}
	if _, err := sqsc.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(querylog.QueueName("prod"))}); err == nil {
		t.Error("the queue outlived teardown")
	}
	n, _ = s3c.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: &bucket})
	if len(n.QueueConfigurations) != 1 || aws.ToString(n.QueueConfigurations[0].Id) != "audit" {
		t.Errorf("notifications after teardown: %+v", n.QueueConfigurations)
	}
	if _, err := sqsc.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("audit")}); err != nil {
		t.Errorf("another queue was touched: %v (%s)", err, aws.ToString(other.QueueUrl))
	}
	// A queue of that name that rpzfw did not make is left alone.
	if _, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(querylog.QueueName("prod"))}); err != nil {
		t.Fatal(err)
	}
	if _, err := querylog.Teardown(ctx, cl, querylog.TeardownRequest{Device: "prod"}); err == nil || !strings.Contains(err.Error(), "did not make it") {
		t.Errorf("teardown of a queue rpzfw did not make: %v", err)
	}
}
