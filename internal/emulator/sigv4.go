package emulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

var (
	signedHeadersRe = regexp.MustCompile(`SignedHeaders=([^,\s]+)`)
	signatureRe     = regexp.MustCompile(`Signature=([0-9a-f]+)`)
)

// verifySigV4 signs a copy of the request with the known secret, over the
// same signed headers and time, and compares signatures.
func verifySigV4(r *http.Request, body []byte, keyID, secret, region, service string) bool {
	auth := r.Header.Get("Authorization")
	sh := signedHeadersRe.FindStringSubmatch(auth)
	sig := signatureRe.FindStringSubmatch(auth)
	if sh == nil || sig == nil {
		return false
	}
	when, err := time.Parse(amzDate, r.Header.Get("X-Amz-Date"))
	if err != nil {
		return false
	}
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	req, err := http.NewRequest(r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return false
	}
	for _, h := range strings.Split(sh[1], ";") {
		if h == "host" {
			continue
		}
		for _, v := range r.Header.Values(h) {
			req.Header.Add(h, v)
		}
	}
	req.Host = r.Host
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, region, when); err != nil {
		return false
	}
	want := signatureRe.FindStringSubmatch(req.Header.Get("Authorization"))
	return want != nil && subtle.ConstantTimeCompare([]byte(want[1]), []byte(sig[1])) == 1
}

// maxSkew is how far a request's X-Amz-Date may be from the service's clock:
// AWS refuses a signature dated more than 5 minutes before or after it.
const maxSkew = 5 * time.Minute

const amzDate = "20060102T150405Z"

// checkSkew refuses a request signed at a time more than maxSkew from now,
// with the error and message AWS's JSON services give, so that a replayed
// or badly clocked request fails here as it would in AWS.
func checkSkew(r *http.Request, now time.Time) *apiError {
	when, err := time.Parse(amzDate, r.Header.Get("X-Amz-Date"))
	if err != nil {
		return &apiError{Status: 400, Type: "IncompleteSignatureException", Message: "X-Amz-Date must be in ISO 8601 basic format (" + amzDate + ")."}
	}
	now = now.UTC()
	switch {
	case when.Before(now.Add(-maxSkew)):
		return &apiError{Status: 400, Type: "InvalidSignatureException", Message: fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 5 min.)",
			when.Format(amzDate), now.Add(-maxSkew).Format(amzDate), now.Format(amzDate))}
	case when.After(now.Add(maxSkew)):
		return &apiError{Status: 400, Type: "InvalidSignatureException", Message: fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 5 min.)",
			when.Format(amzDate), now.Add(maxSkew).Format(amzDate), now.Format(amzDate))}
	}
	return nil
}
