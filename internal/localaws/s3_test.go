package localaws

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

func TestS3ObjectRoundTrip(t *testing.T) {
	e := start(t, "")
	ctx := context.Background()
	if _, err := e.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("logs")}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, key, body string }{
		{"plain", "AWSLogs/123456789012/vpcdnsquerylogs/vpc-1/2026/12/01/a.log.gz", "line\n"},
		{"space and plus", "dir/a b+c.txt", "x"},
		{"unicode", "répertoire/日本.txt", "y"},
		{"empty body", "empty", ""},
		{"long key", strings.Repeat("k", 1000), "z"},
		{"dots", "a/../b/./c", "dots"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			put, err := e.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("logs"), Key: aws.String(tc.key), Body: strings.NewReader(tc.body)})
			if err != nil {
				t.Fatal(err)
			}
			sum := md5.Sum([]byte(tc.body))
			if want := `"` + hex.EncodeToString(sum[:]) + `"`; aws.ToString(put.ETag) != want {
				t.Fatalf("ETag %s, want %s", aws.ToString(put.ETag), want)
			}
			got, err := e.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String(tc.key)})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(got.Body)
			got.Body.Close()
			if string(b) != tc.body || aws.ToString(got.ETag) != aws.ToString(put.ETag) || aws.ToInt64(got.ContentLength) != int64(len(tc.body)) {
				t.Fatalf("got %q etag %s length %d", b, aws.ToString(got.ETag), aws.ToInt64(got.ContentLength))
			}
			if _, err := e.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("logs"), Key: aws.String(tc.key)}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("logs"), Key: aws.String(tc.key)}); err != nil {
				t.Fatal(err)
			}
			_, err = e.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String(tc.key)})
			var nk *s3types.NoSuchKey
			if !errors.As(err, &nk) {
				t.Fatalf("after delete: %v, want NoSuchKey", err)
			}
		})
	}
}

func TestS3Errors(t *testing.T) {
	e := start(t, "")
	ctx := context.Background()
	if _, err := e.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("logs")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("logs"), Key: aws.String("k"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"no bucket", func() error {
			_, err := e.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("nope"), Key: aws.String("k")})
			return err
		}, "NoSuchBucket"},
		{"put to no bucket", func() error {
			_, err := e.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("nope"), Key: aws.String("k"), Body: strings.NewReader("x")})
			return err
		}, "NoSuchBucket"},
		{"bad bucket name", func() error {
			_, err := e.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("Bad_Name")})
			return err
		}, "InvalidBucketName"},
		{"range unsupported", func() error {
			_, err := e.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String("k"), Range: aws.String("bytes=0-1")})
			return err
		}, "NotImplemented"},
		{"bucket not empty", func() error {
			_, err := e.s3.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("logs")})
			return err
		}, "BucketNotEmpty"},
		{"topic notification", func() error {
			_, err := e.s3.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("logs"),
				NotificationConfiguration: &s3types.NotificationConfiguration{TopicConfigurations: []s3types.TopicConfiguration{{
					TopicArn: aws.String("arn:aws:sns:us-east-1:123456789012:t"), Events: []s3types.Event{"s3:ObjectCreated:*"}}}}})
			return err
		}, "NotImplemented"},
		{"notification to a missing queue", func() error {
			_, err := e.s3.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("logs"),
				NotificationConfiguration: &s3types.NotificationConfiguration{QueueConfigurations: []s3types.QueueConfiguration{{
					QueueArn: aws.String("arn:aws:sqs:us-east-1:123456789012:none"), Events: []s3types.Event{"s3:ObjectCreated:*"}}}}})
			return err
		}, "InvalidArgument"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
		})
	}
}

func TestS3ListObjectsPages(t *testing.T) {
	e := start(t, "")
	ctx := context.Background()
	if _, err := e.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("logs")}); err != nil {
		t.Fatal(err)
	}
	keys := []string{"a/1", "a/2", "a/3", "b/1", "b/2", "c", "d"}
	for _, k := range keys {
		if _, err := e.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("logs"), Key: aws.String(k), Body: bytes.NewReader([]byte(k))}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, prefix, delim string
		want                []string
	}{
		{"all", "", "", keys},
		{"prefix", "a/", "", []string{"a/1", "a/2", "a/3"}},
		{"delimiter", "", "/", []string{"a/", "b/", "c", "d"}},
		{"none", "zz", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			in := &s3.ListObjectsV2Input{Bucket: aws.String("logs"), MaxKeys: aws.Int32(2)}
			if tc.prefix != "" {
				in.Prefix = aws.String(tc.prefix)
			}
			if tc.delim != "" {
				in.Delimiter = aws.String(tc.delim)
			}
			p := s3.NewListObjectsV2Paginator(e.s3, in)
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, cp := range page.CommonPrefixes {
					got = append(got, aws.ToString(cp.Prefix))
				}
				for _, o := range page.Contents {
					got = append(got, aws.ToString(o.Key))
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestQueryProtocolRefused checks that an SQS request in the older query
// protocol gets a clear error rather than being taken for S3.
func TestQueryProtocolRefused(t *testing.T) {
	e := start(t, "")
	resp, err := http.Post(e.srv.URL()+"/", "application/x-www-form-urlencoded", strings.NewReader("Action=ListQueues"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "query protocol") {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
}
