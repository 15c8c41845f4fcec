package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/store"
)

// TestDeviceValidationNamesTheField: every invalid device is refused with
// a 422 that names its field, and nothing is stored.
func TestDeviceValidationNamesTheField(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/policies", e.admin, blockPolicy("p"))
	cases := []struct {
		name  string
		edit  func(d map[string]any)
		field string
	}{
		{"nickname with bad characters", func(d map[string]any) { d["nickname"] = "edge one!" }, "nickname"},
		{"nickname too long", func(d map[string]any) { d["nickname"] = strings.Repeat("a", 65) }, "nickname"},
		{"nickname empty", func(d map[string]any) { d["nickname"] = "" }, "nickname"},
		{"provider", func(d map[string]any) { d["provider"] = "azure-dns" }, "provider"},
		{"no policy", func(d map[string]any) { delete(d, "policy") }, "policy"},
		{"policy that does not exist", func(d map[string]any) { d["policy"] = "nope" }, "policy"},
		{"note too long", func(d map[string]any) { d["note"] = strings.Repeat("n", device.MaxNoteLen+1) }, "note"},
		{"note with control characters", func(d map[string]any) { d["note"] = "a\x00b" }, "note"},
		{"region", func(d map[string]any) { d["region"] = "mars-1" }, "region"},
		{"sandbox region without a sandbox", func(d map[string]any) { d["region"] = device.SandboxRegion }, "region"},
		{"rule_group_id", func(d map[string]any) { d["rule_group_id"] = "rg-123" }, "rule_group_id"},
		{"endpoint_url with credentials", func(d map[string]any) { d["endpoint_url"] = "https://user:pass@vpce.example:443" }, "endpoint_url"},
		{"endpoint_url scheme", func(d map[string]any) { d["endpoint_url"] = "ftp://vpce.example" }, "endpoint_url"},
		{"priority_band reversed", func(d map[string]any) { d["priority_band"] = "9000-1000" }, "priority_band"},
		{"priority_band empty", func(d map[string]any) { d["priority_band"] = "" }, "priority_band"},
		{"max_policy_size 0", func(d map[string]any) { d["max_policy_size"] = 0 }, "max_policy_size"},
		{"max_policy_size 10^9", func(d map[string]any) { d["max_policy_size"] = 1_000_000_000 }, "max_policy_size"},
		{"no credentials", func(d map[string]any) { delete(d, "credentials") }, "credentials.type"},
		{"credentials type", func(d map[string]any) { cred(d)["type"] = "password" }, "credentials.type"},
		{"ambient not allowed", func(d map[string]any) { d["credentials"] = map[string]any{"type": "ambient"} }, "credentials.type"},
		{"access key ID", func(d map[string]any) { cred(d)["access_key_id"] = "akia-lower" }, "credentials.access_key_id"},
		{"secret missing", func(d map[string]any) { delete(cred(d), "secret_access_key") }, "credentials.secret_access_key"},
		{"secret redacted", func(d map[string]any) { cred(d)["secret_access_key"] = "[redacted]" }, "credentials.secret_access_key"},
		{"secret too short", func(d map[string]any) { cred(d)["secret_access_key"] = "short" }, "credentials.secret_access_key"},
		{"secret with a space", func(d map[string]any) { cred(d)["secret_access_key"] = "abcdefgh ijklmnopqrst" }, "credentials.secret_access_key"},
		{"role ARN", func(d map[string]any) {
			d["credentials"] = map[string]any{"type": "role", "role_arn": "arn:aws:iam::12:role/x"}
		}, "credentials.role_arn"},
		{"external ID", func(d map[string]any) {
			d["credentials"] = map[string]any{"type": "role", "role_arn": "arn:aws:iam::111122223333:role/rpzfw", "external_id": "bad id!"}
		}, "credentials.external_id"},
		{"role with an access key ID", func(d map[string]any) {
			d["credentials"] = map[string]any{"type": "role", "role_arn": "arn:aws:iam::111122223333:role/rpzfw", "access_key_id": testAccessKey}
		}, "credentials.access_key_id"},
		{"role with a secret", func(d map[string]any) {
			d["credentials"] = map[string]any{"type": "role", "role_arn": "arn:aws:iam::111122223333:role/rpzfw", "secret_access_key": testSecretKey}
		}, "credentials.secret_access_key"},
		{"access key with a role ARN", func(d map[string]any) { cred(d)["role_arn"] = "arn:aws:iam::111122223333:role/rpzfw" }, "credentials.role_arn"},
		{"log upload without a queue", func(d map[string]any) { d["log_upload"] = map[string]any{"enabled": true} }, "log_upload.sqs_queue_url"},
		{"bad queue URL", func(d map[string]any) {
			d["log_upload"] = map[string]any{"enabled": true, "sqs_queue_url": "https://sqs.us-east-1.amazonaws.com/not-an-account/q"}
		}, "log_upload.sqs_queue_url"},
		{"bad queue URL while disabled", func(d map[string]any) { d["log_upload"] = map[string]any{"sqs_queue_url": "queue"} }, "log_upload.sqs_queue_url"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := accessKeyDevice("edge", "p")
			c.edit(body)
			e.t = t
			e.wantError(422, CodeInvalid, c.field, "POST", "/api/v1/devices", e.admin, body)
		})
	}
	e.t = t
	var devs struct{ Devices []deviceOut }
	e.must(200, "GET", "/api/v1/devices", e.admin, nil).json(t, &devs)
	if len(devs.Devices) != 0 {
		t.Fatalf("an invalid device was stored: %+v", devs.Devices)
	}
	if n := e.changed.Load(); n != 1 {
		t.Fatalf("Changed called %d times, want once (the policy)", n)
	}
}

