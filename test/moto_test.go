package test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rpzfw/rpzfw/internal/emulator"
)

// startMoto runs moto_server (real S3 and SQS, with S3 event notifications
// to SQS) on a free loopback port.
func startMoto(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Fatalf("moto_server is needed for this test and was not found on PATH (Python moto[server]; see .ci/run)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.Env = append(os.Environ(), "AWS_EC2_METADATA_DISABLED=true")
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting moto_server: %v", err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(url + "/moto-api/"); err == nil {
			resp.Body.Close()
			return url
		}
	}
	t.Fatalf("moto_server did not answer on %s within 30s", url)
	return ""
}

func motoConfig() aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")}
}

func motoS3(url string) *s3.Client {
	return s3.NewFromConfig(motoConfig(), func(o *s3.Options) { o.BaseEndpoint = aws.String(url); o.UsePathStyle = true })
}

// startStaging starts moto with an empty bucket "staging" and returns its
// URL and an S3 client of it.
func startStaging(t *testing.T) (string, *s3.Client) {
	t.Helper()
	moto := startMoto(t)
	s3c := motoS3(moto)
	if _, err := s3c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("staging")}); err != nil {
		t.Fatal(err)
	}
	return moto, s3c
}

// stagedEmulator is an emulator configuration that reads its imports
// from moto at url.
func stagedEmulator(t *testing.T, url string) emulator.Config {
	t.Helper()
	objects, err := emulator.NewS3Store(context.Background(), url, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	return emulator.Config{Objects: objects}
}

func motoSQS(url string) *sqs.Client {
	return sqs.NewFromConfig(motoConfig(), func(o *sqs.Options) { o.BaseEndpoint = aws.String(url) })
}

// logBucket makes a bucket whose object-created events go to a new SQS
// queue, as the query-log setup asks users to do. It returns the queue URL.
func logBucket(t *testing.T, url, bucket string) string {
	t.Helper()
	ctx := context.Background()
	s3c, sqsc := motoS3(url), motoSQS(url)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	q, err := sqsc.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(bucket + "-events")})
	if err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:sqs:us-east-1:123456789012:" + bucket + "-events"
	_, err = s3c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{
		Bucket: aws.String(bucket),
		NotificationConfiguration: &s3types.NotificationConfiguration{QueueConfigurations: []s3types.QueueConfiguration{{
			QueueArn: aws.String(arn), Events: []s3types.Event{"s3:ObjectCreated:*"},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return *q.QueueUrl
}
