package querylog

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53resolver/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Fakes of the setup calls: enough state to check what setup and
// teardown leave behind. The real S3 and SQS parts run on moto in
// test/logsetup_test.go; moto has no way to delete a query logging
// configuration, so that part is checked here.

type setupFakes struct {
	queues  map[string]map[string]string // name: tags
	notes   []string                     // notification IDs
	configs map[string]string            // id: name
	assocs  map[string][]string          // config id: VPCs
	// deleting counts lists that still show a disassociated VPC.
	deleting int
}

func newSetupFakes() *setupFakes {
	return &setupFakes{queues: map[string]map[string]string{}, configs: map[string]string{}, assocs: map[string][]string{}}
}

func (f *setupFakes) CreateQueue(_ context.Context, in *sqs.CreateQueueInput, _ ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error) {
	f.queues[*in.QueueName] = in.Tags
	return &sqs.CreateQueueOutput{QueueUrl: aws.String("https://sqs.us-east-1.amazonaws.com/111122223333/" + *in.QueueName)}, nil
}

func (f *setupFakes) SetQueueAttributes(context.Context, *sqs.SetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.SetQueueAttributesOutput, error) {
	return &sqs.SetQueueAttributesOutput{}, nil
}

func (f *setupFakes) GetQueueUrl(_ context.Context, in *sqs.GetQueueUrlInput, _ ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) {
	if _, ok := f.queues[*in.QueueName]; !ok {
		return nil, &sqstypes.QueueDoesNotExist{}
	}
	return &sqs.GetQueueUrlOutput{QueueUrl: aws.String("https://sqs.us-east-1.amazonaws.com/111122223333/" + *in.QueueName)}, nil
}

func queueNameOf(url *string) string {
	return (*url)[len("https://sqs.us-east-1.amazonaws.com/111122223333/"):]
}

func (f *setupFakes) ListQueueTags(_ context.Context, in *sqs.ListQueueTagsInput, _ ...func(*sqs.Options)) (*sqs.ListQueueTagsOutput, error) {
	return &sqs.ListQueueTagsOutput{Tags: f.queues[queueNameOf(in.QueueUrl)]}, nil
}

func (f *setupFakes) DeleteQueue(_ context.Context, in *sqs.DeleteQueueInput, _ ...func(*sqs.Options)) (*sqs.DeleteQueueOutput, error) {
	delete(f.queues, queueNameOf(in.QueueUrl))
	return &sqs.DeleteQueueOutput{}, nil
}

func (f *setupFakes) GetBucketNotificationConfiguration(context.Context, *s3.GetBucketNotificationConfigurationInput, ...func(*s3.Options)) (*s3.GetBucketNotificationConfigurationOutput, error) {
	out := &s3.GetBucketNotificationConfigurationOutput{}
	for _, id := range f.notes {
		out.QueueConfigurations = append(out.QueueConfigurations, s3QueueConfig(id))
	}
	return out, nil
}

func (f *setupFakes) PutBucketNotificationConfiguration(_ context.Context, in *s3.PutBucketNotificationConfigurationInput, _ ...func(*s3.Options)) (*s3.PutBucketNotificationConfigurationOutput, error) {
	f.notes = nil
	for _, q := range in.NotificationConfiguration.QueueConfigurations {
		f.notes = append(f.notes, *q.Id)
	}
	return &s3.PutBucketNotificationConfigurationOutput{}, nil
}

func (f *setupFakes) CreateResolverQueryLogConfig(_ context.Context, in *r53r.CreateResolverQueryLogConfigInput, _ ...func(*r53r.Options)) (*r53r.CreateResolverQueryLogConfigOutput, error) {
	id := fmt.Sprintf("rqlc-%d", len(f.configs)+1)
	f.configs[id] = *in.Name
	return &r53r.CreateResolverQueryLogConfigOutput{ResolverQueryLogConfig: &r53types.ResolverQueryLogConfig{Id: &id, Name: in.Name}}, nil
}

func (f *setupFakes) AssociateResolverQueryLogConfig(_ context.Context, in *r53r.AssociateResolverQueryLogConfigInput, _ ...func(*r53r.Options)) (*r53r.AssociateResolverQueryLogConfigOutput, error) {
	if slices.Contains(f.assocs[*in.ResolverQueryLogConfigId], *in.ResourceId) {
		return nil, &r53types.ResourceExistsException{}
	}
	f.assocs[*in.ResolverQueryLogConfigId] = append(f.assocs[*in.ResolverQueryLogConfigId], *in.ResourceId)
	return &r53r.AssociateResolverQueryLogConfigOutput{}, nil
}

