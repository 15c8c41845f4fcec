package device

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rpzfw/rpzfw/internal/awsclient"
	"github.com/rpzfw/rpzfw/internal/secret"
	"github.com/rpzfw/rpzfw/internal/store"
)

// SandboxSigningRegion is the region requests to the sandbox are signed
// for: the emulator keeps its state per account and region, and its data
// plane plays this one.
const SandboxSigningRegion = "us-east-1"

// Placeholder keys of sandbox devices without keys of their own: the
// emulator takes any key and maps unknown ones to its default account.
const (
	sandboxKeyID  = "AKIDRPZFWSANDBOX"
	sandboxSecret = secret.String("rpzfw-sandbox")
)

// Connector turns a device's settings into AWS clients: it opens the
// device's sealed secret key and sends sandbox devices to the built-in
// emulator.
type Connector struct {
	// Keyring opens sealed secret keys (store.PurposeDeviceSecret).
	Keyring *secret.Keyring
	// SandboxEndpoint is the built-in emulator's URL ("": no sandbox).
	SandboxEndpoint string
	// MaxAttempts bounds the SDK's retries of one call (0: awsclient's
	// default).
	MaxAttempts int
	// OnAttempt is told of every attempt of every call the clients make
	// (awsclient.Options.OnAttempt); nil: nobody.
	OnAttempt func(ctx context.Context, op string, err error)
}

// Options are the awsclient options for d. Errors are ErrConfig: nothing
// but a change to the device (or the server) can fix them.
func (c Connector) Options(d store.Device) (awsclient.Options, error) {
	o := awsclient.Options{Region: d.Region, Endpoint: d.EndpointURL, MaxAttempts: c.MaxAttempts, OnAttempt: c.OnAttempt}
	if d.Region == SandboxRegion {
		if c.SandboxEndpoint == "" {
			return o, mark(ErrConfig, fmt.Errorf("device %q is in the sandbox region, but this server runs no sandbox", d.Nickname))
		}
		o.Region, o.Endpoint = SandboxSigningRegion, c.SandboxEndpoint
		if d.CredKind != store.CredAccessKey {
			o.AccessKeyID, o.SecretAccessKey = sandboxKeyID, sandboxSecret
			return o, nil
		}
	}
	switch d.CredKind {
	case store.CredAccessKey:
		if c.Keyring == nil {
			return o, mark(ErrConfig, fmt.Errorf("device %q has a sealed secret key and no keyring was given to open it", d.Nickname))
		}
		key, err := c.Keyring.Open(d.SecretKey, store.PurposeDeviceSecret)
		if err != nil {
			return o, mark(ErrConfig, fmt.Errorf("opening the secret key of device %q: %w", d.Nickname, err))
		}
		o.AccessKeyID, o.SecretAccessKey = d.AccessKeyID, secret.String(key)
	case store.CredRole:
		o.RoleARN, o.ExternalID = d.RoleARN, d.ExternalID
	case store.CredAmbient:
	default:
		return o, mark(ErrConfig, fmt.Errorf("device %q has credentials of unknown type %q", d.Nickname, d.CredKind))
	}
	return o, nil
}

// Clients are the AWS clients of one device.
type Clients struct {
	Options  awsclient.Options
	Config   aws.Config
	Resolver *r53r.Client
	Quotas   *servicequotas.Client
	STS      *sts.Client
}

// NewClients builds the clients for o.
func NewClients(ctx context.Context, o awsclient.Options) (*Clients, error) {
	cfg, err := awsclient.Config(ctx, o)
	if err != nil {
		return nil, err
	}
	return &Clients{Options: o, Config: cfg, Resolver: awsclient.Resolver(cfg, o),
		Quotas: awsclient.ServiceQuotas(cfg, o), STS: awsclient.STS(cfg, o)}, nil
}

// Connect builds the clients of d.
func (c Connector) Connect(ctx context.Context, d store.Device) (*Clients, error) {
	o, err := c.Options(d)
	if err != nil {
		return nil, err
	}
	cl, err := NewClients(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("device %q: %w", d.Nickname, err)
	}
	return cl, nil
}

// Account learns the AWS account of d: from its role ARN, or by asking STS
// (GetCallerIdentity, through the device's endpoint when it has one) who
// its credentials are.
func (c Connector) Account(ctx context.Context, d store.Device) (string, error) {
	if d.CredKind == store.CredRole && d.Region != SandboxRegion {
		if acct, ok := roleAccount(d.RoleARN); ok {
			return acct, nil
		}
	}
	cl, err := c.Connect(ctx, d)
	if err != nil {
		return "", err
	}
	return cl.Account(ctx)
}

// Account asks STS whose credentials these are.
func (cl *Clients) Account(ctx context.Context) (string, error) {
	out, err := cl.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("learning the AWS account (STS GetCallerIdentity): %w", err)
	}
	acct := aws.ToString(out.Account)
	if acct == "" {
		return "", errors.New("learning the AWS account: STS GetCallerIdentity named none")
	}
	return acct, nil
}

// roleAccount takes the account out of arn:PARTITION:iam::ACCOUNT:role/NAME.
func roleAccount(arn string) (string, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[2] != "iam" || len(parts[4]) != 12 {
		return "", false
	}
	return parts[4], true
}
