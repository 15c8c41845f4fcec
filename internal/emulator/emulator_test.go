package emulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// call signs and sends one API request the way an SDK does.
func call(t *testing.T, h http.Handler, op, body, keyID, secret string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "http://route53resolver.local/", bytes.NewReader([]byte(body)))
	req.Header.Set("X-Amz-Target", "Route53Resolver."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	sum := sha256Hex(body)
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}, req, sum, "route53resolver", "eu-west-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestVerifySigV4(t *testing.T) {
	e, err := New(Config{VerifySigV4: true, Keys: map[string]Key{"AKIDGOOD": {Secret: "s3cret", Account: "111122223333"}}})
	if err != nil {
		t.Fatal(err)
	}
	code, body := call(t, e, "CreateFirewallRuleGroup", `{"CreatorRequestId":"x","Name":"g"}`, "AKIDGOOD", "s3cret")
	if code != 200 || !strings.Contains(body, ":eu-west-1:111122223333:firewall-rule-group/") {
		t.Fatalf("good signature: %d %s", code, body)
	}
	if code, body := call(t, e, "ListFirewallRuleGroups", `{}`, "AKIDGOOD", "wrong"); code != 403 || !strings.Contains(body, "InvalidSignatureException") {
		t.Fatalf("bad signature: %d %s", code, body)
	}
	if code, body := call(t, e, "ListFirewallRuleGroups", `{}`, "AKIDOTHER", "x"); code != 403 || !strings.Contains(body, "UnrecognizedClientException") {
		t.Fatalf("unknown key: %d %s", code, body)
	}
	// Accounts and regions are kept apart.
	e2, _ := New(Config{})
	call(t, e2, "CreateFirewallRuleGroup", `{"CreatorRequestId":"x","Name":"g"}`, "AKIDA", "x")
	if _, body := call(t, e2, "ListFirewallRuleGroups", `{}`, "AKIDB", "x"); !strings.Contains(body, `"g"`) {
		t.Fatalf("unknown keys share the default account: %s", body)
	}
}

func TestUnknownOperationAndBadBody(t *testing.T) {
	e, _ := New(Config{})
	if code, body := call(t, e, "CreateResolverEndpoint", `{}`, "AKID", "x"); code != 400 || !strings.Contains(body, "UnknownOperationException") {
		t.Fatalf("%d %s", code, body)
	}
	if code, body := call(t, e, "CreateFirewallRule", `{"Priority":"high"}`, "AKID", "x"); code != 400 || !strings.Contains(body, "SerializationException") {
		t.Fatalf("%d %s", code, body)
	}
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("{}"))
	req.Header.Set("X-Amz-Target", "Route53Resolver.ListFirewallRuleGroups")
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != 403 || !strings.Contains(rec.Body.String(), "MissingAuthenticationTokenException") {
		t.Fatalf("unsigned: %d %s", rec.Code, rec.Body.String())
	}
}

func TestStatePersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	e, err := New(Config{StatePath: path, Settle: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, body := call(t, e, "CreateFirewallDomainList", `{"CreatorRequestId":"x","Name":"kept"}`, "AKID", "x")
	id := body[strings.Index(body, "rslvr-fdl-") : strings.Index(body, "rslvr-fdl-")+27]
	if code, body := call(t, e, "UpdateFirewallDomains", `{"FirewallDomainListId":"`+id+`","Operation":"ADD","Domains":["a.example","*.b.example"]}`, "AKID", "x"); code != 200 {
		t.Fatal(body)
	}
	if err := e.Save(); err != nil {
		t.Fatal(err)
	}
	again, err := New(Config{StatePath: path})
	if err != nil {
		t.Fatal(err)
	}
	_, body = call(t, again, "ListFirewallDomains", `{"FirewallDomainListId":"`+id+`"}`, "AKID", "x")
	if !strings.Contains(body, `"*.b.example."`) || !strings.Contains(body, `"a.example."`) {
		t.Fatalf("after restart: %s", body)
	}
}

func TestParseFlags(t *testing.T) {
	var f Faults
	if err := ParseFault(&f, "UpdateFirewallDomains:error_rate=0.5,latency=20ms"); err != nil {
		t.Fatal(err)
	}
	if o := f.Ops["UpdateFirewallDomains"]; o.ErrorRate != 0.5 || time.Duration(o.Latency) != 20*time.Millisecond {
		t.Fatalf("%+v", o)
	}
	for _, bad := range []string{"nocolon", "Op:error_rate=2", "Op:what=1", "Op:latency"} {
		if ParseFault(&f, bad) == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
	keys := map[string]Key{}
	if err := ParseKey(keys, "AKID:secret:111122223333"); err != nil || keys["AKID"].Account != "111122223333" {
		t.Fatal(err)
	}
	if err := ParseKey(keys, "AKID:secret:12"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("bad account must be an error that does not show the secret: %v", err)
	}
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