func (f *setupFakes) ListResolverQueryLogConfigs(_ context.Context, in *r53r.ListResolverQueryLogConfigsInput, _ ...func(*r53r.Options)) (*r53r.ListResolverQueryLogConfigsOutput, error) {
	out := &r53r.ListResolverQueryLogConfigsOutput{}
	for id, name := range f.configs {
		out.ResolverQueryLogConfigs = append(out.ResolverQueryLogConfigs, r53types.ResolverQueryLogConfig{Id: aws.String(id), Name: aws.String(name)})
	}
	return out, nil
}

func (f *setupFakes) ListResolverQueryLogConfigAssociations(_ context.Context, in *r53r.ListResolverQueryLogConfigAssociationsInput, _ ...func(*r53r.Options)) (*r53r.ListResolverQueryLogConfigAssociationsOutput, error) {
	out := &r53r.ListResolverQueryLogConfigAssociationsOutput{}
	id := in.Filters[0].Values[0]
	for _, vpc := range f.assocs[id] {
		out.ResolverQueryLogConfigAssociations = append(out.ResolverQueryLogConfigAssociations,
			r53types.ResolverQueryLogConfigAssociation{ResolverQueryLogConfigId: aws.String(id), ResourceId: aws.String(vpc)})
	}
	if f.deleting > 0 {
		f.deleting--
		if f.deleting == 0 {
			delete(f.assocs, id)
		}
	}
	return out, nil
}

func (f *setupFakes) DisassociateResolverQueryLogConfig(context.Context, *r53r.DisassociateResolverQueryLogConfigInput, ...func(*r53r.Options)) (*r53r.DisassociateResolverQueryLogConfigOutput, error) {
	f.deleting = 3 // gone after a few looks, as AWS takes its time
	return &r53r.DisassociateResolverQueryLogConfigOutput{}, nil
}

func (f *setupFakes) DeleteResolverQueryLogConfig(_ context.Context, in *r53r.DeleteResolverQueryLogConfigInput, _ ...func(*r53r.Options)) (*r53r.DeleteResolverQueryLogConfigOutput, error) {
	if len(f.assocs[*in.ResolverQueryLogConfigId]) > 0 {
		return nil, fmt.Errorf("still associated")
	}
	delete(f.configs, *in.ResolverQueryLogConfigId)
	return &r53r.DeleteResolverQueryLogConfigOutput{}, nil
}

// TestQueryLoggingSetup: with query logging, setup makes the
// configuration and associates every VPC (again: nothing new); teardown
// disassociates, waits for the VPCs to go, and deletes it.
func TestQueryLoggingSetup(t *testing.T) {
	ctx := t.Context()
	f := newSetupFakes()
	f.notes = []string{"someone-else"}
	c := SetupClients{SQS: f, S3: f, Resolver: f, Account: "111122223333", Region: "us-east-1"}
	req := SetupRequest{Device: "prod", Bucket: "logs", QueryLogging: true, VPCs: []string{"vpc-1", "vpc-2"}}
	for range 2 {
		res, err := Setup(ctx, c, req)
		if err != nil || len(res.Steps) != 6 {
			t.Fatalf("setup: %+v, %v", res, err)
		}
	}
	if len(f.configs) != 1 || len(f.assocs["rqlc-1"]) != 2 || !slices.Equal(f.notes, []string{"someone-else", "rpzfw-prod"}) {
		t.Fatalf("after setup: configs %v, associations %v, notifications %v", f.configs, f.assocs, f.notes)
	}
	res, err := Teardown(ctx, c, TeardownRequest{Device: "prod", Wait: 30 * time.Second, Poll: time.Millisecond})
	if err != nil || len(res.Steps) != 4 {
		t.Fatalf("teardown: %+v, %v", res, err)
	}
	if len(f.configs) != 0 || len(f.queues) != 0 || !slices.Equal(f.notes, []string{"someone-else"}) {
		t.Errorf("after teardown: configs %v, queues %v, notifications %v", f.configs, f.queues, f.notes)
	}
	if res, err := Teardown(ctx, c, TeardownRequest{Device: "prod"}); err != nil || len(res.Steps) != 0 {
		t.Errorf("a second teardown: %+v, %v", res, err)
	}
}

func s3QueueConfig(id string) s3types.QueueConfiguration {
	return s3types.QueueConfiguration{Id: aws.String(id), QueueArn: aws.String("arn:aws:sqs:us-east-1:111122223333:" + id)}
}
