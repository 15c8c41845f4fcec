package querylog

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// ObjectRef is an S3 object a notification announces.
type ObjectRef struct {
	Bucket string
	// Key is decoded (S3 notifications form-encode it: '+' for spaces).
	Key  string
	ETag string
	Size int64
	// EventTime is when S3 says the object was created (zero when unknown).
	EventTime time.Time
}

// Event is what one SQS message says.
type Event struct {
	// Test is S3's one-off s3:TestEvent, sent when a notification is set
	// up: acknowledged quietly.
	Test bool
	// Objects are the objects created.
	Objects []ObjectRef
	// Ignored counts records that are not object creations (deletions,
	// restores, ...).
	Ignored int
}

// ErrNotS3Event says a message is not an S3 notification in any wrapping
// rpzfw knows: it is skipped and counted, never retried.
var ErrNotS3Event = errors.New("not an S3 event notification")

// message is the union of the shapes a message body may take: an S3
// event (Records or the test event), an SNS notification wrapping one, or
// an EventBridge event.
type message struct {
	Records []s3Record `json:"Records"`
	Event   string     `json:"Event"`
	// SNS
	Type    string `json:"Type"`
	Message string `json:"Message"`
	// EventBridge
	DetailType string        `json:"detail-type"`
	Source     string        `json:"source"`
	Time       string        `json:"time"`
	Detail     *bridgeDetail `json:"detail"`
}

type s3Record struct {
	EventVersion string `json:"eventVersion"`
	EventSource  string `json:"eventSource"`
	EventName    string `json:"eventName"`
	EventTime    string `json:"eventTime"`
	S3           struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key  string `json:"key"`
			Size int64  `json:"size"`
			ETag string `json:"eTag"`
		} `json:"object"`
	} `json:"s3"`
}

type bridgeDetail struct {
	Bucket struct {
		Name string `json:"name"`
	} `json:"bucket"`
	Object struct {
		Key  string `json:"key"`
		Size int64  `json:"size"`
		ETag string `json:"etag"`
	} `json:"object"`
}

// maxWrapping bounds SNS-in-SNS unwrapping.
const maxWrapping = 3

// ParseEvent reads an SQS message body: an S3 event notification
// (eventVersion 2.x), S3's test event, or either wrapped in an SNS
// notification, or an EventBridge "Object Created" event.
func ParseEvent(body []byte) (Event, error) {
	return parseEvent(body, 0)
}

func parseEvent(body []byte, depth int) (Event, error) {
	var m message
	if err := json.Unmarshal(body, &m); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrNotS3Event, err)
	}
	switch {
	case m.Type == "Notification" && m.Message != "":
		if depth >= maxWrapping {
			return Event{}, fmt.Errorf("%w: SNS notifications wrapped more than %d deep", ErrNotS3Event, maxWrapping)
		}
		return parseEvent([]byte(m.Message), depth+1)
	case m.Event == "s3:TestEvent":
		return Event{Test: true}, nil
	case m.DetailType != "" && m.Detail != nil:
		return bridgeEvent(m)
	case len(m.Records) > 0:
		return recordsEvent(m.Records)
	}
	return Event{}, ErrNotS3Event
}

// bridgeEvent reads an EventBridge event. Its object key is not
// form-encoded, unlike S3's own notifications.
func bridgeEvent(m message) (Event, error) {
	if m.Source != "" && m.Source != "aws.s3" {
		return Event{}, fmt.Errorf("%w: an EventBridge event from %q", ErrNotS3Event, m.Source)
	}
	if m.DetailType != "Object Created" {
		return Event{Ignored: 1}, nil
	}
	ref := ObjectRef{Bucket: m.Detail.Bucket.Name, Key: m.Detail.Object.Key, ETag: cleanETag(m.Detail.Object.ETag), Size: m.Detail.Object.Size}
	if ref.Bucket == "" || ref.Key == "" {
		return Event{}, fmt.Errorf("%w: an EventBridge Object Created event without bucket or key", ErrNotS3Event)
	}
	ref.EventTime, _ = time.Parse(time.RFC3339, m.Time)
	return Event{Objects: []ObjectRef{ref}}, nil
}

func recordsEvent(recs []s3Record) (Event, error) {
	var ev Event
	for i, r := range recs {
		if r.EventSource != "" && r.EventSource != "aws:s3" {
			ev.Ignored++
			continue
		}
		if !strings.HasPrefix(r.EventVersion, "2.") {
			return Event{}, fmt.Errorf("%w: record %d has event version %q; rpzfw reads 2.x", ErrNotS3Event, i, r.EventVersion)
		}
		if !strings.HasPrefix(r.EventName, "ObjectCreated:") {
			ev.Ignored++
			continue
		}
		key, err := url.QueryUnescape(r.S3.Object.Key)
		if err != nil {
			return Event{}, fmt.Errorf("%w: record %d: object key %q: %v", ErrNotS3Event, i, r.S3.Object.Key, err)
		}
		if r.S3.Bucket.Name == "" || key == "" {
			return Event{}, fmt.Errorf("%w: record %d has no bucket or key", ErrNotS3Event, i)
		}
		ref := ObjectRef{Bucket: r.S3.Bucket.Name, Key: key, ETag: cleanETag(r.S3.Object.ETag), Size: r.S3.Object.Size}
		ref.EventTime, _ = time.Parse(time.RFC3339Nano, r.EventTime)
		ev.Objects = append(ev.Objects, ref)
	}
	return ev, nil
}

// cleanETag drops the quotes GetObject puts around an ETag, so that the
// event's and the object's compare equal.
func cleanETag(s string) string { return strings.Trim(s, `"`) }

// IsQueryLogKey says whether an object key is a Route 53 Resolver query
// log: [prefix/]AWSLogs/<account>/vpcdnsquerylogs/<vpc>/... Objects of
// other logs in the same bucket are skipped and counted.
func IsQueryLogKey(key string) bool {
	return strings.Contains(key, "/vpcdnsquerylogs/") || strings.Contains(key, "_vpcdnsquerylogs_")
}