func cred(d map[string]any) map[string]any { return d["credentials"].(map[string]any) }

// TestDeviceJSONErrors: unknown fields (at any depth) and wrong types are
// 400s that name the field.
func TestDeviceJSONErrors(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/policies", e.admin, blockPolicy("p"))
	body := accessKeyDevice("edge", "p")
	body["colour"] = "red"
	e.wantError(400, CodeUnknownField, "colour", "POST", "/api/v1/devices", e.admin, body)
	body = accessKeyDevice("edge", "p")
	cred(body)["session_token"] = "x"
	e.wantError(400, CodeUnknownField, "credentials.session_token", "POST", "/api/v1/devices", e.admin, body)
	body = accessKeyDevice("edge", "p")
	body["max_policy_size"] = "lots"
	e.wantError(400, CodeBadJSON, "max_policy_size", "POST", "/api/v1/devices", e.admin, body)
	e.wantError(400, CodeBadJSON, "", "POST", "/api/v1/devices", e.admin, `{"nickname": "edge",`)
	e.wantError(400, CodeBadJSON, "", "POST", "/api/v1/devices", e.admin, `[1, 2]`)
	e.wantError(400, CodeBadJSON, "", "POST", "/api/v1/devices", e.admin, "")
	e.must(201, "POST", "/api/v1/devices", e.admin, accessKeyDevice("edge", "p"))
	e.wantError(400, CodeUnknownField, "nick", "PATCH", "/api/v1/devices/edge", e.admin, map[string]any{"nick": "x"})
	e.wantError(409, CodeConflict, "nickname", "POST", "/api/v1/devices", e.admin, accessKeyDevice("edge", "p"))
}

func TestOversizeBodies(t *testing.T) {
	e := newEnv(t)
	big := `{"nickname": "` + strings.Repeat("x", MaxBodyBytes) + `"}`
	e.wantError(413, CodeTooLarge, "", "POST", "/api/v1/devices", e.admin, big)
	e.wantError(413, CodeTooLarge, "", "POST", "/api/v1/policies", e.admin, big)
}

