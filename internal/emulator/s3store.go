package emulator

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rpzfw/rpzfw/internal/awsclient"
)

// S3Store is an ObjectStore over the S3 API at an endpoint (moto_server, or
// AWS itself when endpoint is empty).
type S3Store struct{ c *s3.Client }

// NewS3Store builds an S3 client with the standard credential chain (or
// placeholder keys for a local endpoint), path-style for local endpoints.
func NewS3Store(ctx context.Context, endpoint, region string) (*S3Store, error) {
	o := awsclient.Options{Region: region, Endpoint: endpoint, MaxAttempts: 3}
	cfg, err := awsclient.Config(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("S3 for the emulator: %w", err)
	}
	return &S3Store{c: awsclient.S3(cfg, endpoint)}, nil
}

// NewS3StoreFromClient is an ObjectStore over a client made elsewhere
// (with credentials of the caller's choice).
func NewS3StoreFromClient(c *s3.Client) *S3Store { return &S3Store{c: c} }

// GetObject reads a whole object.
func (s *S3Store) GetObject(ctx context.Context, bucket, key string) ([]byte, error) {
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return nil, fmt.Errorf("getting s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// PutObject writes an object.
func (s *S3Store) PutObject(ctx context.Context, bucket, key string, body []byte) error {
	_, err := s.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body)})
	if err != nil {
		return fmt.Errorf("putting s3://%s/%s: %w", bucket, key, err)
	}
	return nil
}
