package test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"

	"github.com/rpzfw/rpzfw/internal/awsclient"
	"github.com/rpzfw/rpzfw/internal/emulator"
)

type emu struct {
	e   *emulator.Emulator
	url string
	dp  *emulator.DataPlane
}

// startEmulator runs the emulator's API over HTTP and its data plane on
// loopback.
func startEmulator(t *testing.T, cfg emulator.Config) *emu {
	t.Helper()
	if cfg.Settle == 0 {
		cfg.Settle = 30 * time.Millisecond
	}
	e, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	url := serveHTTP(t, e)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dp := e.NewDataPlane(emulator.DNSConfig{})
	if err := dp.ListenAndServe(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	return &emu{e: e, url: url, dp: dp}
}

func serveHTTP(t *testing.T, e *emulator.Emulator) string {
	t.Helper()
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv.URL
}

// client is the real AWS SDK client pointed at the emulator. maxAttempts 1
// shows errors as they are; more lets the SDK retry as it does against AWS.
func (m *emu) client(maxAttempts int) *r53r.Client {
	return r53r.New(r53r.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(m.url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = maxAttempts
			o.MaxBackoff = 200 * time.Millisecond
			o.Retryables = append([]retry.IsErrorRetryable{awsclient.NoRetryOnQuota}, o.Retryables...)
		}),
	})
}

// waitComplete polls a list until it settles.
func waitComplete(t *testing.T, c *r53r.Client, id string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		out, err := c.GetFirewallDomainList(context.Background(), &r53r.GetFirewallDomainListInput{FirewallDomainListId: &id})
		if err != nil {
			t.Fatal(err)
		}
		if s := string(out.FirewallDomainList.Status); s == "COMPLETE" || s == "COMPLETE_IMPORT_FAILED" {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("list %s did not settle", id)
}
