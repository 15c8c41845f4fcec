package apimodel

import (
	"encoding/json"
	"strings"
	"testing"
)

func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFirewallOperations(t *testing.T) {
	m, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	ops := m.FirewallOperations()
	if len(ops) != 28 {
		t.Errorf("want 25 firewall operations and 3 tag operations, got %d: %v", len(ops), ops)
	}
}

func TestValidate(t *testing.T) {
	m, _ := Load()
	tests := []struct {
		op, body, want string
	}{
		{"CreateFirewallDomainList", `{"CreatorRequestId":"a","Name":"ok-name"}`, ""},
		{"CreateFirewallDomainList", `{"Name":"x"}`, "1 validation error detected: Value null at 'creatorRequestId' failed to satisfy constraint: Member must not be null"},
		{"CreateFirewallDomainList", `{"CreatorRequestId":"a","Name":"123"}`, "Member must satisfy regular expression pattern"},
		{"CreateFirewallDomainList", `{"CreatorRequestId":"a","Name":"bad/name"}`, "regular expression pattern"},
		{"CreateFirewallRule", `{"CreatorRequestId":"a","FirewallRuleGroupId":"g","Priority":1,"Action":"DENY","Name":"n"}`, "Member must satisfy enum value set: [ALLOW, BLOCK, ALERT]"},
		{"CreateFirewallRule", `{"CreatorRequestId":"a","FirewallRuleGroupId":"g","Priority":1,"Action":"BLOCK","Name":"n","BlockOverrideTtl":604801}`, "Member must have value less than or equal to 604800"},
		{"ListFirewallDomains", `{"FirewallDomainListId":"x","MaxResults":5001}`, "less than or equal to 5000"},
		{"UpdateFirewallDomains", `{"FirewallDomainListId":"x","Operation":"ADD"}`, "Value null at 'domains'"},
		{"UpdateFirewallDomains", `{"FirewallDomainListId":"x","Operation":"ADD","Domains":[""]}`, "'domains.1.member' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"TagResource", `{"ResourceArn":"a","Tags":[{"Key":"k"}]}`, "Value null at 'tags.1.member.value'"},
	}
	for _, tc := range tests {
		msg, err := m.Validate(tc.op, decode(t, tc.body))
		if err != nil {
			t.Errorf("%s %s: %v", tc.op, tc.body, err)
			continue
		}
		if (tc.want == "" && msg != "") || !strings.Contains(msg, tc.want) {
			t.Errorf("%s %s: got %q, want %q", tc.op, tc.body, msg, tc.want)
		}
	}
	if _, err := m.Validate("CreateFirewallRule", decode(t, `{"Priority":"high"}`)); err == nil {
		t.Error("a string for an integer must be a serialization error")
	}
}
