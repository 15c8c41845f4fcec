package querylog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53resolver/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// TeardownRequest names the device whose log setup is undone.
type TeardownRequest struct {
	Device string
	DryRun bool
	// Wait bounds the wait for VPCs to be disassociated before the query
	// logging configuration can be deleted (default 2 minutes), looking
	// every Poll (default 2s).
	Wait, Poll time.Duration
}

// Teardown undoes Setup: the query logging configuration (its
// associations first), the bucket's notification, the queue. It touches
// only what carries the device's name and tag; what is already gone is
// skipped.
func Teardown(ctx context.Context, c SetupClients, req TeardownRequest) (SetupResult, error) {
	var res SetupResult
	if req.Device == "" {
		return res, errors.New("logs teardown needs a device")
	}
	if req.Wait <= 0 {
		req.Wait = 2 * time.Minute
	}
	if req.Poll <= 0 {
		req.Poll = 2 * time.Second
	}
	var acts []action
	if c.Resolver != nil {
		cfg, err := findQueryLogConfig(ctx, c.Resolver, setupID(req.Device))
		if err != nil {
			return res, err
		}
		if cfg != nil {
			acts = append(acts, queryLogTeardown(c.Resolver, aws.ToString(cfg.Id), req.Wait, req.Poll)...)
		}
	}
	name := QueueName(req.Device)
	q, err := c.SQS.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	var missing *sqstypes.QueueDoesNotExist
	switch {
	case errors.As(err, &missing):
		return res, run(ctx, acts, req.DryRun, &res)
	case err != nil:
		return res, denied(err, "sqs:GetQueueUrl")
	}
	res.QueueURL = aws.ToString(q.QueueUrl)
	tags, err := c.SQS.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: q.QueueUrl})
	if err != nil {
		return res, denied(err, "sqs:ListQueueTags")
	}
	if tags.Tags[tagDevice] != req.Device {
		return res, fmt.Errorf("queue %s is not tagged %s=%s: rpzfw did not make it, so it leaves it alone", name, tagDevice, req.Device)
	}
	if bucket := tags.Tags[tagBucket]; bucket != "" {
		acts = append(acts, action{fmt.Sprintf("remove notification %s from bucket %s", setupID(req.Device), bucket), func(ctx context.Context) error {
			return setNotification(ctx, c.S3, bucket, setupID(req.Device), nil)
		}})
	}
	acts = append(acts, action{fmt.Sprintf("delete SQS queue %s", name), func(ctx context.Context) error {
		_, err := c.SQS.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl})
		return denied(err, "sqs:DeleteQueue")
	}})
	return res, run(ctx, acts, req.DryRun, &res)
}

// queryLogTeardown disassociates every VPC from the configuration, waits
// for them to go, and deletes it.
func queryLogTeardown(c SetupResolver, id string, wait, poll time.Duration) []action {
	return []action{
		{fmt.Sprintf("disassociate Resolver query logging configuration %s from its VPCs", id), func(ctx context.Context) error {
			assocs, err := queryLogAssociations(ctx, c, id)
			if err != nil {
				return err
			}
			for _, a := range assocs {
				_, err := c.DisassociateResolverQueryLogConfig(ctx, &r53r.DisassociateResolverQueryLogConfigInput{ResolverQueryLogConfigId: aws.String(id), ResourceId: a.ResourceId})
				var gone *r53types.ResourceNotFoundException
				if err != nil && !errors.As(err, &gone) {
					return denied(err, "route53resolver:DisassociateResolverQueryLogConfig")
				}
			}
			return nil
		}},
		{fmt.Sprintf("delete Resolver query logging configuration %s", id), func(ctx context.Context) error {
			deadline := time.Now().Add(wait)
			for {
				assocs, err := queryLogAssociations(ctx, c, id)
				if err != nil {
					return err
				}
				if len(assocs) == 0 {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("%d VPCs are still being disassociated after %v: run teardown again later", len(assocs), wait)
				}
				sleep(ctx, poll)
			}
			_, err := c.DeleteResolverQueryLogConfig(ctx, &r53r.DeleteResolverQueryLogConfigInput{ResolverQueryLogConfigId: aws.String(id)})
			return denied(err, "route53resolver:DeleteResolverQueryLogConfig")
		}},
	}
}

func queryLogAssociations(ctx context.Context, c SetupResolver, id string) ([]r53types.ResolverQueryLogConfigAssociation, error) {
	var out []r53types.ResolverQueryLogConfigAssociation
	for token := (*string)(nil); ; {
		page, err := c.ListResolverQueryLogConfigAssociations(ctx, &r53r.ListResolverQueryLogConfigAssociationsInput{NextToken: token,
			Filters: []r53types.Filter{{Name: aws.String("ResolverQueryLogConfigId"), Values: []string{id}}}})
		if err != nil {
			return nil, denied(err, "route53resolver:ListResolverQueryLogConfigAssociations")
		}
		for _, a := range page.ResolverQueryLogConfigAssociations {
			if aws.ToString(a.ResolverQueryLogConfigId) == id && a.Status != r53types.ResolverQueryLogConfigAssociationStatusFailed {
				out = append(out, a)
			}
		}
		if token = page.NextToken; token == nil {
			return out, nil
		}
	}
}
