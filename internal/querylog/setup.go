package querylog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53resolver/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rpzfw/rpzfw/internal/awsclient"
	"github.com/rpzfw/rpzfw/internal/store"
)

// Logs setup does for a user what the seed asks them to click through: an
// SQS queue that only their log bucket may send to, the bucket's
// notification of the objects created under AWSLogs/, and, when asked, a
// Resolver query logging configuration for the rule group's VPCs. Each
// resource is named after the device (rpzfw-logs-NICK, notification and
// configuration rpzfw-NICK) and tagged, so that teardown removes exactly
// what setup made and nothing else.

// SetupSQS, SetupS3 and SetupResolver are the calls setup and teardown
// make; the SDK clients and test fakes satisfy them.
type SetupSQS interface {
	CreateQueue(ctx context.Context, in *sqs.CreateQueueInput, opts ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
	SetQueueAttributes(ctx context.Context, in *sqs.SetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.SetQueueAttributesOutput, error)
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, opts ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	ListQueueTags(ctx context.Context, in *sqs.ListQueueTagsInput, opts ...func(*sqs.Options)) (*sqs.ListQueueTagsOutput, error)
	DeleteQueue(ctx context.Context, in *sqs.DeleteQueueInput, opts ...func(*sqs.Options)) (*sqs.DeleteQueueOutput, error)
}

type SetupS3 interface {
	GetBucketNotificationConfiguration(ctx context.Context, in *s3.GetBucketNotificationConfigurationInput, opts ...func(*s3.Options)) (*s3.GetBucketNotificationConfigurationOutput, error)
	PutBucketNotificationConfiguration(ctx context.Context, in *s3.PutBucketNotificationConfigurationInput, opts ...func(*s3.Options)) (*s3.PutBucketNotificationConfigurationOutput, error)
}

type SetupResolver interface {
	CreateResolverQueryLogConfig(ctx context.Context, in *r53r.CreateResolverQueryLogConfigInput, opts ...func(*r53r.Options)) (*r53r.CreateResolverQueryLogConfigOutput, error)
	AssociateResolverQueryLogConfig(ctx context.Context, in *r53r.AssociateResolverQueryLogConfigInput, opts ...func(*r53r.Options)) (*r53r.AssociateResolverQueryLogConfigOutput, error)
	ListResolverQueryLogConfigs(ctx context.Context, in *r53r.ListResolverQueryLogConfigsInput, opts ...func(*r53r.Options)) (*r53r.ListResolverQueryLogConfigsOutput, error)
	ListResolverQueryLogConfigAssociations(ctx context.Context, in *r53r.ListResolverQueryLogConfigAssociationsInput, opts ...func(*r53r.Options)) (*r53r.ListResolverQueryLogConfigAssociationsOutput, error)
	DisassociateResolverQueryLogConfig(ctx context.Context, in *r53r.DisassociateResolverQueryLogConfigInput, opts ...func(*r53r.Options)) (*r53r.DisassociateResolverQueryLogConfigOutput, error)
	DeleteResolverQueryLogConfig(ctx context.Context, in *r53r.DeleteResolverQueryLogConfigInput, opts ...func(*r53r.Options)) (*r53r.DeleteResolverQueryLogConfigOutput, error)
}

// SetupClients are the clients of a device's account and region.
type SetupClients struct {
	SQS      SetupSQS
	S3       SetupS3
	Resolver SetupResolver
	// Account and Region name the queue's ARN.
	Account, Region string
}

// SetupRequest is what logs setup is asked to do for a device.
type SetupRequest struct {
	Device string
	Bucket string
	// Prefix is the S3 prefix query logs are written under (before
	// AWSLogs/), "" for none.
	Prefix string
	// QueryLogging also creates the Resolver query logging configuration
	// and associates it with VPCs (the rule group's).
	QueryLogging bool
	VPCs         []string
	DryRun       bool
}

// Step is one action of setup or teardown, done or (in a dry run) to do.
type Step struct {
	Do   string `json:"do"`
	Done bool   `json:"done"`
}

// SetupResult says what was done.
type SetupResult struct {
	QueueURL string `json:"sqs_queue_url"`
	Steps    []Step `json:"steps"`
}

// Tags and names of what setup makes.
const (
	tagDevice = "rpzfw:device"
	tagBucket = "rpzfw:bucket"
	tagPrefix = "rpzfw:prefix"
)

// QueueName is the name of a device's log queue.
func QueueName(device string) string { return "rpzfw-logs-" + device }

func setupID(device string) string { return "rpzfw-" + device }

type action struct {
	do  string
	run func(ctx context.Context) error
}

// run does the actions in order (none in a dry run), stopping at the
// first that fails: each says what it did.
func run(ctx context.Context, acts []action, dry bool, res *SetupResult) error {
	for _, a := range acts {
		if dry {
			res.Steps = append(res.Steps, Step{Do: a.do})
			continue
		}
		if err := a.run(ctx); err != nil {
			return fmt.Errorf("%s: %w", a.do, err)
		}
		res.Steps = append(res.Steps, Step{Do: a.do, Done: true})
	}
	return nil
}

// Setup makes the queue, its policy, the bucket's notification and, when
// asked, the query logging configuration. Run again, it changes nothing
// that is already in place.
func Setup(ctx context.Context, c SetupClients, req SetupRequest) (SetupResult, error) {
	if req.Device == "" || req.Bucket == "" {
		return SetupResult{}, errors.New("logs setup needs a device and a bucket")
	}
	prefix := strings.Trim(req.Prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	name := QueueName(req.Device)
	queueARN := fmt.Sprintf("arn:aws:sqs:%s:%s:%s", c.Region, c.Account, name)
	var res SetupResult
	acts := []action{
		{fmt.Sprintf("create SQS queue %s", name), func(ctx context.Context) error {
			out, err := c.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name),
				Tags: map[string]string{tagDevice: req.Device, tagBucket: req.Bucket, tagPrefix: prefix}})
			if err != nil {
				return denied(err, "sqs:CreateQueue and sqs:TagQueue")
			}
			res.QueueURL = aws.ToString(out.QueueUrl)
			return nil
		}},
		{fmt.Sprintf("let only bucket %s of account %s send to it (queue policy)", req.Bucket, c.Account), func(ctx context.Context) error {
			_, err := c.SQS.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(res.QueueURL),
				Attributes: map[string]string{string(sqstypes.QueueAttributeNamePolicy): queuePolicy(queueARN, req.Bucket, c.Account)}})
			return denied(err, "sqs:SetQueueAttributes on "+queueARN)
		}},
		{fmt.Sprintf("notify it of every object created in s3://%s/%sAWSLogs/ (notification %s)", req.Bucket, prefix, setupID(req.Device)), func(ctx context.Context) error {
			return setNotification(ctx, c.S3, req.Bucket, setupID(req.Device), &s3types.QueueConfiguration{QueueArn: aws.String(queueARN),
				Id: aws.String(setupID(req.Device)), Events: []s3types.Event{"s3:ObjectCreated:*"},
				Filter: &s3types.NotificationConfigurationFilter{Key: &s3types.S3KeyFilter{FilterRules: []s3types.FilterRule{
					{Name: s3types.FilterRuleNamePrefix, Value: aws.String(prefix + "AWSLogs/")}}}}})
		}},
	}
	if req.QueryLogging {
		acts = append(acts, queryLogActions(c, req, prefix)...)
	}
	err := run(ctx, acts, req.DryRun, &res)
	return res, err
}

