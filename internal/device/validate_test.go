package device

import (
	"errors"
	"strings"
	"testing"

	"github.com/rpzfw/rpzfw/internal/store"
)

func validDevice() store.Device {
	d := store.Device{Nickname: "edge-1", Policy: "sample", Region: "eu-west-1", RuleGroupID: "rslvr-frg-0123456789abcdef0",
		CredKind: store.CredAccessKey, AccessKeyID: "AKIAIOSFODNN7EXAMPLE"}
	Defaults(&d)
	return d
}

func TestValidateNamesTheField(t *testing.T) {
	tests := []struct {
		name   string
		mod    func(*store.Device)
		secret bool
		rules  Rules
		field  string
	}{
		{"valid", func(*store.Device) {}, true, Rules{}, ""},
		{"nickname chars", func(d *store.Device) { d.Nickname = "a b" }, true, Rules{}, "nickname"},
		{"nickname long", func(d *store.Device) { d.Nickname = strings.Repeat("a", 65) }, true, Rules{}, "nickname"},
		{"nickname path", func(d *store.Device) { d.Nickname = "../x" }, true, Rules{}, "nickname"},
		{"no policy", func(d *store.Device) { d.Policy = "" }, true, Rules{}, "policy"},
		{"note long", func(d *store.Device) { d.Note = strings.Repeat("n", MaxNoteLen+1) }, true, Rules{}, "note"},
		{"note control", func(d *store.Device) { d.Note = "a\x1bb" }, true, Rules{}, "note"},
		{"region", func(d *store.Device) { d.Region = "mars" }, true, Rules{}, "region"},
		{"sandbox without emulator", func(d *store.Device) { d.Region = SandboxRegion }, true, Rules{}, "region"},
		{"sandbox", func(d *store.Device) { d.Region = SandboxRegion; d.CredKind = "" }, false, Rules{SandboxEndpoint: "http://127.0.0.1:1"}, ""},
		{"rule group", func(d *store.Device) { d.RuleGroupID = "frg-1" }, true, Rules{}, "rule_group_id"},
		{"band", func(d *store.Device) { d.PriorityBand = "9000-1000" }, true, Rules{}, "priority_band"},
		{"size zero", func(d *store.Device) { d.MaxPolicySize = -1 }, true, Rules{}, "max_policy_size"},
		{"size huge", func(d *store.Device) { d.MaxPolicySize = 1e9 }, true, Rules{}, "max_policy_size"},
		{"no secret", func(*store.Device) {}, false, Rules{}, "credentials.secret_access_key"},
		{"bad key id", func(d *store.Device) { d.AccessKeyID = "short" }, true, Rules{}, "credentials.access_key_id"},
		{"no cred type", func(d *store.Device) { d.CredKind = "" }, true, Rules{}, "credentials.type"},
		{"odd cred type", func(d *store.Device) { d.CredKind = "password" }, true, Rules{}, "credentials.type"},
		{"role", func(d *store.Device) { d.CredKind = store.CredRole; d.RoleARN = "arn:aws:iam::111122223333:role/rpzfw" }, false, Rules{}, ""},
		{"bad role", func(d *store.Device) { d.CredKind = store.CredRole; d.RoleARN = "arn:aws:iam::1:role/x" }, false, Rules{}, "credentials.role_arn"},
		{"bad external id", func(d *store.Device) {
			d.CredKind = store.CredRole
			d.RoleARN = "arn:aws:iam::111122223333:role/rpzfw"
			d.ExternalID = "a b"
		}, false, Rules{}, "credentials.external_id"},
		{"ambient refused", func(d *store.Device) { d.CredKind = store.CredAmbient }, false, Rules{}, "credentials.type"},
		{"ambient allowed", func(d *store.Device) { d.CredKind = store.CredAmbient }, false, Rules{AllowAmbient: true}, ""},
		{"endpoint with user", func(d *store.Device) { d.EndpointURL = "https://u:p@x.test" }, true, Rules{}, "endpoint_url"},
		{"endpoint ftp", func(d *store.Device) { d.EndpointURL = "ftp://x.test" }, true, Rules{}, "endpoint_url"},
		{"logs without queue", func(d *store.Device) { d.LogEnabled = true }, true, Rules{}, "log_upload.sqs_queue_url"},
		{"bad queue", func(d *store.Device) { d.LogEnabled = true; d.LogQueueURL = "https://sqs.test/q" }, true, Rules{}, "log_upload.sqs_queue_url"},
		{"queue", func(d *store.Device) {
			d.LogEnabled = true
			d.LogQueueURL = "https://sqs.us-east-1.amazonaws.com/111122223333/rpzfw-logs"
		}, true, Rules{}, ""},
		{"provider", func(d *store.Device) { d.Provider = "azure" }, true, Rules{}, "provider"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := validDevice()
			tc.mod(&d)
			err := Validate(d, tc.secret, tc.rules)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("want an error on %s, got %v", tc.field, err)
			}
		})
	}
}

func TestValidateSecretKey(t *testing.T) {
	for key, ok := range map[string]bool{"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY": true, "short": false, "has space in it 1234": false} {
		if got := ValidateSecretKey(key) == nil; got != ok {
			t.Errorf("%q: valid=%v, want %v", key, got, ok)
		}
	}
}
