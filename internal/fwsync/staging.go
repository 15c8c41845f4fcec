package fwsync

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3PutAPI is the one S3 call staging needs.
type S3PutAPI interface {
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// S3Staging writes import files to a bucket in the rule group's region.
type S3Staging struct {
	API    S3PutAPI
	Bucket string
	Prefix string // default "rpzfw-staging"
}

// Stage uploads body and returns its s3:// URL.
func (s S3Staging) Stage(ctx context.Context, name string, body []byte) (string, error) {
	prefix := s.Prefix
	if prefix == "" {
		prefix = "rpzfw-staging"
	}
	key := strings.TrimSuffix(prefix, "/") + "/" + name
	if _, err := s.API.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.Bucket, Key: &key, Body: bytes.NewReader(body)}); err != nil {
		return "", fmt.Errorf("putting s3://%s/%s: %w", s.Bucket, key, err)
	}
	return fmt.Sprintf("s3://%s/%s", s.Bucket, key), nil
}
