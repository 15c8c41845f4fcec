package querylog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/rpzfw/rpzfw/internal/store"
)

// consumer long-polls one queue with one set of credentials. A message is
// deleted only after every object it names is committed; while an object
// is read, the message's visibility is extended. A message that keeps
// failing is quarantined after MaxReceives receives, with its reason.
type consumer struct {
	m      *Manager
	spec   QueueSpec
	queue  string
	cl     Clients
	ing    *Ingester
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	hmu    sync.Mutex
	health store.LogQueue
	// wrote is when health was last stored; failedOp the operation of
	// the error it holds.
	wrote    time.Time
	failedOp string
	// denied remembers messages whose last failure was an access denied:
	// they are not counted as lost mid-work (see crashMargin).
	denied sync.Map
}

func (c *consumer) run(ctx context.Context) {
	defer close(c.done)
	fails := 0
	var nextRetries time.Time
	for ctx.Err() == nil {
		if now := c.m.now(); !now.Before(nextRetries) {
			c.retryQuarantined(ctx)
			nextRetries = now.Add(c.m.cfg.Refresh)
		}
		out, err := c.cl.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(c.queue), MaxNumberOfMessages: 10,
			WaitTimeSeconds:             int32(c.m.cfg.Wait / time.Second),
			VisibilityTimeout:           int32(c.m.cfg.Visibility / time.Second),
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount, types.MessageSystemAttributeNameSentTimestamp},
		})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			err = denied(err, "sqs:ReceiveMessage on "+queueARN(c.queue))
			c.m.metrics.errs.WithLabelValues("receive", errClass(err)).Inc()
			c.setError(ctx, "sqs:ReceiveMessage", err)
			fails++
			c.log.Warn("reading the log queue failed; backing off", "err", err, "attempt", fails)
			sleep(ctx, backoff(fails, time.Second, 5*time.Minute))
			continue
		}
		fails = 0
		c.setOK(ctx, "sqs:ReceiveMessage")
		c.batch(ctx, out.Messages)
	}
}

// batch handles the messages of one receive, several at a time.
func (c *consumer) batch(ctx context.Context, msgs []types.Message) {
	sem := make(chan struct{}, c.m.cfg.Workers)
	var wg sync.WaitGroup
	for _, msg := range msgs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c.message(ctx, msg)
		})
	}
	wg.Wait()
}

// crashMargin: a message received this many times past MaxReceives
// without a failure seen was lost mid-work each time (a crash, or work
// longer than the visibility timeout): it is quarantined unread.
const crashMargin = 3

func (c *consumer) message(ctx context.Context, msg types.Message) {
	body, handle := aws.ToString(msg.Body), msg.ReceiptHandle
	receives, _ := strconv.Atoi(msg.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	var sent time.Time
	if ms, err := strconv.ParseInt(msg.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		sent = time.UnixMilli(ms)
	}
	_, wasDenied := c.denied.Load(aws.ToString(msg.MessageId))
	if receives > c.m.cfg.MaxReceives+crashMargin && !wasDenied {
		reason := fmt.Sprintf("received %d times without finishing: it may crash rpzfw or take longer than the visibility timeout", receives)
		c.quarantine(ctx, msg, receives, reason)
		return
	}
	stop := c.keepVisible(ctx, handle)
	result, err := c.process(ctx, body, sent)
	stop()
	if errors.Is(err, errCrash) || ctx.Err() != nil {
		return // left as it is: it comes back after its visibility timeout
	}
	c.denied.Delete(aws.ToString(msg.MessageId))
	if err == nil {
		c.m.metrics.messages.WithLabelValues(result).Inc()
		c.delete(ctx, handle)
		return
	}
	c.m.metrics.messages.WithLabelValues("failed").Inc()
	var de *deniedError
	isDenied := errors.As(err, &de)
	if isDenied {
		c.denied.Store(aws.ToString(msg.MessageId), true)
	}
	if !isDenied && receives >= c.m.cfg.MaxReceives {
		c.quarantine(ctx, msg, receives, err.Error())
		return
	}
	wait := backoff(receives, c.m.cfg.RetryBase, 15*time.Minute)
	if isDenied {
		// Not the message's fault: it waits, unquarantined, until the
		// permission is granted.
		wait = 5 * time.Minute
	}
	c.log.Warn("a log message failed; it will be retried", "message", aws.ToString(msg.MessageId), "receives", receives, "retry_in", wait, "err", err)
	_, verr := c.cl.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(c.queue), ReceiptHandle: handle,
		VisibilityTimeout: int32(wait / time.Second)})
	if verr != nil {
		c.m.metrics.errs.WithLabelValues("visibility", errClass(verr)).Inc()
	}
}

