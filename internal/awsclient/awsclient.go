// Package awsclient builds AWS SDK clients the way every rpzfw command
// needs them: the standard credential chain or static keys, an optional
// role to assume, an optional endpoint (the emulator, moto, a VPC
// endpoint), adaptive retries.
package awsclient

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/rpzfw/rpzfw/internal/secret"
)

// Options select the account, region and endpoint.
type Options struct {
	Region string
	// Endpoint overrides the service endpoint (e.g. the emulator's URL).
	Endpoint string
	// AccessKeyID and SecretAccessKey, when set, are used instead of the
	// credential chain.
	AccessKeyID     string
	SecretAccessKey secret.String
	// RoleARN and ExternalID assume a role after loading credentials.
	RoleARN, ExternalID string
	// MaxAttempts bounds retries (default 8); throttling and 5xx are
	// retried with the SDK's adaptive mode.
	MaxAttempts int
	// OnAttempt, when set, is told of every attempt of every call
	// (retries included) with its operation and error (nil: it worked).
	OnAttempt func(ctx context.Context, op string, err error)
}

// Config loads the AWS configuration for o. Static keys, when given,
// replace the credential chain. With an endpoint and no credentials
// anywhere, it uses placeholder keys: emulators accept any.
func Config(ctx context.Context, o Options) (aws.Config, error) {
	if o.Region == "" {
		return aws.Config{}, fmt.Errorf("an AWS region is required")
	}
	attempts := o.MaxAttempts
	if attempts == 0 {
		attempts = 8
	}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(o.Region),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewAdaptiveMode(func(ao *retry.AdaptiveModeOptions) {
				ao.StandardOptions = append(ao.StandardOptions, func(so *retry.StandardOptions) {
					so.MaxAttempts = attempts
					so.MaxBackoff = 5 * time.Second
					so.Retryables = append([]retry.IsErrorRetryable{NoRetryOnQuota}, so.Retryables...)
				})
			})
		}))
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if o.OnAttempt != nil {
		cfg.APIOptions = append(cfg.APIOptions, observeAttempts(o.OnAttempt))
	}
	switch {
	case o.AccessKeyID != "":
		cfg.Credentials = credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey.Reveal(), "")
	case o.Endpoint != "" && !haveLocalCredentials():
		// Asking the chain would end at the instance metadata service;
		// an emulator takes any key.
		cfg.Credentials = credentials.NewStaticCredentialsProvider("AKIDEMULATOR", "emulator-secret", "")
	}
	if o.RoleARN != "" {
		stsClient := sts.NewFromConfig(cfg)
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, o.RoleARN, func(ro *stscreds.AssumeRoleOptions) {
			if o.ExternalID != "" {
				ro.ExternalID = aws.String(o.ExternalID)
			}
			ro.RoleSessionName = "rpzfw"
		}))
	}
	return cfg, nil
}

// Resolver returns a Route 53 Resolver client.
func Resolver(cfg aws.Config, o Options) *r53r.Client {
	return r53r.NewFromConfig(cfg, func(ro *r53r.Options) {
		if o.Endpoint != "" {
			ro.BaseEndpoint = aws.String(o.Endpoint)
		}
	})
}

// STS returns an STS client; it uses the endpoint too (the emulator
// answers GetCallerIdentity).
func STS(cfg aws.Config, o Options) *sts.Client {
	return sts.NewFromConfig(cfg, func(so *sts.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
	})
}

// ServiceQuotas returns a Service Quotas client; it uses the endpoint too
// (the emulator answers GetServiceQuota).
func ServiceQuotas(cfg aws.Config, o Options) *servicequotas.Client {
	return servicequotas.NewFromConfig(cfg, func(so *servicequotas.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
	})
}

// SQS returns an SQS client for the queue at queueURL: its region comes
// from an sqs.REGION.amazonaws.com host, and any other host (moto, a VPC
// endpoint) becomes the endpoint.
func SQS(cfg aws.Config, queueURL string) (*sqs.Client, error) {
	u, err := url.Parse(queueURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("SQS queue URL %q: want https://sqs.REGION.amazonaws.com/ACCOUNT/NAME", queueURL)
	}
	return sqs.NewFromConfig(cfg, func(so *sqs.Options) {
		host := u.Hostname()
		if region, ok := strings.CutPrefix(host, "sqs."); ok && strings.HasSuffix(region, ".amazonaws.com") {
			so.Region = strings.TrimSuffix(region, ".amazonaws.com")
			return
		}
		so.BaseEndpoint = aws.String(u.Scheme + "://" + u.Host)
	}), nil
}

// S3 returns an S3 client; local endpoints get path-style addressing.
func S3(cfg aws.Config, endpoint string) *s3.Client {
	return s3.NewFromConfig(cfg, func(so *s3.Options) {
		so.DisableLogOutputChecksumValidationSkipped = true // moto sends no checksums
		if endpoint != "" {
			so.BaseEndpoint = aws.String(endpoint)
			so.UsePathStyle = true
		}
	})
}

// haveLocalCredentials reports whether credentials are configured in the
// environment or the shared files, without asking any service.
func haveLocalCredentials() bool {
	if os.Getenv("AWS_ACCESS_KEY_ID") != "" || os.Getenv("AWS_PROFILE") != "" || os.Getenv("AWS_WEB_IDENTITY_TOKEN_FILE") != "" {
		return true
	}
	for _, f := range []string{config.DefaultSharedCredentialsFilename(), config.DefaultSharedConfigFilename()} {
		if _, err := os.Stat(f); err == nil {
			return true
		}
	}
	return false
}

// NoRetryOnQuota stops the SDK from retrying LimitExceededException, which
// it counts as throttling by default; for Route 53 Resolver it means a
// quota is used up, and retrying cannot help.
var NoRetryOnQuota = retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "LimitExceededException" {
		return aws.FalseTernary
	}
	return aws.UnknownTernary
})
