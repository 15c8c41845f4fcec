// Package iampolicy writes the least-privilege IAM policy a device needs:
// exactly the Route 53 Resolver, Service Quotas, S3 and SQS actions rpzfw
// calls, on the device's resources only where the service allows it.
package iampolicy

import (
	"encoding/json"
	"fmt"
	"regexp"
)

// Device says which resources the policy covers.
type Device struct {
	Partition   string // default "aws"
	Region      string
	Account     string
	RuleGroupID string
	// StagingBucket, when set, allows import files there.
	StagingBucket string
	// LogBucket and LogPrefix, when set, allow reading query logs;
	// LogQueueARN allows consuming the bucket's event notifications.
	LogBucket, LogPrefix, LogQueueARN string
}

// Statement is one IAM policy statement.
type Statement struct {
	Sid      string   `json:"Sid"`
	Effect   string   `json:"Effect"`
	Action   []string `json:"Action"`
	Resource []string `json:"Resource"`
}

// Document is an IAM policy document.
type Document struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

var (
	accountRe = regexp.MustCompile(`^[0-9]{12}$`)
	regionRe  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
	groupRe   = regexp.MustCompile(`^rslvr-frg-[0-9a-f]+$`)
	bucketRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

// For builds the policy, checking every input.
func For(d Device) (Document, error) {
	if d.Partition == "" {
		d.Partition = "aws"
	}
	switch {
	case !accountRe.MatchString(d.Account):
		return Document{}, fmt.Errorf("account %q: want 12 digits", d.Account)
	case !regionRe.MatchString(d.Region):
		return Document{}, fmt.Errorf("region %q does not look like an AWS region", d.Region)
	case !groupRe.MatchString(d.RuleGroupID):
		return Document{}, fmt.Errorf("rule group %q: want an ID like rslvr-frg-0123456789abcdef0", d.RuleGroupID)
	}
	arn := func(kind, id string) string {
		return fmt.Sprintf("arn:%s:route53resolver:%s:%s:%s/%s", d.Partition, d.Region, d.Account, kind, id)
	}
	doc := Document{Version: "2012-10-17", Statement: []Statement{
		{Sid: "RuleGroup", Effect: "Allow",
			Action:   []string{"route53resolver:GetFirewallRuleGroup", "route53resolver:ListFirewallRules", "route53resolver:CreateFirewallRule", "route53resolver:UpdateFirewallRule", "route53resolver:DeleteFirewallRule"},
			Resource: []string{arn("firewall-rule-group", d.RuleGroupID)}},
		{Sid: "DomainLists", Effect: "Allow",
			Action: []string{"route53resolver:CreateFirewallDomainList", "route53resolver:GetFirewallDomainList", "route53resolver:UpdateFirewallDomains",
				"route53resolver:ImportFirewallDomains", "route53resolver:ListFirewallDomains", "route53resolver:DeleteFirewallDomainList",
				"route53resolver:ListTagsForResource", "route53resolver:TagResource"},
			Resource: []string{arn("firewall-domain-list", "*")}},
		{Sid: "ListAndQuota", Effect: "Allow",
			Action:   []string{"route53resolver:ListFirewallDomainLists", "route53resolver:ListFirewallRuleGroupAssociations", "servicequotas:GetServiceQuota"},
			Resource: []string{"*"}},
	}}
	if d.StagingBucket != "" {
		if !bucketRe.MatchString(d.StagingBucket) {
			return Document{}, fmt.Errorf("staging bucket %q is not a valid bucket name", d.StagingBucket)
		}
		doc.Statement = append(doc.Statement, Statement{Sid: "Staging", Effect: "Allow", Action: []string{"s3:PutObject", "s3:GetObject"},
			Resource: []string{fmt.Sprintf("arn:%s:s3:::%s/rpzfw-staging/*", d.Partition, d.StagingBucket)}})
	}
	if d.LogBucket != "" {
		if !bucketRe.MatchString(d.LogBucket) {
			return Document{}, fmt.Errorf("log bucket %q is not a valid bucket name", d.LogBucket)
		}
		prefix := d.LogPrefix
		if prefix != "" {
			prefix += "/"
		}
		doc.Statement = append(doc.Statement, Statement{Sid: "QueryLogs", Effect: "Allow", Action: []string{"s3:GetObject"},
			Resource: []string{fmt.Sprintf("arn:%s:s3:::%s/%sAWSLogs/%s/vpcdnsquerylogs/*", d.Partition, d.LogBucket, prefix, d.Account)}})
	}
	if d.LogQueueARN != "" {
		doc.Statement = append(doc.Statement, Statement{Sid: "LogEvents", Effect: "Allow",
			Action: []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}, Resource: []string{d.LogQueueARN}})
	}
	return doc, nil
}

// JSON renders the document.
func (d Document) JSON() string {
	b, _ := json.MarshalIndent(d, "", "  ")
	return string(b)
}
