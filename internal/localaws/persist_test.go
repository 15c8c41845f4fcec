package localaws

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rpzfw/rpzfw/internal/querylog"
)

// TestRestartKeepsState stops a server with an object, a notification
// configuration and an unread event (and one in flight), and checks that
// a new server over the same directory has all of them.
func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	e := start(t, dir)
	ctx := context.Background()
	url := setupLogs(t, e, "logs")
	deleteAll(t, e, url, receive(t, e, url, 0)) // the test event
	put := func(e *env, key string) {
		if _, err := e.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("logs"), Key: aws.String(key), Body: strings.NewReader(key)}); err != nil {
			t.Fatal(err)
		}
	}
	put(e, "AWSLogs/one")
	put(e, "AWSLogs/two")
	if inFlight := receive(t, e, url, 0); len(inFlight) != 2 {
		t.Fatalf("want 2 events, got %d", len(inFlight))
	}
	if err := e.srv.Close(ctx); err != nil {
		t.Fatal(err)
	}

	e2 := start(t, dir)
	msgs := receive(t, e2, url, 0)
	if len(msgs) != 2 {
		t.Fatalf("after a restart: %d messages, want the 2 in flight back", len(msgs))
	}
	for _, m := range msgs {
		if m.Attributes["ApproximateReceiveCount"] != "2" {
			t.Fatalf("receive count %s, want 2", m.Attributes["ApproximateReceiveCount"])
		}
	}
	deleteAll(t, e2, url, msgs)
	got, err := e2.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("logs"), Key: aws.String("AWSLogs/one")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if string(b) != "AWSLogs/one" {
		t.Fatalf("object after restart: %q", b)
	}
	put(e2, "AWSLogs/three") // the notification configuration was kept
	if m := receive(t, e2, url, 0); len(m) != 1 {
		t.Fatalf("after a restart a new object sent %d events, want 1", len(m))
	}
	tags, err := e2.sqs.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: aws.String(url)})
	if err != nil || tags.Tags["rpzfw:device"] != "sandbox" {
		t.Fatalf("tags after restart: %v %v", tags, err)
	}
}

// FuzzDecodeChunked checks that any body decodes without panic, and that
// an encoded body decodes to itself whatever the chunk size.
func FuzzDecodeChunked(f *testing.F) {
	f.Add([]byte("hello world"), 3, []byte("5;chunk-signature=x\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte(""), 1, []byte("zz\r\n"))
	f.Fuzz(func(t *testing.T, data []byte, size int, raw []byte) {
		_, _ = decodeChunked(raw)
		if size <= 0 || size > 1<<16 {
			size = 7
		}
		var enc bytes.Buffer
		for rest := data; len(rest) > 0; {
			n := min(size, len(rest))
			fmt.Fprintf(&enc, "%x;chunk-signature=abc\r\n", n)
			enc.Write(rest[:n])
			enc.WriteString("\r\n")
			rest = rest[n:]
		}
		enc.WriteString("0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n")
		got, err := decodeChunked(enc.Bytes())
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("decoded %q %v, want %q", got, err, data)
		}
	})
}

// FuzzEventKey checks that any key survives an event: the consumer's
// parser reads back the key the server encoded.
func FuzzEventKey(f *testing.F) {
	for _, k := range []string{"AWSLogs/a b+c", "%2F/x", "é/日本", "a%zz"} {
		f.Add(k)
	}
	srv, err := New(Config{Dir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if key == "" || strings.ToValidUTF8(key, "\uFFFD") != key {
			return // S3 keys are UTF-8
		}
		ev := srv.makeEvent("logs", "id", "ObjectCreated:Put", objectMeta{Key: key, ETag: "e", Size: 1}, "127.0.0.1")
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := querylog.ParseEvent(b)
		if err != nil || len(parsed.Objects) != 1 || parsed.Objects[0].Key != key {
			t.Fatalf("key %q: parsed %+v %v (encoded %s)", key, parsed, err, url.QueryEscape(key))
		}
	})
}

// FuzzParseNotification checks that no configuration body panics, and
// that what is accepted names only known queues and events.
func FuzzParseNotification(f *testing.F) {
	f.Add([]byte(`<NotificationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><QueueConfiguration><Id>a</Id><Queue>arn:q</Queue><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule><Name>prefix</Name><Value>AWSLogs/</Value></FilterRule></S3Key></Filter></QueueConfiguration></NotificationConfiguration>`))
	f.Add([]byte(`<NotificationConfiguration><TopicConfiguration/></NotificationConfiguration>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		nc, err := parseNotification(body, func(arn string) bool { return arn == "arn:q" })
		if err != nil {
			return
		}
		for _, qc := range nc.Queues {
			if qc.Queue != "arn:q" || qc.ID == "" || len(qc.Events) == 0 {
				t.Fatalf("accepted %+v", qc)
			}
			for _, e := range qc.Events {
				if !validEvent(e) {
					t.Fatalf("accepted event %q", e)
				}
			}
		}
	})
}

// FuzzStoredFiles checks that damaged object and queue files give errors,
// never a panic, and that an object file's metadata and body split back.
func FuzzStoredFiles(f *testing.F) {
	f.Add([]byte(`{"key":"k","etag":"e","size":1}`+"\nx"), []byte(`{"name":"q","messages":[{"id":"1","body":"b"}]}`))
	f.Add([]byte("no newline"), []byte(`{"name":"../x"}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, obj, q []byte) {
		if m, body, err := splitObject(obj); err == nil {
			head, err := json.Marshal(m)
			if err != nil {
				return // a time JSON cannot hold (year past 9999): never written
			}
			if _, _, err := splitObject(append(append(head, '\n'), body...)); err != nil {
				t.Fatalf("re-split: %v", err)
			}
		}
		path := filepath.Join(dir, "q.json")
		if err := os.WriteFile(path, q, 0o600); err != nil {
			t.Fatal(err)
		}
		if qu, err := loadQueue(path, "arn:aws:sqs:us-east-1:123456789012:"); err == nil && !queueNameRe.MatchString(qu.name) {
			t.Fatalf("loaded a queue named %q", qu.name)
		}
	})
}
