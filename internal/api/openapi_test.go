package api

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
)

// TestOpenAPIMatchesRoutes fetches the document over HTTP and fails when a
// route of the table is missing from it, or it describes a route the
// table lacks; every reference must resolve.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t)
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	r := e.must(200, "GET", "/api/v1/openapi.json", e.viewer, nil)
	r.json(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	inDoc := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			inDoc[strings.ToUpper(method)+" "+path] = true
			if op["summary"] == "" || op["responses"] == nil || op["operationId"] == "" {
				t.Errorf("%s %s: no summary, operationId or responses", method, path)
			}
		}
	}
	inTable := map[string]bool{}
	for _, rt := range e.srv.routes() {
		inTable[rt.pattern] = true
		if !inDoc[rt.pattern] {
			t.Errorf("route %s is not in the OpenAPI document", rt.pattern)
		}
		method, path, _ := strings.Cut(rt.pattern, " ")
		op := doc.Paths[path][strings.ToLower(method)]
		sec, hasSec := op["security"].([]any)
		if public := rt.access == public; public != (hasSec && len(sec) == 0) {
			t.Errorf("%s: the document's security does not say public=%v", rt.pattern, public)
		}
	}
	for p := range inDoc {
		if !inTable[p] {
			t.Errorf("the OpenAPI document describes %s, which is not a route", p)
		}
	}
	for _, ref := range refs(r.body) {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		if _, ok := doc.Components.Schemas[name]; !ok || name == ref {
			t.Errorf("unresolved reference %s", ref)
		}
	}
}

// refs lists every "$ref" in a JSON document.
func refs(raw []byte) []string {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return []string{"not JSON"}
	}
	set := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, x := range t {
				if s, ok := x.(string); ok && k == "$ref" {
					set[s] = true
				}
				walk(x)
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	walk(v)
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIDeviceSchema: the device schemas come from the Go types, so
// the secret is write-only and the view has no field for it.
func TestOpenAPIDeviceSchema(t *testing.T) {
	e := newEnv(t)
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties           map[string]map[string]any `json:"properties"`
				AdditionalProperties *bool                     `json:"additionalProperties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	e.must(200, "GET", "/api/v1/openapi.json", e.viewer, nil).json(t, &doc)
	s := doc.Components.Schemas
	if s["CredentialsInput"].Properties["secret_access_key"]["writeOnly"] != true {
		t.Errorf("secret_access_key is not write-only: %v", s["CredentialsInput"].Properties)
	}
	if _, ok := s["Credentials"].Properties["secret_access_key"]; ok || s["Credentials"].Properties["secret_set"] == nil {
		t.Errorf("the credentials view: %v", s["Credentials"].Properties)
	}
	if ap := s["DeviceInput"].AdditionalProperties; ap == nil || *ap {
		t.Error("DeviceInput does not refuse unknown fields")
	}
	for _, f := range []string{"nickname", "policy", "region", "rule_group_id", "endpoint_url", "priority_band", "credentials", "max_policy_size", "monitor_only", "log_upload", "paused", "account_id", "status", "created_at", "updated_at"} {
		if s["Device"].Properties[f] == nil {
			t.Errorf("the Device schema lacks %s", f)
		}
	}
}

// TestOpenAPISchemaNames: the components keep the names they were
// published under, whatever the Go types are called (schemaName), so a
// rename or export of a view does not rename a client's types.
func TestOpenAPISchemaNames(t *testing.T) {
	e := newEnv(t)
	var doc struct {
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	e.must(200, "GET", "/api/v1/openapi.json", e.viewer, nil).json(t, &doc)
	for _, name := range []string{
		"CanaryView", "CompileSettings", "Credentials", "CredentialsInput", "Device", "DeviceInput", "DeviceList",
		"DeviceStatus", "Error", "ErrorResponse", "ExplainInput", "ExplainRemoval", "ExplainResult", "ExplainRule",
		"ExplainStep", "Health", "HeldView", "HitView", "IamPolicyView", "LogHealth", "LogSetupInput", "LogSetupResult",
		"LogUpload", "LogUploadInput", "Plan", "Policy", "PolicyList", "PolicyStatus", "PreflightCheck", "PreflightReport",
		"QuarantineList", "QuarantinedMessage", "Redacted", "ReportHits", "ReportSummary", "ReportTimeline", "ReportTop",
		"RetryResult", "Source", "SourceStatus", "Step", "SyncList", "SyncRun", "TSIG", "TimelinePoint", "TopRow",
	} {
		if _, ok := doc.Components.Schemas[name]; !ok {
			t.Errorf("the OpenAPI document has no schema %s", name)
		}
	}
}
