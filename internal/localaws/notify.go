package localaws

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
)

// notificationConfig is a bucket's notification configuration: queue
// destinations only (the local S3 has no SNS or Lambda to send to).
type notificationConfig struct {
	XMLName xml.Name      `xml:"http://s3.amazonaws.com/doc/2006-03-01/ NotificationConfiguration" json:"-"`
	Queues  []queueConfig `xml:"QueueConfiguration" json:"queues"`
	// Topics, Lambdas and EventBridge are read only to refuse them.
	Topics      []struct{} `xml:"TopicConfiguration" json:"-"`
	Lambdas     []struct{} `xml:"CloudFunctionConfiguration" json:"-"`
	EventBridge *struct{}  `xml:"EventBridgeConfiguration" json:"-"`
}

type queueConfig struct {
	ID     string       `xml:"Id,omitempty" json:"id"`
	Queue  string       `xml:"Queue" json:"queue"`
	Events []string     `xml:"Event" json:"events"`
	Filter *filterRules `xml:"Filter,omitempty" json:"filter,omitempty"`
}

type filterRules struct {
	Rules []filterRule `xml:"S3Key>FilterRule" json:"rules"`
}

type filterRule struct {
	Name  string `xml:"Name" json:"name"`
	Value string `xml:"Value" json:"value"`
}