// queuePolicy lets S3 send to the queue for this bucket of this account
// only.
func queuePolicy(queueARN, bucket, account string) string {
	b, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Sid": "rpzfw-s3-notifications", "Effect": "Allow",
			"Principal": map[string]any{"Service": "s3.amazonaws.com"},
			"Action":    "sqs:SendMessage", "Resource": queueARN,
			"Condition": map[string]any{
				"ArnEquals":    map[string]any{"aws:SourceArn": "arn:aws:s3:::" + bucket},
				"StringEquals": map[string]any{"aws:SourceAccount": account},
			},
		}},
	})
	return string(b)
}

// setNotification puts qc in the bucket's notifications in place of any
// of the same ID (nil: removes it), keeping every other one.
func setNotification(ctx context.Context, c SetupS3, bucket, id string, qc *s3types.QueueConfiguration) error {
	cur, err := c.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String(bucket)})
	if err != nil {
		return denied(err, "s3:GetBucketNotification on arn:aws:s3:::"+bucket)
	}
	var qcs []s3types.QueueConfiguration
	for _, q := range cur.QueueConfigurations {
		if aws.ToString(q.Id) != id {
			qcs = append(qcs, q)
		}
	}
	if qc != nil {
		qcs = append(qcs, *qc)
	}
	_, err = c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String(bucket),
		NotificationConfiguration: &s3types.NotificationConfiguration{QueueConfigurations: qcs, TopicConfigurations: cur.TopicConfigurations,
			LambdaFunctionConfigurations: cur.LambdaFunctionConfigurations, EventBridgeConfiguration: cur.EventBridgeConfiguration}})
	return denied(err, "s3:PutBucketNotification on arn:aws:s3:::"+bucket)
}

