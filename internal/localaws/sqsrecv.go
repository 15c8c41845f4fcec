package localaws

import (
	"context"
	"slices"
	"strconv"
	"time"
)

type sqsMessage struct {
	MessageID     string            `json:"MessageId"`
	ReceiptHandle string            `json:"ReceiptHandle"`
	MD5OfBody     string            `json:"MD5OfBody"`
	Body          string            `json:"Body"`
	Attributes    map[string]string `json:"Attributes,omitempty"`
}

// receiveMessage takes visible messages, waiting up to WaitTimeSeconds
// (long polling) for one to arrive or come back from its visibility
// timeout.
func (s *Server) receiveMessage(ctx context.Context, req sqsRequest) (any, error) {
	q, err := s.queueByURL(req.QueueURL)
	if err != nil {
		return nil, err
	}
	max := req.MaxNumberOfMessages
	if max == 0 {
		max = 1
	}
	if max < 1 || max > 10 {
		return nil, sqsErr("InvalidParameterValue", "Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10.", max)
	}
	q.mu.Lock()
	wait, vis := q.attrInt("ReceiveMessageWaitTimeSeconds"), q.attrInt("VisibilityTimeout")
	q.mu.Unlock()
	if req.WaitTimeSeconds != nil {
		wait = *req.WaitTimeSeconds
	}
	if wait < 0 || wait > 20 {
		return nil, sqsErr("InvalidParameterValue", "Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20.", wait)
	}
	if req.VisibilityTimeout != nil {
		vis = *req.VisibilityTimeout
	}
	if vis < 0 || vis > 43200 {
		return nil, sqsErr("InvalidParameterValue", "Value %d for parameter VisibilityTimeout is invalid.", vis)
	}
	deadline := s.cfg.Now().Add(time.Duration(wait) * time.Second)
	for {
		q.mu.Lock()
		arrived := q.arrived
		q.mu.Unlock()
		now := s.cfg.Now()
		msgs, next, err := q.receive(max, time.Duration(vis)*time.Second, now)
		if err != nil {
			return nil, err
		}
		if len(msgs) > 0 || !now.Before(deadline) || s.closing() {
			return map[string]any{"Messages": s.wireMessages(msgs, req)}, nil
		}
		until := deadline
		if !next.IsZero() && next.Before(until) {
			until = next
		}
		t := time.NewTimer(until.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-arrived:
		case <-t.C:
		}
		t.Stop()
	}
}

// closing says whether the server is shutting down (long polls end).
func (s *Server) closing() bool {
	select {
	case <-s.done:
		return true
	default:
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
}

func (s *Server) wireMessages(msgs []message, req sqsRequest) []sqsMessage {
	names := append(slices.Clone(req.AttributeNames), req.MessageSystemAttributeNames...)
	want := func(n string) bool { return slices.Contains(names, "All") || slices.Contains(names, n) }
	out := make([]sqsMessage, 0, len(msgs))
	for _, m := range msgs {
		wm := sqsMessage{MessageID: m.ID, ReceiptHandle: m.handle, MD5OfBody: md5Hex(m.Body), Body: m.Body}
		attrs := map[string]string{"ApproximateReceiveCount": strconv.Itoa(m.Receives), "SentTimestamp": strconv.FormatInt(m.Sent.UnixMilli(), 10),
			"ApproximateFirstReceiveTimestamp": strconv.FormatInt(m.FirstReceive.UnixMilli(), 10), "SenderId": "AIDALOCAL" + s.cfg.Account}
		for k, v := range attrs {
			if want(k) {
				if wm.Attributes == nil {
					wm.Attributes = map[string]string{}
				}
				wm.Attributes[k] = v
			}
		}
		out = append(out, wm)
	}
	return out
}

func (s *Server) deleteMessage(_ context.Context, req sqsRequest) (any, error) {
	q, err := s.queueByURL(req.QueueURL)
	if err != nil {
		return nil, err
	}
	return struct{}{}, q.remove(req.ReceiptHandle)
}

func (s *Server) changeVisibility(_ context.Context, req sqsRequest) (any, error) {
	q, err := s.queueByURL(req.QueueURL)
	if err != nil {
		return nil, err
	}
	vis := 0 // an SDK may leave a zero out
	if req.VisibilityTimeout != nil {
		vis = *req.VisibilityTimeout
	}
	if vis < 0 || vis > 43200 {
		return nil, sqsErr("InvalidParameterValue", "VisibilityTimeout %d: want 0 to 43200 seconds", vis)
	}
	return struct{}{}, q.changeVisibility(req.ReceiptHandle, time.Duration(vis)*time.Second, s.cfg.Now())
}
