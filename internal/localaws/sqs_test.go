package localaws

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

func createQueue(t *testing.T, e *env, name string) string {
	t.Helper()
	out, err := e.sqs.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name), Tags: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.QueueUrl)
}

func receive(t *testing.T, e *env, url string, wait int32) []sqstypes.Message {
	t.Helper()
	out, err := e.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: wait,
		MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameApproximateReceiveCount, sqstypes.MessageSystemAttributeNameSentTimestamp}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Messages
}

// TestSQSMessageLife sends, receives, hides, shows again and deletes a
// message through the SDK (which checks the MD5 of each body).
func TestSQSMessageLife(t *testing.T) {
	e := start(t, "")
	ctx := context.Background()
	url := createQueue(t, e, "q1")
	if again := createQueue(t, e, "q1"); again != url {
		t.Fatalf("CreateQueue again: %s, want %s", again, url)
	}
	if _, err := e.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(`{"a":"é"}`)}); err != nil {
		t.Fatal(err)
	}
	msgs := receive(t, e, url, 0)
	if len(msgs) != 1 || aws.ToString(msgs[0].Body) != `{"a":"é"}` || msgs[0].Attributes["ApproximateReceiveCount"] != "1" || msgs[0].Attributes["SentTimestamp"] == "" {
		t.Fatalf("first receive: %+v", msgs)
	}
	if again := receive(t, e, url, 0); len(again) != 0 {
		t.Fatalf("an in-flight message was received again: %+v", again)
	}
	if _, err := e.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: msgs[0].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatal(err)
	}
	second := receive(t, e, url, 0)
	if len(second) != 1 || second[0].Attributes["ApproximateReceiveCount"] != "2" || aws.ToString(second[0].MessageId) != aws.ToString(msgs[0].MessageId) {
		t.Fatalf("second receive: %+v", second)
	}
	attrs, err := e.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	if attrs.Attributes["ApproximateNumberOfMessagesNotVisible"] != "1" || attrs.Attributes["QueueArn"] != "arn:aws:sqs:us-east-1:123456789012:q1" {
		t.Fatalf("attributes: %v", attrs.Attributes)
	}
	if _, err := e.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: second[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	// A repeated delete is not an error, as in SQS.
	if _, err := e.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: second[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	attrs, err = e.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
	if err != nil {
		t.Fatal(err)
	}
	if attrs.Attributes["ApproximateNumberOfMessages"] != "0" || attrs.Attributes["ApproximateNumberOfMessagesNotVisible"] != "0" {
		t.Fatalf("after delete: %v", attrs.Attributes)
	}
	tags, err := e.sqs.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: aws.String(url)})
	if err != nil || tags.Tags["k"] != "v" {
		t.Fatalf("tags %v: %v", tags, err)
	}
}

// TestSQSLongPollWakes checks that a long poll returns the message sent
// while it waits.
func TestSQSLongPollWakes(t *testing.T) {
	e := start(t, "")
	url := createQueue(t, e, "q")
	got := make(chan []sqstypes.Message, 1)
	go func() { got <- receive(t, e, url, 20) }()
	if _, err := e.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("hello")}); err != nil {
		t.Fatal(err)
	}
	msgs := <-got
	if len(msgs) != 1 || aws.ToString(msgs[0].Body) != "hello" {
		// The poll may have started after the send and taken it at once;
		// either way it must hold the message.
		t.Fatalf("long poll: %+v", msgs)
	}
}

func TestSQSErrors(t *testing.T) {
	e := start(t, "")
	ctx := context.Background()
	url := createQueue(t, e, "q")
	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"no queue", func() error {
			_, err := e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.srv.URL() + "/123456789012/none")})
			return err
		}, "AWS.SimpleQueueService.NonExistentQueue"}, // as AWS: the query-compatible code
		{"too many", func() error {
			_, err := e.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 11})
			return err
		}, "InvalidParameterValue"},
		{"fifo", func() error {
			_, err := e.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("q.fifo")})
			return err
		}, "InvalidParameterValue"},
		{"unknown attribute", func() error {
			_, err := e.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{"Nope": "1"}})
			return err
		}, "InvalidAttributeName"},
		{"bad visibility", func() error {
			_, err := e.sqs.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{"VisibilityTimeout": strconv.Itoa(50000)}})
			return err
		}, "InvalidAttributeValue"},
		{"bad handle", func() error {
			_, err := e.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String("garbage")})
			return err
		}, "ReceiptHandleIsInvalid"},
		{"not in flight", func() error {
			if _, err := e.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("m")}); err != nil {
				return err
			}
			m := receive(t, e, url, 0)
			if len(m) != 1 {
				return errors.New("no message")
			}
			if _, err := e.sqs.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m[0].ReceiptHandle}); err != nil {
				return err
			}
			_, err := e.sqs.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: m[0].ReceiptHandle, VisibilityTimeout: 30})
			return err
		}, "MessageNotInflight"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
		})
	}
	var nq *sqstypes.QueueDoesNotExist
	if _, err := e.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("none")}); !errors.As(err, &nq) {
		t.Fatalf("GetQueueUrl of a missing queue: %v, want the SDK's QueueDoesNotExist", err)
	}
}
