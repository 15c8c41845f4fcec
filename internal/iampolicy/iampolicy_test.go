package iampolicy

import (
	"strings"
	"testing"
)

func TestFor(t *testing.T) {
	doc, err := For(Device{Region: "eu-west-1", Account: "111122223333", RuleGroupID: "rslvr-frg-0123456789abcdef0", StagingBucket: "my-staging"})
	if err != nil {
		t.Fatal(err)
	}
	js := doc.JSON()
	for _, want := range []string{
		`"arn:aws:route53resolver:eu-west-1:111122223333:firewall-rule-group/rslvr-frg-0123456789abcdef0"`,
		`"route53resolver:UpdateFirewallDomains"`,
		`"arn:aws:s3:::my-staging/rpzfw-staging/*"`,
		`"servicequotas:GetServiceQuota"`,
		`"route53resolver:ListFirewallRuleGroupAssociations"`, // the service reads the VPCs at every sync
	} {
		if !strings.Contains(js, want) {
			t.Errorf("policy lacks %s:\n%s", want, js)
		}
	}
	if strings.Contains(js, `"route53resolver:*"`) || strings.Contains(js, "AssociateFirewallRuleGroup") {
		t.Errorf("policy grants more than rpzfw uses:\n%s", js)
	}
	for _, bad := range []Device{
		{Region: "eu-west-1", Account: "1111", RuleGroupID: "rslvr-frg-01"},
		{Region: "moon", Account: "111122223333", RuleGroupID: "rslvr-frg-01"},
		{Region: "eu-west-1", Account: "111122223333", RuleGroupID: "*"},
		{Region: "eu-west-1", Account: "111122223333", RuleGroupID: "rslvr-frg-01", StagingBucket: "Bad_Bucket"},
	} {
		if _, err := For(bad); err == nil {
			t.Errorf("%+v: want an error", bad)
		}
	}
}
