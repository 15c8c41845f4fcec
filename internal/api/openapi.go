package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/rpzfw/rpzfw/internal/device"
)

// operation describes one route in the OpenAPI document.
type operation struct {
	summary string
	// query and header parameters (path parameters come from the pattern).
	params []param
	// request is the body (a value of its Go type, or a schemaRef); nil:
	// none.
	request any
	// status and response are the success answer; response nil: no body.
	status   int
	response any
	// errors are the error statuses of this route beyond 401, 403 and 429,
	// which the route's access adds.
	errors []int
}

type param struct {
	in, name, typ, description string
}

// operations describes every route of the route table; a test checks the
// two name the same routes.
func operations() map[string]operation {
	dev := []int{404}
	return map[string]operation{
		"GET /healthz":             {summary: "The process answers.", status: 200, response: healthResponse{}},
		"GET /readyz":              {summary: "The service can do its work (the store answers, no part has failed).", status: 200, response: healthResponse{}, errors: []int{503}},
		"GET /metrics":             {summary: "Prometheus metrics (text format). Needs a token unless the server runs with public metrics.", status: 200},
		"GET /api/v1/openapi.json": {summary: "This document.", status: 200, response: map[string]any{}},

		"GET /api/v1/policies":        {summary: "List the organization's policies (pre-defined ones included).", status: 200, response: schemaRef("PolicyList")},
		"POST /api/v1/policies":       {summary: "Create a policy.", request: schemaRef("Policy"), status: 201, response: schemaRef("Policy"), errors: []int{400, 409, 413, 422}},
		"GET /api/v1/policies/{name}": {summary: "A policy, its secrets redacted. The ETag is its version.", status: 200, response: schemaRef("Policy"), errors: dev},
		"PUT /api/v1/policies/{name}": {summary: "Replace a policy. Secrets left out or sent as \"[redacted]\" keep their stored values. Pre-defined policies are read-only (403).",
			params:  []param{{"header", "If-Match", "string", "The version (ETag) the change was made from; 412 when the policy has moved on."}},
			request: schemaRef("Policy"), status: 200, response: schemaRef("Policy"), errors: []int{400, 404, 409, 412, 413, 422}},
		"DELETE /api/v1/policies/{name}": {summary: "Delete a policy no device uses (409 in_use names the devices that do). Pre-defined policies cannot be deleted (403).", status: 204, errors: []int{404, 409}},

		"GET /api/v1/policies/{name}/status": {summary: "The policy's sources in precedence order with their freshness (serial, last fetch, last good copy, held shrinks), total records versus the domains the plan installs, and what was removed by reason.",
			params: []param{{"query", "device", "string", "Compile with this device's settings (default: the first device using the policy, else the defaults)."}},
			status: 200, response: PolicyStatus{}, errors: []int{404, 422, 503}},
		"POST /api/v1/policies/{name}/explain": {summary: "Explain a query name: what each source says and at which line, what BIND would answer, and which rule of the plan enforces it (as rpzfw explain). A read: viewers may call it.",
			request: explainInput{}, status: 200, response: ExplainResult{}, errors: []int{400, 404, 409, 413, 422, 503}},
		"POST /api/v1/policies/{name}/sources/{source}/accept": {summary: "Accept a source's held update (held because it shrank more than max_shrink): it becomes the last good copy and the devices using the policy sync again.",
			status: 200, response: SourceStatus{}, errors: []int{404, 409, 503}},

		"GET /api/v1/devices":            {summary: "List the organization's devices with their status.", status: 200, response: DeviceList{}},
		"POST /api/v1/devices":           {summary: "Create a device. Every problem is a 422 naming its field; an invalid device is never stored.", request: deviceInput{}, status: 201, response: DeviceView{}, errors: []int{400, 409, 413, 422}},
		"GET /api/v1/devices/{nickname}": {summary: "A device with its status. The secret access key is never shown (secret_set).", status: 200, response: DeviceView{}, errors: dev},
		"PATCH /api/v1/devices/{nickname}": {summary: "Change the fields given (JSON merge). The secret is kept unless a new one is given; changing credentials.type clears the old type's fields.",
			request: deviceInput{}, status: 200, response: DeviceView{}, errors: []int{400, 404, 409, 413, 422}},
		"DELETE /api/v1/devices/{nickname}": {summary: "Remove what rpzfw owns in the rule group (unless keep_rules), then delete the device. 502 when the removal failed; the device is kept.",
			params: []param{{"query", "keep_rules", "boolean", "Leave rpzfw's rules and lists in the rule group."}}, status: 204, errors: []int{400, 404, 502}},
		"POST /api/v1/devices/{nickname}/sync": {summary: "Sync now, even after a hard error.", status: 202, response: DeviceView{}, errors: dev},
		"POST /api/v1/devices/{nickname}/preflight": {summary: "Test the connection: try every permission sync and log upload need with the device's credentials, and give the least-privilege IAM policy.",
			status: 200, response: device.PreflightReport{}, errors: []int{404, 502}},
		"GET /api/v1/devices/{nickname}/syncs": {summary: "The device's sync history, newest first.",
			params: []param{{"query", "limit", "integer", "How many (1-1000, default 50)."}}, status: 200, response: SyncList{}, errors: []int{400, 404}},
		"GET /api/v1/devices/{nickname}/plan": {summary: "The summary of the plan the device compiled last: rules, removed entries by reason, truncation. 404 not_compiled before its first compile.",
			status: 200, response: schemaRef("Plan"), errors: dev},
		"GET /api/v1/devices/{nickname}/logs": {summary: "The device's log health: its queue's state (an access denied names the missing permission), last log retrieved, newest line, objects and lines per minute, bad lines, quarantined messages.",
			status: 200, response: LogHealth{}, errors: dev},
		"POST /api/v1/devices/{nickname}/logs/setup": {summary: "With the device's credentials: create an SQS queue only the log bucket may send to, the bucket's notification of new log objects, and (query_logging) a Resolver query logging configuration for the rule group's VPCs; then turn log upload on. dry_run only says what it would do.",
			request: logSetupInput{}, status: 200, response: LogSetupResult{}, errors: []int{400, 404, 409, 413, 422, 502}},
		"POST /api/v1/devices/{nickname}/logs/teardown": {summary: "Undo logs setup (only what it made, found by name and tag) and turn log upload off.",
			params: []param{{"query", "dry_run", "boolean", "Only say what would be done."}}, status: 200, response: LogSetupResult{}, errors: []int{400, 404, 502}},
		"GET /api/v1/devices/{nickname}/iam-policy": {summary: "The least-privilege IAM policy for the device, once its AWS account is known (409 before its first sync or preflight).",
			status: 200, response: IAMPolicyView{}, errors: []int{404, 409}},
		"GET /api/v1/devices/{nickname}/canary": {summary: "A name the device's firewall blocks (or would, in monitor-only mode), read from its rule group with its credentials: the setup's test step. 404 before a rule that blocks holds a domain.",
			status: 200, response: CanaryView{}, errors: []int{404, 409, 502}},

		"GET /api/v1/reports/summary": {summary: "Resolutions, blocked, alerted, % blocked and distinct clients over a range (to the minute). Cached queries are not logged: counts are a lower bound.",
			params: reportParams(), status: 200, response: ReportSummary{}, errors: []int{400}},
		"GET /api/v1/reports/timeline": {summary: "Blocked, alerted and passed resolutions in buckets chosen for the range (a minute up to 3 hours ... a day).",
			params: reportParams(), status: 200, response: ReportTimeline{}, errors: []int{400}},
		"GET /api/v1/reports/top": {summary: "The domains, clients, feeds or rules with the most hits (blocked and alerted). format=csv answers text/csv.",
			params: append(reportParams(), param{"query", "by", "string", "domain (default), client, feed or rule."},
				param{"query", "limit", "integer", "How many (1-1000, default 10)."}, param{"query", "format", "string", "json (default) or csv."}),
			status: 200, response: ReportTop{}, errors: []int{400}},
		"GET /api/v1/reports/hits": {summary: "BLOCK and ALERT hits, newest first, with the feed and line that caused each. format=csv answers text/csv.",
			params: append(reportParams(), param{"query", "name", "string", "A query name, or *.example.com for every name under it."},
				param{"query", "client", "string", "A client address."}, param{"query", "rule", "string", "A firewall rule's name."},
				param{"query", "limit", "integer", "How many (1-1000, default 100)."},
				param{"query", "before", "string", "The next of the previous page."}, param{"query", "format", "string", "json (default) or csv."}),
			status: 200, response: ReportHits{}, errors: []int{400}},
		"GET /api/v1/logs/quarantine": {summary: "Log messages that kept failing, with the reason, newest first.",
			params: []param{{"query", "queue", "string", "Only those of this SQS queue URL."}}, status: 200, response: QuarantineList{}},
		"POST /api/v1/logs/quarantine/retry":      {summary: "Retry every quarantined message of the organization.", status: 202, response: RetryResult{}},
		"POST /api/v1/logs/quarantine/{id}/retry": {summary: "Retry one quarantined message.", status: 202, response: RetryResult{}, errors: dev},
	}
}

