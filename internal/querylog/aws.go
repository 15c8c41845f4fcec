package querylog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/rpzfw/rpzfw/internal/awsclient"
	"github.com/rpzfw/rpzfw/internal/secret"
	"github.com/rpzfw/rpzfw/internal/store"
)

// SQSAPI is the part of SQS the consumer uses; the SDK client and test
// fakes satisfy it.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// S3API is the part of S3 the consumer uses.
type S3API interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Clients are the AWS clients of one queue.
type Clients struct {
	SQS SQSAPI
	S3  S3API
}

// QueueSpec is one queue as a device names it, with the credentials that
// read it: the unit of consumption.
type QueueSpec struct {
	URL    string
	Device store.Device
}

// key identifies a queue and its credentials: devices that share both
// share one consumer.
func (q QueueSpec) key() string {
	d := q.Device
	h := sha256.Sum256(d.SecretKey)
	return strings.Join([]string{q.URL, d.CredKind, d.AccessKeyID, hex.EncodeToString(h[:8]), d.RoleARN, d.ExternalID, d.Region, d.EndpointURL}, "\x00")
}

// ClientOptions say how clients are made for a queue.
type ClientOptions struct {
	Keyring *secret.Keyring
	// Endpoint overrides the S3 and SQS endpoints of every queue.
	Endpoint string
	// AllowAmbient lets devices use this server's credential chain.
	AllowAmbient bool
}

// NewClients makes the SQS and S3 clients of a queue with the device's
// credentials. A queue URL on a host other than AWS's (a local S3 and SQS
// such as moto) is also the endpoint of both services.
func NewClients(ctx context.Context, q QueueSpec, o ClientOptions) (Clients, error) {
	region, endpoint, err := queueRegion(q.URL, q.Device.Region)
	if err != nil {
		return Clients{}, err
	}
	if o.Endpoint != "" {
		endpoint = o.Endpoint
	}
	cfg, err := deviceConfig(ctx, q.Device, region, endpoint, o)
	if err != nil {
		return Clients{}, err
	}
	return Clients{SQS: sqsClient(cfg, endpoint), S3: awsclient.S3(cfg, endpoint)}, nil
}

func sqsClient(cfg aws.Config, endpoint string) *sqs.Client {
	return sqs.NewFromConfig(cfg, func(so *sqs.Options) {
		if endpoint != "" {
			so.BaseEndpoint = aws.String(endpoint)
		}
	})
}

// deviceConfig is the AWS configuration of a device's credentials:
// its access key, its role (assumed from this server's credentials), or
// this server's own when allowed. A device without credentials (the
// sandbox) gets placeholder keys, for a local endpoint only.
func deviceConfig(ctx context.Context, d store.Device, region, endpoint string, o ClientOptions) (aws.Config, error) {
	opts := awsclient.Options{Region: region, Endpoint: endpoint}
	if d.CredKind == store.CredRole {
		opts.RoleARN, opts.ExternalID = d.RoleARN, d.ExternalID
	}
	cfg, err := awsclient.Config(ctx, opts)
	if err != nil {
		return aws.Config{}, err
	}
	switch d.CredKind {
	case store.CredAccessKey:
		if o.Keyring == nil {
			return aws.Config{}, errors.New("no keyring to open the device's secret key")
		}
		sk, err := o.Keyring.Open(d.SecretKey, store.PurposeDeviceSecret)
		if err != nil {
			return aws.Config{}, fmt.Errorf("opening the secret key of device %s: %w", d.Nickname, err)
		}
		cfg.Credentials = credentials.NewStaticCredentialsProvider(d.AccessKeyID, string(sk), "")
	case store.CredAmbient:
		if !o.AllowAmbient {
			return aws.Config{}, fmt.Errorf("device %s uses the server's own credentials, which this server does not allow", d.Nickname)
		}
	case store.CredRole:
	default:
		if endpoint == "" {
			return aws.Config{}, fmt.Errorf("device %s has no credentials", d.Nickname)
		}
		cfg.Credentials = credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", "")
	}
	return cfg, nil
}

// queueRegion reads the region from an AWS queue URL
// (https://sqs.eu-west-1.amazonaws.com/...); another host is a local
// endpoint, used with the device's region.
func queueRegion(queueURL, deviceRegion string) (region, endpoint string, err error) {
	u, err := url.Parse(queueURL)
	if err != nil || u.Host == "" {
		return "", "", fmt.Errorf("log queue URL %q: not a URL", queueURL)
	}
	host := u.Hostname()
	if parts := strings.Split(host, "."); len(parts) >= 4 && parts[0] == "sqs" && strings.HasPrefix(parts[2], "amazonaws") {
		return parts[1], "", nil
	}
	if deviceRegion == "" || !strings.Contains(deviceRegion, "-") {
		deviceRegion = "us-east-1" // the sandbox and local servers take any
	}
	return deviceRegion, u.Scheme + "://" + u.Host, nil
}

// queueARN is the ARN of a queue, for messages that name a permission.
func queueARN(queueURL string) string {
	u, err := url.Parse(queueURL)
	if err != nil {
		return queueURL
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	region, _, _ := queueRegion(queueURL, "")
	if len(parts) != 2 {
		return queueURL
	}
	return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", region, parts[0], parts[1])
}

// deniedError is an access denied, with the permission that was missing.
type deniedError struct {
	Permission string
	Err        error
}

func (e *deniedError) Error() string {
	return fmt.Sprintf("access denied: the credentials lack %s (%v)", e.Permission, e.Err)
}

func (e *deniedError) Unwrap() error { return e.Err }

// denied wraps err as a deniedError naming permission when AWS refused
// access; other errors are returned as they are.
func denied(err error, permission string) error {
	if err == nil || !isAccessDenied(err) {
		return err
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && strings.Contains(strings.ToLower(ae.ErrorMessage()), "kms") {
		permission = "kms:Decrypt on the bucket's KMS key"
	}
	return &deniedError{Permission: permission, Err: err}
}

func isAccessDenied(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code := ae.ErrorCode()
		if strings.Contains(code, "AccessDenied") || code == "InvalidClientTokenId" || code == "SignatureDoesNotMatch" ||
			code == "InvalidAccessKeyId" || code == "AuthorizationError" {
			return true
		}
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusForbidden
}

// isNoSuchKey says the object is gone.
func isNoSuchKey(err error) bool {
	var nk *s3types.NoSuchKey
	if errors.As(err, &nk) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "NoSuchKey"
}

// errClass is the metrics label of an error.
func errClass(err error) string {
	var de *deniedError
	if errors.As(err, &de) || isAccessDenied(err) {
		return "access_denied"
	}
	return "other"
}
