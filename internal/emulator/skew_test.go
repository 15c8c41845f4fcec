package emulator

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// A request signed more than 5 minutes from the emulator's clock is
// refused as AWS refuses it; within 5 minutes either way it is served.
func TestSigV4ClockSkew(t *testing.T) {
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	e, err := New(Config{VerifySigV4: true, Now: func() time.Time { return clock }, Keys: map[string]Key{"AKIDGOOD": {Secret: "s3cret"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		signedAt time.Time
		code     int
		want     string
	}{
		{clock, 200, ""},
		{clock.Add(-4*time.Minute - 59*time.Second), 200, ""},
		{clock.Add(4*time.Minute + 59*time.Second), 200, ""},
		{clock.Add(-5*time.Minute - time.Second), 400, "Signature expired: 20260301T115459Z is now earlier than 20260301T115500Z (20260301T120000Z - 5 min.)"},
		{clock.AddDate(-3, 0, 0), 400, "Signature expired: 20230301T120000Z"},
		{clock.Add(6 * time.Minute), 400, "Signature not yet current: 20260301T120600Z is still later than 20260301T120500Z (20260301T120000Z + 5 min.)"},
	} {
		req := httptest.NewRequest(http.MethodPost, "http://route53resolver.local/", bytes.NewReader([]byte(`{}`)))
		req.Header.Set("X-Amz-Target", "Route53Resolver.ListFirewallRuleGroups")
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIDGOOD", SecretAccessKey: "s3cret"}, req, sha256Hex(`{}`), "route53resolver", "eu-west-1", tc.signedAt); err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != tc.code || tc.want != "" && (!strings.Contains(rec.Body.String(), tc.want) || !strings.Contains(rec.Body.String(), "InvalidSignatureException")) {
			t.Errorf("signed at %s: %d %s; want %d %q", tc.signedAt.Format(time.RFC3339), rec.Code, rec.Body.String(), tc.code, tc.want)
		}
	}
}