var pathParamRe = regexp.MustCompile(`\{([a-z_]+)\}`)

// openAPIDoc builds the document for the routes as this server mounts
// them (access decides security and the auth errors).
func (s *Server) openAPIDoc() ([]byte, error) {
	g := &schemaGen{components: handSchemas()}
	g.of(errorBody{})
	accessOf := map[string]access{}
	for _, rt := range s.routes() {
		accessOf[rt.pattern] = rt.access
	}
	paths := map[string]map[string]any{}
	for pattern, op := range operations() {
		method, path, _ := strings.Cut(pattern, " ")
		a, ok := accessOf[pattern]
		if !ok {
			return nil, fmt.Errorf("api: the OpenAPI document describes %s, which is not in the route table", pattern)
		}
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][strings.ToLower(method)] = op.describe(g, method, path, a)
	}
	doc := map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "rpzfw",
			"version":     "1",
			"description": "Keep AWS Route 53 Resolver DNS Firewall rule groups (devices) in sync with RPZ policies. Errors are {\"error\": {\"code\", \"message\", \"field\"}}. Secrets are accepted and never returned.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas":         g.components,
			"securitySchemes": map[string]any{"bearer": map[string]any{"type": "http", "scheme": "bearer", "description": "An API token (rpzfw admin token create). Viewer tokens may only read."}},
		},
		"security": []any{map[string]any{"bearer": []string{}}},
	}
	return json.MarshalIndent(doc, "", "  ")
}