// errCrash is returned by Config.AfterIngest to stop as a crash would.
var errCrash = errors.New("stopped after the commit, as a crash would")

// process handles one message body: every object it names, in order.
func (c *consumer) process(ctx context.Context, body string, sent time.Time) (string, error) {
	ev, err := ParseEvent([]byte(body))
	if err != nil {
		c.log.Info("skipped a message that is not an S3 event", "err", err)
		return "ignored", nil
	}
	if ev.Test {
		c.log.Debug("acknowledged the S3 test event")
		return "test", nil
	}
	for _, ref := range ev.Objects {
		if err := c.object(ctx, ref, sent); err != nil {
			return "", err
		}
		if hook := c.m.cfg.AfterIngest; hook != nil && hook(ref) != nil {
			return "", errCrash
		}
	}
	if len(ev.Objects) == 0 {
		return "ignored", nil
	}
	return "ok", nil
}

// object reads one object into the store, once.
func (c *consumer) object(ctx context.Context, ref ObjectRef, sent time.Time) error {
	if !IsQueryLogKey(ref.Key) {
		c.m.metrics.objects.WithLabelValues("skipped").Inc()
		return nil
	}
	if ref.ETag != "" {
		done, err := c.m.cfg.Store.ObjectIngested(ctx, c.queue, ref.Bucket, ref.Key, ref.ETag)
		if err != nil {
			c.m.metrics.errs.WithLabelValues("store", "other").Inc()
			return err
		}
		if done {
			c.m.metrics.objects.WithLabelValues("duplicate").Inc()
			return nil
		}
	}
	start := c.m.now()
	out, err := c.cl.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(ref.Bucket), Key: aws.String(ref.Key)})
	if isNoSuchKey(err) {
		c.m.metrics.objects.WithLabelValues("missing").Inc()
		c.log.Warn("a log object named by a notification is gone; skipped", "bucket", ref.Bucket, "key", ref.Key)
		return nil
	}
	if err != nil {
		err = denied(err, fmt.Sprintf("s3:GetObject on arn:aws:s3:::%s/*", ref.Bucket))
		c.m.metrics.errs.WithLabelValues("get", errClass(err)).Inc()
		c.m.metrics.objects.WithLabelValues("failed").Inc()
		c.setError(ctx, "s3:GetObject", err)
		return fmt.Errorf("reading s3://%s/%s: %w", ref.Bucket, ref.Key, err)
	}
	defer out.Body.Close()
	if etag := cleanETag(aws.ToString(out.ETag)); etag != "" {
		// The version read is the one recorded: an object written again
		// since its notification is counted once, as what it now holds.
		ref.ETag = etag
	}
	fresh, stats, err := c.ingest(ctx, ref, out)
	if err != nil {
		c.m.metrics.objects.WithLabelValues("failed").Inc()
		return err
	}
	c.observe(ref, fresh, stats, start, sent)
	c.setOK(ctx, "")
	return nil
}

// ingest reads an object and stores what it holds in one transaction.
func (c *consumer) ingest(ctx context.Context, ref ObjectRef, out *s3.GetObjectOutput) (bool, ObjectStats, error) {
	size := aws.ToInt64(out.ContentLength)
	if size == 0 {
		size = ref.Size
	}
	fresh, stats, err := c.ing.Ingest(ctx, ref, out.Body, size)
	if err != nil {
		c.m.metrics.errs.WithLabelValues("store", "other").Inc()
	}
	return fresh, stats, err
}