// queryLogActions create the query logging configuration and associate
// it with each VPC.
func queryLogActions(c SetupClients, req SetupRequest, prefix string) []action {
	name := setupID(req.Device)
	dest := "arn:aws:s3:::" + req.Bucket
	if prefix != "" {
		dest += "/" + strings.TrimSuffix(prefix, "/")
	}
	var id string
	acts := []action{{fmt.Sprintf("create Resolver query logging configuration %s, logging to %s", name, dest), func(ctx context.Context) error {
		cfg, err := findQueryLogConfig(ctx, c.Resolver, name)
		if err != nil || cfg != nil {
			if cfg != nil {
				id = aws.ToString(cfg.Id)
			}
			return err
		}
		out, err := c.Resolver.CreateResolverQueryLogConfig(ctx, &r53r.CreateResolverQueryLogConfigInput{Name: aws.String(name),
			DestinationArn: aws.String(dest), CreatorRequestId: aws.String(name),
			Tags: []r53types.Tag{{Key: aws.String(tagDevice), Value: aws.String(req.Device)}}})
		if err != nil {
			return denied(err, "route53resolver:CreateResolverQueryLogConfig (and s3:GetBucketPolicy, s3:PutBucketPolicy on the bucket)")
		}
		id = aws.ToString(out.ResolverQueryLogConfig.Id)
		return nil
	}}}
	for _, vpc := range req.VPCs {
		acts = append(acts, action{fmt.Sprintf("associate it with %s", vpc), func(ctx context.Context) error {
			_, err := c.Resolver.AssociateResolverQueryLogConfig(ctx, &r53r.AssociateResolverQueryLogConfigInput{
				ResolverQueryLogConfigId: aws.String(id), ResourceId: aws.String(vpc)})
			var exists *r53types.ResourceExistsException
			if errors.As(err, &exists) {
				return nil
			}
			return denied(err, "route53resolver:AssociateResolverQueryLogConfig (and ec2:DescribeVpcs)")
		}})
	}
	return acts
}

// findQueryLogConfig finds the configuration named name that rpzfw made.
func findQueryLogConfig(ctx context.Context, c SetupResolver, name string) (*r53types.ResolverQueryLogConfig, error) {
	out, err := c.ListResolverQueryLogConfigs(ctx, &r53r.ListResolverQueryLogConfigsInput{
		Filters: []r53types.Filter{{Name: aws.String("Name"), Values: []string{name}}}})
	if err != nil {
		return nil, denied(err, "route53resolver:ListResolverQueryLogConfigs")
	}
	for _, cfg := range out.ResolverQueryLogConfigs {
		if aws.ToString(cfg.Name) == name {
			return &cfg, nil
		}
	}
	return nil, nil
}

// NewSetupClients makes the clients of logs setup with the device's
// credentials: S3, SQS and STS at o.Endpoint when set (a local S3 and
// SQS), Route 53 Resolver at the device's endpoint. The account is the
// device's, or asked of STS.
func NewSetupClients(ctx context.Context, d store.Device, o ClientOptions) (SetupClients, error) {
	region := d.Region
	if region == "" || !strings.Contains(region, "-") {
		region = "us-east-1" // the sandbox
	}
	cfg, err := deviceConfig(ctx, d, region, o.Endpoint+d.EndpointURL, o)
	if err != nil {
		return SetupClients{}, err
	}
	c := SetupClients{SQS: sqsClient(cfg, o.Endpoint), S3: awsclient.S3(cfg, o.Endpoint),
		Resolver: awsclient.Resolver(cfg, awsclient.Options{Endpoint: d.EndpointURL}), Account: d.AccountID, Region: region}
	if c.Account == "" {
		id, err := sts.NewFromConfig(cfg, func(so *sts.Options) {
			if o.Endpoint != "" {
				so.BaseEndpoint = aws.String(o.Endpoint)
			}
		}).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return c, denied(err, "sts:GetCallerIdentity")
		}
		c.Account = aws.ToString(id.Account)
	}
	return c, nil
}
