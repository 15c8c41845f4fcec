package api

import (
	"context"
	"strings"
	"testing"

	"github.com/rpzfw/rpzfw/internal/policydoc"
	"github.com/rpzfw/rpzfw/internal/store"
)

// TestPolicyPutKeepsRedactedSecrets: a policy read with GET and sent back
// with PUT keeps its TSIG secret and header values; a new value replaces
// them.
func TestPolicyPutKeepsRedactedSecrets(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.must(201, "POST", "/api/v1/policies", e.admin, tsigPolicy("xfr"))
	r := e.must(200, "GET", "/api/v1/policies/xfr", e.viewer, nil)
	body := string(r.body)
	if strings.Contains(body, testTSIG) || strings.Contains(body, testHeader) || !strings.Contains(body, `"secret_set":true`) || !strings.Contains(body, policydoc.Redacted) {
		t.Fatalf("GET shows a secret or hides that it is set: %s", body)
	}

	var doc map[string]any
	r.json(t, &doc)
	doc["block_list"] = []string{"extra.example"}
	e.must(200, "PUT", "/api/v1/policies/xfr", e.admin, doc)
	secrets := e.policySecrets("xfr")
	if secrets.TSIG["feed"] != testTSIG || secrets.Headers["web"]["Authorization"] != testHeader {
		t.Fatalf("a PUT with redacted secrets lost them: %+v", secrets)
	}

	// Left out entirely: kept too.
	doc = tsigPolicy("xfr")
	delete(doc["sources"].([]any)[0].(map[string]any)["tsig"].(map[string]any), "secret")
	e.must(200, "PUT", "/api/v1/policies/xfr", e.admin, doc)
	if got := e.policySecrets("xfr"); got.TSIG["feed"] != testTSIG {
		t.Fatalf("a PUT without the secret lost it: %+v", got)
	}

	// A new value replaces it.
	doc = tsigPolicy("xfr")
	doc["sources"].([]any)[0].(map[string]any)["tsig"].(map[string]any)["secret"] = "bmV3LXNlY3JldC12YWx1ZS0xMjM0NTY="
	e.must(200, "PUT", "/api/v1/policies/xfr", e.admin, doc)
	if got := e.policySecrets("xfr"); got.TSIG["feed"] != "bmV3LXNlY3JldC12YWx1ZS0xMjM0NTY=" {
		t.Fatalf("a new TSIG secret was not stored: %+v", got)
	}
	p, err := e.store.GetPolicy(ctx, e.orgA.ID, "xfr")
	if err != nil || strings.Contains(string(p.Doc), testTSIG) || strings.Contains(string(p.Doc), testHeader) {
		t.Fatalf("the stored document holds a secret: %s (%v)", p.Doc, err)
	}

	// A new source with a TSIG key and no secret has nothing to keep.
	doc = tsigPolicy("xfr")
	doc["sources"].([]any)[0].(map[string]any)["name"] = "other"
	delete(doc["sources"].([]any)[0].(map[string]any)["tsig"].(map[string]any), "secret")
	e.wantError(422, CodeInvalid, "sources[0].tsig.secret", "PUT", "/api/v1/policies/xfr", e.admin, doc)
}