// TestDevicePatch: a merge of the fields given; the secret is kept unless
// a new one comes; a change of credential type clears the old type's
// fields; an invalid result changes nothing.
func TestDevicePatch(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/policies", e.admin, blockPolicy("p"))
	e.must(201, "POST", "/api/v1/policies", e.admin, blockPolicy("q"))
	e.must(201, "POST", "/api/v1/devices", e.admin, accessKeyDevice("edge", "p"))
	before := e.storedDevice(e.orgA, "edge")

	var d deviceOut
	e.must(200, "PATCH", "/api/v1/devices/edge", e.admin, map[string]any{"note": "n", "policy": "q", "credentials": map[string]any{"secret_access_key": "[redacted]"}}).json(t, &d)
	after := e.storedDevice(e.orgA, "edge")
	if d.Note != "n" || d.Policy != "q" || !d.Credentials.SecretSet || string(after.SecretKey) != string(before.SecretKey) || after.Generation <= before.Generation {
		t.Fatalf("after a PATCH of note and policy: %+v (generation %d -> %d)", d, before.Generation, after.Generation)
	}

	// A GET sent back as it is changes nothing and keeps the secret.
	r := e.must(200, "GET", "/api/v1/devices/edge", e.admin, nil)
	e.must(200, "PATCH", "/api/v1/devices/edge", e.admin, r.body)
	if got := e.storedDevice(e.orgA, "edge"); string(got.SecretKey) != string(before.SecretKey) {
		t.Fatal("a PATCH of the device as read lost its secret")
	}

	unchanged := e.storedDevice(e.orgA, "edge")
	e.wantError(422, CodeInvalid, "credentials.secret_access_key", "PATCH", "/api/v1/devices/edge", e.admin,
		map[string]any{"credentials": map[string]any{"access_key_id": "AKIAOTHERKEY00000000"}})
	e.wantError(422, CodeInvalid, "policy", "PATCH", "/api/v1/devices/edge", e.admin, map[string]any{"policy": "gone"})
	e.wantError(422, CodeInvalid, "nickname", "PATCH", "/api/v1/devices/edge", e.admin, map[string]any{"nickname": "renamed"})
	e.wantError(422, CodeInvalid, "credentials.role_arn", "PATCH", "/api/v1/devices/edge", e.admin, map[string]any{"credentials": map[string]any{"type": "role"}})
	if got := e.storedDevice(e.orgA, "edge"); got.CredKind != store.CredAccessKey || got.Policy != "q" || got.Generation != unchanged.Generation {
		t.Fatalf("a refused PATCH changed the device: %+v", got)
	}

	d = deviceOut{}
	e.must(200, "PATCH", "/api/v1/devices/edge", e.admin, map[string]any{"credentials": map[string]any{"type": "role", "role_arn": "arn:aws:iam::111122223333:role/rpzfw"}}).json(t, &d)
	got := e.storedDevice(e.orgA, "edge")
	if d.Credentials.Type != "role" || d.Credentials.SecretSet || d.Credentials.AccessKeyID != "" || got.AccessKeyID != "" || len(got.SecretKey) != 0 {
		t.Fatalf("switching to a role kept the access key: %+v / %+v", d.Credentials, got)
	}
	// Back to an access key: the secret must come again.
	e.wantError(422, CodeInvalid, "credentials.secret_access_key", "PATCH", "/api/v1/devices/edge", e.admin,
		map[string]any{"credentials": map[string]any{"type": "access_key", "access_key_id": testAccessKey}})
	e.must(200, "PATCH", "/api/v1/devices/edge", e.admin, map[string]any{"credentials": map[string]any{"type": "access_key", "access_key_id": testAccessKey, "secret_access_key": testSecretKey}})
	got = e.storedDevice(e.orgA, "edge")
	plain, err := e.keys.Open(got.SecretKey, store.PurposeDeviceSecret)
	if err != nil || string(plain) != testSecretKey || got.RoleARN != "" {
		t.Fatalf("the new secret was not sealed as given: %v %+v", err, got)
	}
}