func (c *consumer) observe(ref ObjectRef, fresh bool, st ObjectStats, start, sent time.Time) {
	mt := c.m.metrics
	now := c.m.now()
	if !fresh {
		mt.objects.WithLabelValues("duplicate").Inc()
		return
	}
	mt.objects.WithLabelValues("ok").Inc()
	mt.lines.WithLabelValues("read").Add(float64(st.Lines))
	mt.lines.WithLabelValues("bad").Add(float64(st.BadLines))
	mt.lines.WithLabelValues("unattributed").Add(float64(st.Unattributed))
	mt.hits.WithLabelValues(store.ActionBlock).Add(float64(st.Blocked))
	mt.hits.WithLabelValues(store.ActionAlert).Add(float64(st.Alerted))
	for src, n := range st.BySource {
		mt.feedHits.WithLabelValues(mt.feedLabel(src)).Add(float64(n))
	}
	mt.took.Observe(now.Sub(start).Seconds())
	if !sent.IsZero() {
		mt.lag.WithLabelValues("notification").Observe(now.Sub(sent).Seconds())
	}
	if !st.Newest.IsZero() {
		mt.lag.WithLabelValues("line").Observe(now.Sub(st.Newest).Seconds())
	}
	c.log.Debug("stored a log object", "bucket", ref.Bucket, "key", ref.Key, "lines", st.Lines, "hits", st.Hits, "bad", st.BadLines, "took", now.Sub(start))
}

// keepVisible extends the message's visibility every half timeout until
// stop is called, so that a large object is not handed to another
// consumer meanwhile.
func (c *consumer) keepVisible(ctx context.Context, handle *string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(c.m.cfg.Visibility / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_, err := c.cl.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(c.queue),
					ReceiptHandle: handle, VisibilityTimeout: int32(c.m.cfg.Visibility / time.Second)})
				if err != nil && ctx.Err() == nil {
					c.m.metrics.errs.WithLabelValues("visibility", errClass(err)).Inc()
					c.log.Warn("extending a message's visibility failed", "err", err)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (c *consumer) delete(ctx context.Context, handle *string) {
	_, err := c.cl.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(c.queue), ReceiptHandle: handle})
	if err != nil {
		// Its objects are recorded: when it comes back, it adds nothing.
		err = denied(err, "sqs:DeleteMessage on "+queueARN(c.queue))
		c.m.metrics.errs.WithLabelValues("delete", errClass(err)).Inc()
		c.setError(ctx, "sqs:DeleteMessage", err)
		c.log.Warn("deleting a handled message failed; its redelivery will change nothing", "err", err)
	}
}

// quarantine keeps a message that kept failing, then deletes it.
func (c *consumer) quarantine(ctx context.Context, msg types.Message, receives int, reason string) {
	err := c.m.cfg.Store.Quarantine(ctx, store.QuarantinedMessage{Queue: c.queue, OrgID: c.ing.devs.Load().org,
		MessageID: aws.ToString(msg.MessageId), Body: aws.ToString(msg.Body), Receives: receives, Reason: reason, At: c.m.now()})
	if err != nil {
		c.log.Error("quarantining a failing message failed; it stays in the queue", "message", aws.ToString(msg.MessageId), "err", err)
		return
	}
	c.m.metrics.messages.WithLabelValues("quarantined").Inc()
	c.log.Warn("quarantined a message that keeps failing; retry it through the API once fixed", "message", aws.ToString(msg.MessageId), "receives", receives, "reason", reason)
	c.delete(ctx, msg.ReceiptHandle)
}

// retryQuarantined processes the queue's quarantined messages a user asked
// to retry: a success forgets them, a failure quarantines them again.
func (c *consumer) retryQuarantined(ctx context.Context) {
	msgs, err := c.m.cfg.Store.TakeRetries(ctx, c.queue, 10)
	if err != nil {
		c.log.Warn("reading quarantined messages to retry failed", "err", err)
		return
	}
	for _, q := range msgs {
		_, err := c.process(ctx, q.Body, time.Time{})
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			c.m.metrics.messages.WithLabelValues("retried").Inc()
			if err := c.m.cfg.Store.DeleteQuarantined(ctx, q.ID); err != nil {
				c.log.Warn("forgetting a retried message failed", "err", err)
			}
			continue
		}
		q.Reason, q.At = "retried: "+err.Error(), c.m.now()
		if err := c.m.cfg.Store.Quarantine(ctx, q); err != nil {
			c.log.Warn("quarantining a retried message again failed", "err", err)
		}
	}
}

// backoff is base*2^(n-1), capped, with up to a fifth of jitter.
func backoff(n int, base, cap time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < cap; i++ {
		d *= 2
	}
	d = min(d, cap)
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