func (op operation) describe(g *schemaGen, method, path string, a access) map[string]any {
	out := map[string]any{"summary": op.summary, "operationId": operationID(method, path)}
	var params []any
	for _, m := range pathParamRe.FindAllStringSubmatch(path, -1) {
		params = append(params, map[string]any{"in": "path", "name": m[1], "required": true, "schema": map[string]any{"type": "string"}})
	}
	for _, p := range op.params {
		params = append(params, map[string]any{"in": p.in, "name": p.name, "description": p.description, "schema": map[string]any{"type": p.typ}})
	}
	if params != nil {
		out["parameters"] = params
	}
	if op.request != nil {
		out["requestBody"] = map[string]any{"required": true, "content": jsonContent(g.of(op.request))}
	}
	ok := map[string]any{"description": http.StatusText(op.status)}
	if op.response != nil {
		ok["content"] = jsonContent(g.of(op.response))
	} else if strings.HasSuffix(path, "/metrics") {
		ok["content"] = map[string]any{"text/plain": map[string]any{"schema": map[string]any{"type": "string"}}}
	}
	responses := map[string]any{fmt.Sprint(op.status): ok}
	errs := append([]int(nil), op.errors...)
	switch a {
	case public:
		out["security"] = []any{}
	case read:
		errs = append(errs, 401, 429)
	case write:
		errs = append(errs, 401, 403, 429)
	}
	errs = append(errs, 500)
	sort.Ints(errs)
	for _, code := range errs {
		responses[fmt.Sprint(code)] = map[string]any{"description": http.StatusText(code), "content": jsonContent(ref("ErrorResponse"))}
	}
	out["responses"] = responses
	return out
}

func jsonContent(schema map[string]any) map[string]any {
	return map[string]any{"application/json": map[string]any{"schema": schema}}
}

