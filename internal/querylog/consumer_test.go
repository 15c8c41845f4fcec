package querylog

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/rpzfw/rpzfw/internal/store"
)

// fakeSQS is a queue of one message that comes back until deleted, with
// its receive count; it records visibility changes.
type fakeSQS struct {
	mu         sync.Mutex
	body       string
	receives   int
	deleted    bool
	visibility []int32
	receiveErr error
}

var _ SQSAPI = (*fakeSQS)(nil)

func (f *fakeSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	time.Sleep(5 * time.Millisecond)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.receiveErr != nil {
		return nil, f.receiveErr
	}
	if f.deleted || f.body == "" {
		return &sqs.ReceiveMessageOutput{}, nil
	}
	f.receives++
	return &sqs.ReceiveMessageOutput{Messages: []types.Message{{MessageId: aws.String("m1"), Body: aws.String(f.body),
		ReceiptHandle: aws.String("h" + strconv.Itoa(f.receives)),
		Attributes:    map[string]string{"ApproximateReceiveCount": strconv.Itoa(f.receives)}}}}, nil
}

func (f *fakeSQS) DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = true
	return &sqs.DeleteMessageOutput{}, nil
}

func (f *fakeSQS) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.visibility = append(f.visibility, in.VisibilityTimeout)
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func (f *fakeSQS) state() (receives int, deleted bool, vis []int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.receives, f.deleted, append([]int32(nil), f.visibility...)
}

// fakeS3 answers GetObject with get.
type fakeS3 struct {
	get func() (*s3.GetObjectOutput, error)
}

func (f fakeS3) GetObject(ctx context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return f.get()
}

func startFake(t *testing.T, s store.Store, q *fakeSQS, o fakeS3) *Manager {
	t.Helper()
	m, err := New(Config{Store: s, Refresh: 50 * time.Millisecond, Visibility: 2 * time.Second, MaxReceives: 2, RetryBase: time.Millisecond,
		Clients: func(context.Context, QueueSpec) (Clients, error) { return Clients{SQS: q, S3: o}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown(context.Background()) })
	return m
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func queueState(t *testing.T, s store.Store) store.LogQueue {
	qs, err := s.LogQueues(t.Context(), 0)
	if err != nil || len(qs) == 0 {
		return store.LogQueue{}
	}
	return qs[0]
}

const logObjectEvent = `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put",
 "s3":{"bucket":{"name":"logs"},"object":{"key":"AWSLogs/1/vpcdnsquerylogs/vpc-a/x.log.gz","eTag":"e1"}}}]}`

// TestAccessDenied: a GetObject refused puts the queue in error naming
// the permission; the message waits (not quarantined, however often it
// comes back), and goes through once access is granted.
func TestAccessDenied(t *testing.T) {
	s := openStore(t)
	testDevice(t, s, "o", "fw", "rslvr-frg-block", testQueue, "vpc-a")
	var mu sync.Mutex
	grant := false
	q := &fakeSQS{body: logObjectEvent}
	startFake(t, s, q, fakeS3{get: func() (*s3.GetObjectOutput, error) {
		mu.Lock()
		defer mu.Unlock()
		if !grant {
			return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied"}
		}
		return &s3.GetObjectOutput{Body: io.NopCloser(strings.NewReader(logLine(t0, "vpc-a", "a.example.", "10.0.0.1", "", "", "")))}, nil
	}})
	waitUntil(t, "the queue in error", func() bool { return queueState(t, s).State == store.QueueError })
	if st := queueState(t, s); st.Permission != "s3:GetObject on arn:aws:s3:::logs/*" || !strings.Contains(st.Error, "access denied") {
		t.Errorf("queue health %+v", st)
	}
	waitUntil(t, "receives past the quarantine bound", func() bool { n, _, _ := q.state(); return n > 2+crashMargin+1 })
	if qm, _ := s.ListQuarantined(t.Context(), 1, ""); len(qm) != 0 {
		t.Fatalf("a message refused access was quarantined: %+v", qm)
	}
	if _, _, vis := q.state(); len(vis) == 0 || vis[0] != 300 {
		t.Errorf("visibility changes %v, want a 5-minute wait", vis)
	}
	mu.Lock()
	grant = true
	mu.Unlock()
	waitUntil(t, "the message through", func() bool { _, del, _ := q.state(); return del })
	waitUntil(t, "the queue healthy", func() bool { return queueState(t, s).State == store.QueueOK })
}

func TestReceiveDenied(t *testing.T) {
	s := openStore(t)
	testDevice(t, s, "o", "fw", "rslvr-frg-block", testQueue)
	q := &fakeSQS{receiveErr: &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized"}}
	startFake(t, s, q, fakeS3{})
	waitUntil(t, "the queue in error", func() bool { return queueState(t, s).State == store.QueueError })
	if st := queueState(t, s); st.Permission != "sqs:ReceiveMessage on arn:aws:sqs:us-east-1:123456789012:logs" {
		t.Errorf("queue health %+v", st)
	}
}

// slowBody gives its content after a delay.
type slowBody struct {
	r     io.Reader
	delay time.Duration
	once  sync.Once
}

func (b *slowBody) Read(p []byte) (int, error) {
	b.once.Do(func() { time.Sleep(b.delay) })
	return b.r.Read(p)
}

func (b *slowBody) Close() error { return nil }

// TestVisibilityExtended: while an object is read, its message's
// visibility is extended every half timeout; it is deleted once stored.
func TestVisibilityExtended(t *testing.T) {
	s := openStore(t)
	testDevice(t, s, "o", "fw", "rslvr-frg-block", testQueue, "vpc-a")
	q := &fakeSQS{body: logObjectEvent}
	startFake(t, s, q, fakeS3{get: func() (*s3.GetObjectOutput, error) {
		return &s3.GetObjectOutput{Body: &slowBody{r: strings.NewReader(logLine(t0, "vpc-a", "a.example.", "10.0.0.1", "", "", "")), delay: 2500 * time.Millisecond}}, nil
	}})
	waitUntil(t, "the message deleted", func() bool { _, del, _ := q.state(); return del })
	n, _, vis := q.state()
	if n != 1 || len(vis) < 2 || vis[0] != 2 {
		t.Errorf("receives %d, visibility changes %v: want one receive, extended by 2s at least twice", n, vis)
	}
}

// TestNotAnEvent: a message that is not an S3 event is deleted and
// counted, never retried.
func TestNotAnEvent(t *testing.T) {
	s := openStore(t)
	testDevice(t, s, "o", "fw", "rslvr-frg-block", testQueue)
	q := &fakeSQS{body: `{"hello":"world"}`}
	startFake(t, s, q, fakeS3{get: func() (*s3.GetObjectOutput, error) { return nil, errors.New("not called") }})
	waitUntil(t, "the message deleted", func() bool { _, del, _ := q.state(); return del })
}
