package querylog

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const s3Put = `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"eu-west-1","eventTime":"2024-05-04T17:51:55.123Z",
 "eventName":"ObjectCreated:Put","s3":{"s3SchemaVersion":"1.0","bucket":{"name":"dns-logs","arn":"arn:aws:s3:::dns-logs"},
 "object":{"key":"my+logs/AWSLogs/111122223333/vpcdnsquerylogs/vpc-1/2024/05/04/vpc-1_vpcdnsquerylogs_111122223333_20240504T1750Z_0a1b2c3d.log.gz",
 "size":1234,"eTag":"0123456789abcdef","sequencer":"0A1B2C3D4E5F678901"}}}]}`

const testEvent = `{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2024-05-04T17:51:55.123Z","Bucket":"dns-logs","RequestId":"X","HostId":"Y"}`

func wantRef() ObjectRef {
	return ObjectRef{Bucket: "dns-logs", Key: "my logs/AWSLogs/111122223333/vpcdnsquerylogs/vpc-1/2024/05/04/vpc-1_vpcdnsquerylogs_111122223333_20240504T1750Z_0a1b2c3d.log.gz",
		ETag: "0123456789abcdef", Size: 1234, EventTime: time.Date(2024, 5, 4, 17, 51, 55, 123000000, time.UTC)}
}

func sns(inner string) string {
	b, _ := json.Marshal(map[string]string{"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:eu-west-1:111122223333:t", "Message": inner})
	return string(b)
}

func TestParseEvent(t *testing.T) {
	bridge := `{"version":"0","id":"1","detail-type":"Object Created","source":"aws.s3","account":"111122223333","time":"2024-05-04T17:51:55Z",
	 "region":"eu-west-1","resources":["arn:aws:s3:::dns-logs"],"detail":{"version":"0","bucket":{"name":"dns-logs"},
	 "object":{"key":"AWSLogs/x/vpcdnsquerylogs/a b.log.gz","size":5,"etag":"\"abc\"","sequencer":"1"},"reason":"PutObject"}}`
	twoRecords := strings.Replace(s3Put, `]}`, `,{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}`, 1)
	for _, c := range []struct {
		name, body string
		want       Event
	}{
		{"an S3 event, form-encoded key", s3Put, Event{Objects: []ObjectRef{wantRef()}}},
		{"the test event", testEvent, Event{Test: true}},
		{"wrapped by SNS", sns(s3Put), Event{Objects: []ObjectRef{wantRef()}}},
		{"the test event wrapped by SNS", sns(testEvent), Event{Test: true}},
		{"twice wrapped by SNS", sns(sns(s3Put)), Event{Objects: []ObjectRef{wantRef()}}},
		{"EventBridge (key as it is)", bridge, Event{Objects: []ObjectRef{{Bucket: "dns-logs", Key: "AWSLogs/x/vpcdnsquerylogs/a b.log.gz", ETag: "abc", Size: 5,
			EventTime: time.Date(2024, 5, 4, 17, 51, 55, 0, time.UTC)}}}},
		{"EventBridge, another event", strings.Replace(bridge, "Object Created", "Object Deleted", 1), Event{Ignored: 1}},
		{"a deletion beside a creation", twoRecords, Event{Objects: []ObjectRef{wantRef()}, Ignored: 1}},
	} {
		got, err := ParseEvent([]byte(c.body))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
}

func TestParseEventRefuses(t *testing.T) {
	for _, body := range []string{
		``, `not json`, `{}`, `[]`, `{"Records":[]}`,
		strings.Replace(s3Put, `"2.1"`, `"1.0"`, 1),
		strings.Replace(s3Put, `my+logs`, `my%zzlogs`, 1),
		strings.Replace(s3Put, `"dns-logs"`, `""`, 1),
		`{"detail-type":"Object Created","source":"aws.ec2","detail":{}}`,
		`{"detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":"b"},"object":{}}}`,
		sns(sns(sns(sns(s3Put)))),
		sns(`{"hello":1}`),
	} {
		if ev, err := ParseEvent([]byte(body)); !errors.Is(err, ErrNotS3Event) {
			t.Errorf("%.60q: %+v, %v; want ErrNotS3Event", body, ev, err)
		}
	}
}

func TestIsQueryLogKey(t *testing.T) {
	for key, want := range map[string]bool{
		wantRef().Key: true,
		"AWSLogs/111122223333/vpcdnsquerylogs/vpc-1/2024/05/04/x.log.gz": true,
		"AWSLogs/111122223333/CloudTrail/eu-west-1/2024/05/04/x.json.gz": false,
		"AWSLogs/111122223333/vpcflowlogs/x.log.gz":                      false,
	} {
		if IsQueryLogKey(key) != want {
			t.Errorf("IsQueryLogKey(%q) != %v", key, want)
		}
	}
}

// FuzzParseEvent: any body gives an event or ErrNotS3Event, never a
// panic, and every object has a bucket and a key.
func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{s3Put, testEvent, sns(s3Put), `{"detail-type":"Object Created","source":"aws.s3","detail":{"bucket":{"name":"b"},"object":{"key":"k"}}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		ev, err := ParseEvent([]byte(body))
		if err != nil {
			if !errors.Is(err, ErrNotS3Event) {
				t.Fatalf("error %v is not ErrNotS3Event", err)
			}
			return
		}
		for _, o := range ev.Objects {
			if o.Bucket == "" || o.Key == "" {
				t.Fatalf("an object without bucket or key: %+v", o)
			}
		}
		if ev.Test && len(ev.Objects) > 0 {
			t.Fatalf("a test event with objects: %+v", ev)
		}
	})
}
