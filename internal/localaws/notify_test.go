package localaws

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rpzfw/rpzfw/internal/querylog"
)

// setupLogs runs rpzfw's own logs setup (queue, policy, notification)
// against the server, as serve does for the sandbox.
func setupLogs(t *testing.T, e *env, bucket string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := e.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	res, err := querylog.Setup(ctx, querylog.SetupClients{SQS: e.sqs, S3: e.s3, Account: "123456789012", Region: "us-east-1"},
		querylog.SetupRequest{Device: "sandbox", Bucket: bucket})
	if err != nil {
		t.Fatal(err)
	}
	return res.QueueURL
}

// TestNotificationEvents checks that creating an object under the
// configured prefix sends one S3 event in the real format, which the log
// consumer's parser reads back to the same bucket, key, size and ETag; and
// that other objects and deletions send nothing.
func TestNotificationEvents(t *testing.T) {
	e := start(t, "")
	ctx := context.Background()
	url := setupLogs(t, e, "logs")
	test := receive(t, e, url, 0)
	if len(test) != 1 {
		t.Fatalf("want S3's test event after setup, got %d messages", len(test))
	}
	if ev, err := querylog.ParseEvent([]byte(aws.ToString(test[0].Body))); err != nil || !ev.Test {
		t.Fatalf("test event: %+v %v", ev, err)
	}
	deleteAll(t, e, url, test)
	for _, tc := range []struct {
		name, key string
		notified  bool
	}{
		{"query log", "AWSLogs/123456789012/vpcdnsquerylogs/vpc-1/2026/12/01/x.log.gz", true},
		{"space plus percent", "AWSLogs/a b+c%d/é.log.gz", true},
		{"outside the prefix", "other/x.log.gz", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			put, err := e.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("logs"), Key: aws.String(tc.key), Body: strings.NewReader("body")})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("logs"), Key: aws.String(tc.key)}); err != nil {
				t.Fatal(err)
			}
			msgs := receive(t, e, url, 0)
			if !tc.notified {
				if len(msgs) != 0 {
					t.Fatalf("want no event, got %d", len(msgs))
				}
				return
			}
			if len(msgs) != 1 {
				t.Fatalf("want one event (the creation; deletions are not asked for), got %d", len(msgs))
			}
			body := aws.ToString(msgs[0].Body)
			checkEventShape(t, body)
			ev, err := querylog.ParseEvent([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			want := querylog.ObjectRef{Bucket: "logs", Key: tc.key, ETag: strings.Trim(aws.ToString(put.ETag), `"`), Size: 4}
			if len(ev.Objects) != 1 || ev.Objects[0].EventTime.IsZero() {
				t.Fatalf("parsed %+v", ev)
			}
			got := ev.Objects[0]
			got.EventTime = want.EventTime
			if got != want {
				t.Fatalf("parsed %+v, want %+v", got, want)
			}
			deleteAll(t, e, url, msgs)
		})
	}
}

// checkEventShape checks the members S3 sends that the consumer's parser
// does not need, so that other readers of the queue see S3's format.
func checkEventShape(t *testing.T, body string) {
	t.Helper()
	var ev struct {
		Records []struct {
			EventVersion, EventSource, AWSRegion, EventTime, EventName string
			S3                                                         struct {
				S3SchemaVersion, ConfigurationID string
				Bucket                           struct{ Name, ARN string }
				Object                           struct{ Key, ETag, Sequencer string }
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &ev); err != nil || len(ev.Records) != 1 {
		t.Fatalf("event %s: %v", body, err)
	}
	r := ev.Records[0]
	if r.EventVersion != "2.1" || r.EventSource != "aws:s3" || r.AWSRegion != "us-east-1" || r.EventName != "ObjectCreated:Put" ||
		r.S3.S3SchemaVersion != "1.0" || r.S3.ConfigurationID != "rpzfw-sandbox" || r.S3.Bucket.ARN != "arn:aws:s3:::logs" || r.S3.Object.Sequencer == "" {
		t.Fatalf("event shape: %s", body)
	}
	if strings.Contains(r.S3.Object.Key, " ") {
		t.Fatalf("the key is not URL-encoded: %q", r.S3.Object.Key)
	}
}

func deleteAll(t *testing.T, e *env, url string, msgs []sqstypes.Message) {
	t.Helper()
	for _, m := range msgs {
		if _, err := e.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
	}
}
