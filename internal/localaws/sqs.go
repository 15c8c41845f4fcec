package localaws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// sqsError is an SQS error response (AWS JSON 1.0).
type sqsError struct {
	Code, Message string
	// Query is the code of the older query protocol, which the SDK reads
	// from x-amzn-query-error when it is set.
	Query string
}

func (e *sqsError) Error() string { return e.Code + ": " + e.Message }

func sqsErr(code, format string, args ...any) *sqsError {
	return &sqsError{Code: code, Message: fmt.Sprintf(format, args...)}
}

func errInvalidAction(msg string) *sqsError { return sqsErr("InvalidAction", "%s", msg) }

func writeSQSError(w http.ResponseWriter, err error) {
	var se *sqsError
	if !errors.As(err, &se) {
		if errors.Is(err, errNoQueue) {
			se = &sqsError{Code: "QueueDoesNotExist", Message: "The specified queue does not exist.", Query: "AWS.SimpleQueueService.NonExistentQueue"}
		} else {
			se = sqsErr("InternalError", "%v", err)
		}
	}
	status := http.StatusBadRequest
	if se.Code == "InternalError" {
		status = http.StatusInternalServerError
	}
	if se.Query != "" {
		w.Header().Set("x-amzn-query-error", se.Query+";Sender")
	}
	writeJSON(w, status, map[string]string{"__type": "com.amazonaws.sqs#" + se.Code, "message": se.Message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"__type":"InternalError"}`)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("x-amzn-RequestId", uuid())
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// sqsRequest is the union of the fields of the operations served.
type sqsRequest struct {
	QueueName                   string
	QueueURL                    string `json:"QueueUrl"`
	Attributes                  map[string]string
	Tags                        map[string]string `json:"tags"`
	TagKeys                     []string
	AttributeNames              []string
	MessageSystemAttributeNames []string
	MessageAttributeNames       []string
	MessageAttributes           map[string]any
	MessageBody                 string
	DelaySeconds                *int
	MaxNumberOfMessages         int
	WaitTimeSeconds             *int
	VisibilityTimeout           *int
	ReceiptHandle               string
	QueueNamePrefix             string
}

type sqsOp func(ctx context.Context, req sqsRequest) (any, error)

func (s *Server) sqsOps() map[string]sqsOp {
	return map[string]sqsOp{
		"CreateQueue": s.createQueue, "GetQueueUrl": s.getQueueURL, "DeleteQueue": s.deleteQueue, "ListQueues": s.listQueues,
		"GetQueueAttributes": s.getQueueAttributes, "SetQueueAttributes": s.setQueueAttributes, "PurgeQueue": s.purgeQueue,
		"ListQueueTags": s.listQueueTags, "TagQueue": s.tagQueue, "UntagQueue": s.untagQueue,
		"SendMessage": s.sendMessage, "ReceiveMessage": s.receiveMessage, "DeleteMessage": s.deleteMessage,
		"ChangeMessageVisibility": s.changeVisibility,
	}
}

func (s *Server) serveSQS(w http.ResponseWriter, r *http.Request, target string) {
	name, ok := strings.CutPrefix(target, "AmazonSQS.")
	op := s.sqsOps()[name]
	if !ok || op == nil {
		writeSQSError(w, errInvalidAction(fmt.Sprintf("the local SQS does not support %s", target)))
		return
	}
	var req sqsRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 2*maxMessage))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		writeSQSError(w, sqsErr("InvalidParameterValue", "the request body is not the JSON of %s: %v", name, err))
		return
	}
	out, err := op(r.Context(), req)
	if err != nil {
		writeSQSError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) queueURL(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base + "/" + s.cfg.Account + "/" + name
}

func (s *Server) createQueue(_ context.Context, req sqsRequest) (any, error) {
	if strings.HasSuffix(req.QueueName, ".fifo") {
		return nil, sqsErr("InvalidParameterValue", "the local SQS has standard queues only, not FIFO")
	}
	if !queueNameRe.MatchString(req.QueueName) {
		return nil, sqsErr("InvalidParameterValue", "Queue name %q: want 1-80 letters, digits, '-' or '_'.", req.QueueName)
	}
	if err := checkAttrs(req.Attributes); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.queues[req.QueueName]; q != nil {
		q.mu.Lock()
		defer q.mu.Unlock()
		for k, v := range req.Attributes {
			if q.attrs[k] != v {
				return nil, sqsErr("QueueNameExists", "A queue already exists with the same name and a different value for attribute %s", k)
			}
		}
		return map[string]string{"QueueUrl": s.base + "/" + s.cfg.Account + "/" + q.name}, nil
	}
	q := newQueue(req.QueueName, s.arnPrefix()+req.QueueName, filepath.Join(s.cfg.Dir, "sqs", req.QueueName+".json"), s.cfg.Now())
	for k, v := range req.Attributes {
		q.attrs[k] = v
	}
	for k, v := range req.Tags {
		q.tags[k] = v
	}
	if err := q.save(); err != nil {
		return nil, err
	}
	s.queues[q.name] = q
	return map[string]string{"QueueUrl": s.base + "/" + s.cfg.Account + "/" + q.name}, nil
}

func (s *Server) getQueueURL(_ context.Context, req sqsRequest) (any, error) {
	s.mu.Lock()
	q := s.queues[req.QueueName]
	s.mu.Unlock()
	if q == nil {
		return nil, errNoQueue
	}
	return map[string]string{"QueueUrl": s.queueURL(q.name)}, nil
}

func (s *Server) deleteQueue(_ context.Context, req sqsRequest) (any, error) {
	q, err := s.queueByURL(req.QueueURL)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	delete(s.queues, q.name)
	s.mu.Unlock()
	q.mu.Lock()
	q.wake()
	q.mu.Unlock()
	if err := os.Remove(q.path); err != nil {
		return nil, fmt.Errorf("deleting queue %s: %w", q.name, err)
	}
	return struct{}{}, nil
}

func (s *Server) listQueues(_ context.Context, req sqsRequest) (any, error) {
	s.mu.Lock()
	var urls []string
	for name := range s.queues {
		if strings.HasPrefix(name, req.QueueNamePrefix) {
			urls = append(urls, s.base+"/"+s.cfg.Account+"/"+name)
		}
	}
	s.mu.Unlock()
	return map[string][]string{"QueueUrls": urls}, nil
}

func (s *Server) getQueueAttributes(_ context.Context, req sqsRequest) (any, error) {
	q, err := s.queueByURL(req.QueueURL)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	visible, inFlight, delayed := q.counts(now)
	q.mu.Lock()
	all := map[string]string{"QueueArn": q.arn, "ApproximateNumberOfMessages": strconv.Itoa(visible),
		"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(inFlight), "ApproximateNumberOfMessagesDelayed": strconv.Itoa(delayed),
		"CreatedTimestamp": strconv.FormatInt(q.created.Unix(), 10), "LastModifiedTimestamp": strconv.FormatInt(q.modified.Unix(), 10)}
	for k, v := range q.attrs {
		all[k] = v
	}
	q.mu.Unlock()
	out := map[string]string{}
	for _, name := range req.AttributeNames {
		if name == "All" {
			out = all
			break
		}
		if v, ok := all[name]; ok {
			out[name] = v
		} else if !settable[name] {
			return nil, sqsErr("InvalidAttributeName", "Unknown Attribute %s.", name)
		}
	}
	return map[string]any{"Attributes": out}, nil
}

func (s *Server) setQueueAttributes(_ context.Context, req sqsRequest) (any, error) {
	q, err := s.queueByURL(req.QueueURL)
	if err != nil {
		return nil, err
	}
	if err := checkAttrs(req.Attributes); err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for k, v := range req.Attributes {
		q.attrs[k] = v
	}
	q.modified = s.cfg.Now()
	return struct{}{}, q.save()
}

func (s *Server) purgeQueue(_ context.Context, req sqsRequest) (any, error) {
	q, err := s.queueByURL(req.QueueURL)
	if err != nil {
		return nil, err
	}
	return struct{}{}, q.purge()
}

func (s *Server) listQueueTags(_ context.Context, req sqsRequest) (any, error) {
	q, err := s.queueByURL(req.QueueURL)
	if err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	tags := make(map[string]string, len(q.tags))
	for k, v := range q.tags {
		tags[k] = v
	}
	return map[string]any{"Tags": tags}, nil
}

func (s *Server) tagQueue(_ context.Context, req sqsRequest) (any, error) {
	q, err := s.queueByURL(req.QueueURL)
	if err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for k, v := range req.Tags {
		q.tags[k] = v
	}
	return struct{}{}, q.save()
}

func (s *Server) untagQueue(_ context.Context, req sqsRequest) (any, error) {
	q, err := s.queueByURL(req.QueueURL)
	if err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, k := range req.TagKeys {
		delete(q.tags, k)
	}
	return struct{}{}, q.save()
}

func (s *Server) sendMessage(_ context.Context, req sqsRequest) (any, error) {
	q, err := s.queueByURL(req.QueueURL)
	if err != nil {
		return nil, err
	}
	if len(req.MessageAttributes) > 0 {
		return nil, sqsErr("InvalidParameterValue", "the local SQS does not keep message attributes")
	}
	delay := time.Duration(-1)
	if req.DelaySeconds != nil {
		if *req.DelaySeconds < 0 || *req.DelaySeconds > 900 {
			return nil, sqsErr("InvalidParameterValue", "DelaySeconds %d: want 0 to 900", *req.DelaySeconds)
		}
		delay = time.Duration(*req.DelaySeconds) * time.Second
	}
	m, err := q.send(req.MessageBody, s.cfg.Now(), delay)
	if err != nil {
		return nil, err
	}
	return map[string]string{"MessageId": m.ID, "MD5OfMessageBody": md5Hex(m.Body)}, nil
}