// parseNotification reads and checks a PutBucketNotificationConfiguration
// body; queueExists says whether a queue ARN names a queue here.
func parseNotification(body []byte, queueExists func(arn string) bool) (notificationConfig, error) {
	var nc notificationConfig
	if err := xml.Unmarshal(body, &nc); err != nil {
		return nc, s3Err(http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed: %v", err)
	}
	if len(nc.Topics) > 0 || len(nc.Lambdas) > 0 || nc.EventBridge != nil {
		return nc, s3Err(http.StatusNotImplemented, "NotImplemented", "the local S3 notifies SQS queues only (no SNS, Lambda or EventBridge)")
	}
	ids := map[string]bool{}
	for i := range nc.Queues {
		qc := &nc.Queues[i]
		if qc.ID == "" {
			qc.ID = newID(8)
		}
		if ids[qc.ID] {
			return nc, s3Err(http.StatusBadRequest, "InvalidArgument", "configuration ID %q is used twice", qc.ID)
		}
		ids[qc.ID] = true
		if len(qc.Events) == 0 {
			return nc, s3Err(http.StatusBadRequest, "InvalidArgument", "configuration %s: at least one event is required", qc.ID)
		}
		for _, e := range qc.Events {
			if !validEvent(e) {
				return nc, s3Err(http.StatusBadRequest, "InvalidArgument", "configuration %s: event %q: want s3:ObjectCreated:* or s3:ObjectRemoved:* (or one of their kinds)", qc.ID, e)
			}
		}
		if qc.Filter != nil {
			for _, r := range qc.Filter.Rules {
				if n := strings.ToLower(r.Name); n != "prefix" && n != "suffix" {
					return nc, s3Err(http.StatusBadRequest, "InvalidArgument", "configuration %s: filter rule %q: want prefix or suffix", qc.ID, r.Name)
				}
			}
		}
		if !queueExists(qc.Queue) {
			return nc, s3Err(http.StatusBadRequest, "InvalidArgument", "Unable to validate the following destination configurations: %s (no such queue)", qc.Queue)
		}
	}
	return nc, nil
}

func validEvent(e string) bool {
	kind, ok := strings.CutPrefix(e, "s3:")
	if !ok {
		return false
	}
	group, sub, _ := strings.Cut(kind, ":")
	return (group == "ObjectCreated" || group == "ObjectRemoved") && sub != "" && !strings.ContainsAny(sub, ": ")
}

// matches says whether the configuration asks for event name (such as
// "ObjectCreated:Put") on key.
func (qc queueConfig) matches(name, key string) bool {
	if qc.Filter != nil {
		for _, r := range qc.Filter.Rules {
			switch strings.ToLower(r.Name) {
			case "prefix":
				if !strings.HasPrefix(key, r.Value) {
					return false
				}
			case "suffix":
				if !strings.HasSuffix(key, r.Value) {
					return false
				}
			}
		}
	}
	for _, e := range qc.Events {
		e = strings.TrimPrefix(e, "s3:")
		if e == name || (strings.HasSuffix(e, ":*") && strings.HasPrefix(name, strings.TrimSuffix(e, "*"))) {
			return true
		}
	}
	return false
}

func (s *Server) getNotification(w http.ResponseWriter, bucket string) error {
	if !s.objects.hasBucket(bucket) {
		return errNoSuchBucket
	}
	s.mu.Lock()
	nc := s.notify[bucket]
	s.mu.Unlock()
	writeXML(w, nc)
	return nil
}

func (s *Server) putNotification(w http.ResponseWriter, r *http.Request, bucket string) error {
	if !s.objects.hasBucket(bucket) {
		return errNoSuchBucket
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return s3Err(http.StatusBadRequest, "IncompleteBody", "reading the body: %v", err)
	}
	nc, err := parseNotification(body, func(arn string) bool { return s.queueByARN(arn) != nil })
	if err != nil {
		return err
	}
	b, _ := json.Marshal(nc)
	if err := writeFileAtomic(filepath.Join(s.objects.bucketDir(bucket), "notification.json"), b); err != nil {
		return fmt.Errorf("storing the notification configuration of %s: %w", bucket, err)
	}
	s.mu.Lock()
	s.notify[bucket] = nc
	s.mu.Unlock()
	// As S3 does, a test event tells each destination it is set up.
	test, _ := json.Marshal(map[string]string{"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": s.cfg.Now().UTC().Format(eventTime),
		"Bucket": bucket, "RequestId": newID(8), "HostId": newID(16)})
	for _, qc := range nc.Queues {
		s.deliver(qc.Queue, string(test))
	}
	return nil
}

func (s *Server) dropNotification(bucket string) {
	s.mu.Lock()
	delete(s.notify, bucket)
	s.mu.Unlock()
}

// loadNotifications reads each bucket's configuration.
func (s *Server) loadNotifications() error {
	ents, err := os.ReadDir(s.objects.dir)
	if err != nil {
		return fmt.Errorf("localaws: reading the buckets: %w", err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(s.objects.dir, e.Name(), "notification.json"))
		if errors.Is(err, fs.ErrNotExist) || !e.IsDir() {
			continue
		}
		var nc notificationConfig
		if err == nil {
			err = json.Unmarshal(b, &nc)
		}
		if err != nil {
			return fmt.Errorf("localaws: reading the notification configuration of %s: %w", e.Name(), err)
		}
		s.notify[e.Name()] = nc
	}
	return nil
}

// eventTime is the time format of S3 events.
const eventTime = "2006-01-02T15:04:05.000Z"

// s3Event is one S3 event notification, as S3 sends it (version 2.1).
type s3Event struct {
	Records []eventRecord `json:"Records"`
}

type eventRecord struct {
	EventVersion      string            `json:"eventVersion"`
	EventSource       string            `json:"eventSource"`
	AWSRegion         string            `json:"awsRegion"`
	EventTime         string            `json:"eventTime"`
	EventName         string            `json:"eventName"`
	UserIdentity      map[string]string `json:"userIdentity"`
	RequestParameters map[string]string `json:"requestParameters"`
	ResponseElements  map[string]string `json:"responseElements"`
	S3                eventS3           `json:"s3"`
}

type eventS3 struct {
	SchemaVersion   string      `json:"s3SchemaVersion"`
	ConfigurationID string      `json:"configurationId"`
	Bucket          eventBucket `json:"bucket"`
	Object          eventObject `json:"object"`
}

type eventBucket struct {
	Name          string            `json:"name"`
	OwnerIdentity map[string]string `json:"ownerIdentity"`
	ARN           string            `json:"arn"`
}

type eventObject struct {
	Key string `json:"key"`
	// Size and ETag are absent from removals.
	Size      *int64 `json:"size,omitempty"`
	ETag      string `json:"eTag,omitempty"`
	Sequencer string `json:"sequencer"`
}

// sequence orders the events of an object, as S3's sequencer does.
var sequence atomic.Uint64

// makeEvent is the event of name on object m of bucket.
func (s *Server) makeEvent(bucket, configID, name string, m objectMeta, sourceIP string) s3Event {
	obj := eventObject{Key: s3KeyEscape(m.Key), Sequencer: fmt.Sprintf("%016X%04X", s.cfg.Now().UnixNano(), sequence.Add(1)&0xffff)}
	if strings.HasPrefix(name, "ObjectCreated:") {
		size := m.Size
		obj.Size, obj.ETag = &size, m.ETag
	}
	principal := "AWS:AIDALOCAL" + s.cfg.Account
	return s3Event{Records: []eventRecord{{
		EventVersion: "2.1", EventSource: "aws:s3", AWSRegion: s.cfg.Region, EventTime: s.cfg.Now().UTC().Format(eventTime), EventName: name,
		UserIdentity: map[string]string{"principalId": principal}, RequestParameters: map[string]string{"sourceIPAddress": sourceIP},
		ResponseElements: map[string]string{"x-amz-request-id": strings.ToUpper(newID(8)), "x-amz-id-2": newID(32)},
		S3: eventS3{SchemaVersion: "1.0", ConfigurationID: configID, Object: obj,
			Bucket: eventBucket{Name: bucket, OwnerIdentity: map[string]string{"principalId": principal}, ARN: "arn:aws:s3:::" + bucket}},
	}}}
}

// s3KeyEscape encodes a key as S3 events do: form encoding (a space is
// '+'), with '/' kept.
func s3KeyEscape(key string) string {
	return strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
}

// notifyObject sends the event of name on m to every queue of the
// bucket's configuration that asks for it.
func (s *Server) notifyObject(bucket, name string, m objectMeta, r *http.Request) {
	s.mu.Lock()
	nc := s.notify[bucket]
	s.mu.Unlock()
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	for _, qc := range nc.Queues {
		if !qc.matches(name, m.Key) {
			continue
		}
		b, err := json.Marshal(s.makeEvent(bucket, qc.ID, name, m, ip))
		if err != nil {
			s.cfg.Log.Error("encoding an S3 event failed", "err", err)
			continue
		}
		s.deliver(qc.Queue, string(b))
	}
}

// deliver sends a notification to a queue by ARN. A queue deleted since
// the configuration was set loses it, as in S3; that is logged.
func (s *Server) deliver(arn, body string) {
	q := s.queueByARN(arn)
	if q == nil {
		s.cfg.Log.Warn("an S3 notification's queue does not exist; the event is dropped", "queue", arn)
		return
	}
	if _, err := q.send(body, s.cfg.Now(), 0); err != nil {
		s.cfg.Log.Error("queueing an S3 notification failed; the event is dropped", "queue", arn, "err", err)
	}
}
