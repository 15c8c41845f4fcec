package emulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
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
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
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