func (e *env) policySecrets(name string) policydoc.Secrets {
	e.t.Helper()
	p, err := e.store.GetPolicy(context.Background(), e.orgA.ID, name)
	if err != nil {
		e.t.Fatal(err)
	}
	s, err := policydoc.Open(e.keys, p.Secrets)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// TestPolicyVersions: If-Match, or the version of a document sent back,
// must be the stored version.
func TestPolicyVersions(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/policies", e.admin, blockPolicy("p"))
	var stale map[string]any
	e.must(200, "GET", "/api/v1/policies/p", e.admin, nil).json(t, &stale)
	r := e.must(200, "PUT", "/api/v1/policies/p", e.admin, blockPolicy("p", "two.example"), "If-Match", `"1"`)
	if r.header.Get("ETag") != `"2"` {
		t.Fatalf("ETag after PUT: %q", r.header.Get("ETag"))
	}
	e.wantError(412, CodeVersionMismatch, "version", "PUT", "/api/v1/policies/p", e.admin, blockPolicy("p"), "If-Match", `"1"`)
	e.wantError(412, CodeVersionMismatch, "version", "PUT", "/api/v1/policies/p", e.admin, stale)
	e.wantError(400, CodeBadRequest, "If-Match", "PUT", "/api/v1/policies/p", e.admin, blockPolicy("p"), "If-Match", "yesterday")
	e.must(200, "PUT", "/api/v1/policies/p", e.admin, blockPolicy("p"), "If-Match", `W/"2"`)
	e.must(200, "PUT", "/api/v1/policies/p", e.admin, stale, "If-Match", "*")
	e.must(200, "PUT", "/api/v1/policies/p", e.admin, blockPolicy("p")) // no precondition: last write wins
}

func TestPolicyErrors(t *testing.T) {
	e := newEnv(t)
	e.wantError(400, CodeUnknownField, "nmae", "POST", "/api/v1/policies", e.admin, map[string]any{"nmae": "x", "name": "x", "block_list": []string{"a.example"}})
	e.wantError(400, CodeUnknownField, "sources[0].colour", "POST", "/api/v1/policies", e.admin,
		map[string]any{"name": "x", "sources": []any{map[string]any{"name": "s", "kind": "https", "url": "https://a.example/z", "colour": "red"}}})
	e.wantError(400, CodeBadJSON, "", "POST", "/api/v1/policies", e.admin, `{"name": `)
	e.wantError(400, CodeBadJSON, "", "POST", "/api/v1/policies", e.admin, `["name"]`)
	e.wantError(422, CodeInvalid, "name", "POST", "/api/v1/policies", e.admin, blockPolicy("bad name"))
	e.wantError(422, CodeInvalid, "block_list[0]", "POST", "/api/v1/policies", e.admin, blockPolicy("p", "under_score.example"))
	e.wantError(422, CodeInvalid, "sources[0].path", "POST", "/api/v1/policies", e.admin,
		map[string]any{"name": "x", "sources": []any{map[string]any{"name": "s", "kind": "file", "path": "/etc/passwd"}}})
	e.must(201, "POST", "/api/v1/policies", e.admin, blockPolicy("p"))
	e.wantError(409, CodeConflict, "name", "POST", "/api/v1/policies", e.admin, blockPolicy("p"))
	e.wantError(422, CodeInvalid, "name", "PUT", "/api/v1/policies/p", e.admin, blockPolicy("q"))
	e.wantError(404, CodeNotFound, "", "PUT", "/api/v1/policies/none", e.admin, blockPolicy("none"))
	e.wantError(404, CodeNotFound, "", "GET", "/api/v1/policies/none", e.admin, nil)
	e.wantError(404, CodeNotFound, "", "DELETE", "/api/v1/policies/none", e.admin, nil)
}

func TestPredefinedPoliciesAreReadOnly(t *testing.T) {
	e := newEnv(t)
	checked, err := policydoc.Check("sample", mustJSON(t, blockPolicy("sample")), policydoc.Secrets{}, policydoc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.CreatePolicy(context.Background(), store.Policy{OrgID: e.orgA.ID, Name: "sample", Doc: checked.Doc, Predefined: true}); err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	e.must(200, "GET", "/api/v1/policies/sample", e.viewer, nil).json(t, &p)
	if p["predefined"] != true {
		t.Fatalf("predefined not shown: %v", p)
	}
	e.wantError(403, CodePredefined, "", "PUT", "/api/v1/policies/sample", e.admin, blockPolicy("sample", "x.example"))
	e.wantError(403, CodePredefined, "", "DELETE", "/api/v1/policies/sample", e.admin, nil)
	e.wantError(409, CodeConflict, "name", "POST", "/api/v1/policies", e.admin, blockPolicy("sample"))
	// A device may use it.
	e.must(201, "POST", "/api/v1/devices", e.admin, accessKeyDevice("edge", "sample"))
}

func TestPolicyInUseIsNotDeleted(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/policies", e.admin, blockPolicy("p"))
	e.must(201, "POST", "/api/v1/devices", e.admin, accessKeyDevice("edge-b", "p"))
	e.must(201, "POST", "/api/v1/devices", e.admin, accessKeyDevice("edge-a", "p"))
	got := e.wantError(409, CodeInUse, "", "DELETE", "/api/v1/policies/p", e.admin, nil)
	if !strings.Contains(got.Message, "edge-a, edge-b") {
		t.Fatalf("the 409 does not name the devices: %s", got.Message)
	}
	e.must(200, "GET", "/api/v1/policies/p", e.admin, nil)
}