func TestDeviceDeleteFailureKeepsTheDevice(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/policies", e.admin, blockPolicy("p"))
	e.must(201, "POST", "/api/v1/devices", e.admin, accessKeyDevice("edge", "p"))
	e.actions.OnRemove = func(_ context.Context, _ store.Device, keep bool) error {
		if keep {
			t.Error("keep_rules was not asked for")
		}
		return errors.New("AccessDeniedException: not authorized to perform DeleteFirewallRule")
	}
	got := e.wantError(502, CodeUpstream, "", "DELETE", "/api/v1/devices/edge", e.admin, nil)
	if !strings.Contains(got.Message, "AccessDenied") || !strings.Contains(got.Message, "keep_rules=true") {
		t.Fatalf("message: %s", got.Message)
	}
	e.getDevice(e.admin, "edge")
	e.actions.OnRemove = func(context.Context, store.Device, bool) error {
		return fmt.Errorf("device edge is being synced by instance b: %w", store.ErrConflict)
	}
	e.wantError(409, CodeConflict, "", "DELETE", "/api/v1/devices/edge", e.admin, nil)
	e.getDevice(e.admin, "edge")
	e.wantError(400, CodeBadRequest, "keep_rules", "DELETE", "/api/v1/devices/edge?keep_rules=maybe", e.admin, nil)
}

func TestSyncsLimit(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/policies", e.admin, blockPolicy("p"))
	e.must(201, "POST", "/api/v1/devices", e.admin, accessKeyDevice("edge", "p"))
	for _, q := range []string{"0", "1001", "-1", "ten", "1.5"} {
		e.wantError(400, CodeBadRequest, "limit", "GET", "/api/v1/devices/edge/syncs?limit="+q, e.viewer, nil)
	}
	var page struct{ Syncs []any }
	e.must(200, "GET", "/api/v1/devices/edge/syncs?limit=1000", e.viewer, nil).json(t, &page)
	if page.Syncs == nil {
		t.Fatal("an empty history is not an empty list")
	}
}

func TestDeviceShowsItsLastSync(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/policies", e.admin, blockPolicy("p"))
	e.must(201, "POST", "/api/v1/devices", e.admin, accessKeyDevice("edge", "p"))
	var before struct {
		LastSync *struct{} `json:"last_sync"`
	}
	e.must(200, "GET", "/api/v1/devices/edge", e.viewer, nil).json(t, &before)
	if before.LastSync != nil {
		t.Fatal("a device never synced shows a last sync")
	}
	d := e.storedDevice(e.orgA, "edge")
	for i, added := range []int{10, 3} {
		if _, err := e.store.AddRun(context.Background(), store.SyncRun{DeviceID: d.ID, Trigger: "policy", Result: store.ResultOK,
			StartedAt: time.Unix(int64(1000+i), 0), Took: 1500 * time.Millisecond, Added: added, Calls: map[string]int{"UpdateFirewallDomains": added},
			UpdatesLowerBound: added - 1, CallsFloor: added + 4}); err != nil {
			t.Fatal(err)
		}
	}
	var after struct {
		LastSync struct {
			Added      int            `json:"added"`
			TookMS     int64          `json:"took_ms"`
			Calls      map[string]int `json:"calls"`
			LowerBound int            `json:"update_calls_lower_bound"`
			Floor      int            `json:"calls_floor"`
		} `json:"last_sync"`
	}
	e.must(200, "GET", "/api/v1/devices/edge", e.viewer, nil).json(t, &after)
	if after.LastSync.Added != 3 || after.LastSync.TookMS != 1500 || after.LastSync.Calls["UpdateFirewallDomains"] != 3 ||
		after.LastSync.LowerBound != 2 || after.LastSync.Floor != 7 {
		t.Fatalf("last sync: %+v", after.LastSync)
	}
}
