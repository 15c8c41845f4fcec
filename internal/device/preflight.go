package device

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver/types"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/rpzfw/rpzfw/internal/awsclient"
	"github.com/rpzfw/rpzfw/internal/iampolicy"
	"github.com/rpzfw/rpzfw/internal/store"
)

// Check is one permission preflight tried.
type Check struct {
	// Permission is the IAM action, such as route53resolver:ListFirewallRules.
	Permission string `json:"permission"`
	OK         bool   `json:"ok"`
	// Status is "ok", "missing" (access denied), "failed" (another
	// error: not found, credentials refused, unreachable) or "not_checked"
	// (a write no call can try without changing something).
	Status string `json:"status"`
	// Error says why it failed (access denied, not found, ...), or why it
	// was not checked.
	Error string `json:"error,omitempty"`
	// For says what needs it: "sync" or "logs".
	For string `json:"for"`
}

// Check statuses.
const (
	CheckOK         = "ok"
	CheckMissing    = "missing"
	CheckFailed     = "failed"
	CheckNotChecked = "not_checked"
)

// PreflightReport is what "test connection" found.
type PreflightReport struct {
	OK      bool    `json:"ok"`
	Account string  `json:"account,omitempty"`
	Checks  []Check `json:"checks"`
	// Missing lists the permissions that failed.
	Missing []string `json:"missing"`
	// IAMPolicy is the least-privilege policy for this device.
	IAMPolicy json.RawMessage `json:"iam_policy"`
}

// writes are the calls sync makes that no request can try without
// changing the firewall: DNS Firewall has no dry run.
var writes = []string{
	"route53resolver:CreateFirewallDomainList", "route53resolver:UpdateFirewallDomains",
	"route53resolver:DeleteFirewallDomainList", "route53resolver:TagResource",
	"route53resolver:CreateFirewallRule", "route53resolver:UpdateFirewallRule", "route53resolver:DeleteFirewallRule",
}

// preflight is one run of Preflight.
type preflight struct {
	d   store.Device
	cl  *Clients
	rep *PreflightReport
}

// Preflight tries, with d's credentials, every permission sync needs (and
// log upload, when d has it), with read-only calls only. Writes that no
// call can try harmlessly are listed as not checked. The report names each
// permission that failed and gives the least-privilege IAM policy for d.
func (c Connector) Preflight(ctx context.Context, d store.Device) (*PreflightReport, error) {
	p := &preflight{d: d, rep: &PreflightReport{Checks: []Check{}, Missing: []string{}}}
	o, err := c.Options(d)
	if err == nil {
		o.MaxAttempts = 2 // a person waits for the answer
		p.cl, err = NewClients(ctx, o)
	}
	if err != nil {
		p.add("credentials", "sync", err)
		p.finish()
		return p.rep, nil
	}
	p.account(ctx)
	list := p.ruleGroup(ctx)
	p.domainList(ctx, list)
	p.try("route53resolver:ListFirewallRuleGroupAssociations", "sync", func() error {
		_, err := p.cl.Resolver.ListFirewallRuleGroupAssociations(ctx, &r53r.ListFirewallRuleGroupAssociationsInput{FirewallRuleGroupId: &d.RuleGroupID})
		return err
	})
	p.try("servicequotas:GetServiceQuota", "sync", func() error {
		_, err := p.cl.Quotas.GetServiceQuota(ctx, &servicequotas.GetServiceQuotaInput{ServiceCode: aws.String("route53resolver"), QuotaCode: aws.String("L-740A4B31")})
		return err
	})
	for _, w := range writes {
		p.rep.Checks = append(p.rep.Checks, Check{Permission: w, Status: CheckNotChecked, For: "sync",
			Error: "a write: no call can try it without changing the firewall; the first sync will"})
	}
	if d.LogEnabled {
		p.logs(ctx)
	}
	p.finish()
	return p.rep, nil
}

func (p *preflight) account(ctx context.Context) {
	if acct, ok := roleAccount(p.d.RoleARN); ok && p.d.CredKind == store.CredRole && p.d.Region != SandboxRegion {
		p.rep.Account = acct
	}
	p.try("sts:GetCallerIdentity", "sync", func() error {
		acct, err := p.cl.Account(ctx)
		if err == nil && p.rep.Account == "" {
			p.rep.Account = acct
		}
		return err
	})
}

// ruleGroup tries the rule group's reads and returns a domain list to try
// list reads on ("" when there is none).
func (p *preflight) ruleGroup(ctx context.Context) types.FirewallDomainListMetadata {
	group := p.d.RuleGroupID
	p.try("route53resolver:GetFirewallRuleGroup", "sync", func() error {
		_, err := p.cl.Resolver.GetFirewallRuleGroup(ctx, &r53r.GetFirewallRuleGroupInput{FirewallRuleGroupId: &group})
		return err
	})
	p.try("route53resolver:ListFirewallRules", "sync", func() error {
		_, err := p.cl.Resolver.ListFirewallRules(ctx, &r53r.ListFirewallRulesInput{FirewallRuleGroupId: &group, MaxResults: aws.Int32(1)})
		return err
	})
	var pick types.FirewallDomainListMetadata
	p.try("route53resolver:ListFirewallDomainLists", "sync", func() error {
		out, err := p.cl.Resolver.ListFirewallDomainLists(ctx, &r53r.ListFirewallDomainListsInput{MaxResults: aws.Int32(100)})
		if err != nil {
			return err
		}
		// Prefer a list of this device, then any list that is not
		// AWS-managed (their domains cannot be read by anyone).
		for _, l := range out.FirewallDomainLists {
			if aws.ToString(l.ManagedOwnerName) != "" {
				continue
			}
			if pick.Id == nil || strings.HasPrefix(aws.ToString(l.Name), "rpzfw-"+Name(p.d)+"-") {
				pick = l
			}
		}
		return nil
	})
	return pick
}