// operationID is a name for code generators: the method and the path's
// words, such as getDevicesNicknameSyncs.
func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, part := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '{' || r == '}' || r == '.' || r == '_' }) {
		if part == "api" || part == "v1" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

// openAPI serves the document.
func (s *Server) openAPI(w http.ResponseWriter, _ *http.Request, _ caller) error {
	writeRaw(w, http.StatusOK, s.openapi)
	return nil
}

// handSchemas are the components that no Go type describes: a policy is
// the policy file's document, read by package policy.
func handSchemas() map[string]any {
	str := map[string]any{"type": "string"}
	list := map[string]any{
		"description": "Domains (a leading *. for every subdomain), or {\"file\": PATH} under a directory the server allows.",
		"oneOf": []any{
			map[string]any{"type": "array", "items": str},
			map[string]any{"type": "object", "properties": map[string]any{"file": str}, "required": []string{"file"}, "additionalProperties": false},
		},
	}
	return map[string]any{
		"Policy": map[string]any{
			"type":                 "object",
			"description":          "A policy with the policy file's keys. Read-only fields sent back are ignored, except version: when present (and no If-Match is sent) it must be the stored version.",
			"additionalProperties": false,
			"required":             []string{"name"},
			"properties": map[string]any{
				"name":       map[string]any{"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"},
				"max_shrink": map[string]any{"type": []string{"number", "string"}, "description": "How far a source may shrink before it is held: 0.5 or \"50%\" (default)."},
				"allow_list": list,
				"block_list": list,
				"sources":    map[string]any{"type": "array", "items": ref("Source"), "description": "In precedence order: the first that matches decides."},
				"predefined": map[string]any{"type": "boolean", "readOnly": true},
				"version":    map[string]any{"type": "integer", "description": "Grows at every change."},
				"updated_at": map[string]any{"type": "string", "format": "date-time", "readOnly": true},
			},
		},
		"PolicyList": map[string]any{
			"type": "object", "required": []string{"policies"},
			"properties": map[string]any{"policies": map[string]any{"type": "array", "items": ref("Policy")}},
		},
		"Source":   sourceSchema(),
		"TSIG":     tsigSchema(),
		"Plan":     map[string]any{"type": "object", "description": "The compiled plan's summary as the scheduler stores it: rules with actions and sizes, entries removed by reason and by source, truncation."},
		"Redacted": map[string]any{"type": "string", "description": "Write-only: the stored value is shown as \"[redacted]\"; sending \"[redacted]\" back keeps it."},
	}
}

func sourceSchema() map[string]any {
	str := map[string]any{"type": "string"}
	return map[string]any{
		"type": "object", "additionalProperties": false, "required": []string{"name", "kind"},
		"properties": map[string]any{
			"name":      str,
			"kind":      map[string]any{"type": "string", "enum": []string{"file", "https", "zone-transfer"}},
			"allow":     map[string]any{"type": "boolean", "description": "Every match of the source lets the query through (PASSTHRU)."},
			"format":    map[string]any{"type": "string", "enum": []string{"rpz", "list"}},
			"origin":    str,
			"refresh":   map[string]any{"type": "string", "description": "A duration such as 30m; default by kind."},
			"path":      map[string]any{"type": "string", "description": "file: an absolute path under a directory the server allows."},
			"url":       map[string]any{"type": "string", "description": "https"},
			"headers":   map[string]any{"type": "object", "additionalProperties": ref("Redacted"), "description": "https: request headers; their values are secrets."},
			"max_size":  map[string]any{"type": []string{"string", "integer"}, "description": "https: the largest download, such as 256MiB."},
			"primaries": map[string]any{"type": "array", "items": str, "description": "zone-transfer: IP[:port] of the primaries."},
			"zone":      str,
			"ixfr":      map[string]any{"type": "boolean"},
			"tsig":      ref("TSIG"),
		},
	}
}

func tsigSchema() map[string]any {
	return map[string]any{
		"type": "object", "additionalProperties": false,
		"properties": map[string]any{
			"name":       map[string]any{"type": "string"},
			"algorithm":  map[string]any{"type": "string", "enum": []string{"hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512"}},
			"secret":     map[string]any{"type": "string", "writeOnly": true, "description": "Stored encrypted, never shown; left out on a PUT, the stored one is kept."},
			"secret_set": map[string]any{"type": "boolean", "readOnly": true},
		},
	}
}