// domainList tries the reads sync makes on its lists, on l.
func (p *preflight) domainList(ctx context.Context, l types.FirewallDomainListMetadata) {
	perms := []string{"route53resolver:GetFirewallDomainList", "route53resolver:ListFirewallDomains", "route53resolver:ListTagsForResource"}
	if l.Id == nil {
		for _, perm := range perms {
			p.rep.Checks = append(p.rep.Checks, Check{Permission: perm, Status: CheckNotChecked, For: "sync",
				Error: "the account has no domain list of its own to try it on; the first sync will"})
		}
		return
	}
	p.try(perms[0], "sync", func() error {
		_, err := p.cl.Resolver.GetFirewallDomainList(ctx, &r53r.GetFirewallDomainListInput{FirewallDomainListId: l.Id})
		return err
	})
	p.try(perms[1], "sync", func() error {
		_, err := p.cl.Resolver.ListFirewallDomains(ctx, &r53r.ListFirewallDomainsInput{FirewallDomainListId: l.Id, MaxResults: aws.Int32(1)})
		return err
	})
	p.try(perms[2], "sync", func() error {
		_, err := p.cl.Resolver.ListTagsForResource(ctx, &r53r.ListTagsForResourceInput{ResourceArn: l.Arn})
		return err
	})
}

// logs tries the queue of log upload.
func (p *preflight) logs(ctx context.Context) {
	p.try("sqs:GetQueueAttributes", "logs", func() error {
		c, err := awsclient.SQS(p.cl.Config, p.d.LogQueueURL)
		if err != nil {
			return err
		}
		_, err = c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(p.d.LogQueueURL),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		return err
	})
	for _, perm := range []string{"sqs:ReceiveMessage", "sqs:DeleteMessage"} {
		p.rep.Checks = append(p.rep.Checks, Check{Permission: perm, Status: CheckNotChecked, For: "logs",
			Error: "receiving would hide the queue's messages from its consumer for a while; the log pipeline will try it"})
	}
	p.rep.Checks = append(p.rep.Checks, Check{Permission: "s3:GetObject", Status: CheckNotChecked, For: "logs",
		Error: "the log bucket is learned from the queue's events; allow s3:GetObject on its AWSLogs/<account>/vpcdnsquerylogs/ keys"})
}

// try runs one probe and records what came of it.
func (p *preflight) try(perm, purpose string, call func() error) {
	p.add(perm, purpose, call())
}

func (p *preflight) add(perm, purpose string, err error) {
	c := Check{Permission: perm, OK: err == nil, Status: CheckOK, For: purpose}
	if err != nil {
		c.Status, c.Error = describeProbe(err)
		p.rep.Missing = append(p.rep.Missing, perm)
	}
	p.rep.Checks = append(p.rep.Checks, c)
}

// describeProbe says why a probe failed, in the terms of the IAM policy.
func describeProbe(err error) (status, why string) {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return CheckFailed, err.Error()
	}
	switch code := ae.ErrorCode(); code {
	case "AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "AuthorizationError":
		return CheckMissing, "access denied: " + ae.ErrorMessage()
	case "ResourceNotFoundException", "NoSuchResourceException", "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue":
		return CheckFailed, "not found: " + ae.ErrorMessage()
	case "UnrecognizedClientException", "InvalidClientTokenId", "SignatureDoesNotMatch", "InvalidSignatureException", "ExpiredToken", "ExpiredTokenException":
		return CheckFailed, "the credentials were refused (" + code + "): " + ae.ErrorMessage()
	default:
		return CheckFailed, code + ": " + ae.ErrorMessage()
	}
}

// finish sets the verdict and the IAM policy.
func (p *preflight) finish() {
	p.rep.OK = len(p.rep.Missing) == 0
	doc, err := iamPolicy(p.d, p.rep.Account)
	if err != nil {
		msg, _ := json.Marshal(map[string]string{"error": "no IAM policy: " + err.Error()})
		p.rep.IAMPolicy = msg
		return
	}
	p.rep.IAMPolicy = json.RawMessage(doc.JSON())
}

// iamPolicy is the least-privilege policy of d in account.
func iamPolicy(d store.Device, account string) (iampolicy.Document, error) {
	if account == "" {
		return iampolicy.Document{}, errors.New("the account is not known (the credentials did not say)")
	}
	region := d.Region
	if region == SandboxRegion {
		region = SandboxSigningRegion
	}
	in := iampolicy.Device{Region: region, Account: account, RuleGroupID: d.RuleGroupID}
	if d.LogEnabled {
		arn, err := queueARN(d.LogQueueURL, region)
		if err != nil {
			return iampolicy.Document{}, err
		}
		in.LogQueueARN = arn
	}
	return iampolicy.For(in)
}

// queueARN turns https://sqs.REGION.amazonaws.com/ACCOUNT/NAME into the
// queue's ARN; a host that names no region takes region.
func queueARN(queueURL, region string) (string, error) {
	u, err := url.Parse(queueURL)
	if err != nil {
		return "", fmt.Errorf("SQS queue URL %q: %w", queueURL, err)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 {
		return "", fmt.Errorf("SQS queue URL %q: want .../ACCOUNT/NAME", queueURL)
	}
	if r, ok := strings.CutPrefix(u.Hostname(), "sqs."); ok && strings.HasSuffix(r, ".amazonaws.com") {
		region = strings.TrimSuffix(r, ".amazonaws.com")
	}
	return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", region, parts[0], parts[1]), nil
}
