package web

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// FuzzDeviceBody: any form gives either a body the API can decode or a
// form error, and the size is sent only as the number typed.
func FuzzDeviceBody(f *testing.F) {
	for _, s := range []string{"100000", "1,000,000", "1_000", "", "lots", "-5", "99999999999999999999"} {
		f.Add(s, "access_key", "note\x00", true)
	}
	f.Fuzz(func(t *testing.T, size, credType, note string, create bool) {
		form := url.Values{"max_policy_size": {size}, "credentials.type": {credType}, "note": {note}, "nickname": {"n"}}
		body, errs := deviceBody(form, create)
		n, sent := body["max_policy_size"].(int)
		refused := errs["max_policy_size"] != ""
		typed := strings.TrimSpace(size)
		want, convErr := strconv.Atoi(strings.NewReplacer(",", "", "_", "").Replace(typed))
		switch {
		case typed == "" && (sent || refused != !create):
			t.Fatalf("empty size (create %v): sent %v refused %v", create, sent, refused)
		case typed != "" && convErr == nil && (!sent || refused || n != want):
			t.Fatalf("size %q: sent %v as %d, refused %v", size, sent, n, refused)
		case typed != "" && convErr != nil && (sent || !refused):
			t.Fatalf("size %q is not a number: sent %v, refused %v", size, sent, refused)
		}
		if c, ok := body["credentials"].(map[string]any); !ok || c["type"] != credType {
			t.Fatalf("credentials %v, want type %q", body["credentials"], credType)
		}
		if body["note"] != nil && body["note"] != note {
			t.Fatalf("note %q sent as %q", note, body["note"])
		}
	})
}

// FuzzQueueARN: an ARN comes only from a URL that names the region,
// account and queue, and holds them as given.
func FuzzQueueARN(f *testing.F) {
	for _, s := range []string{"https://sqs.us-east-1.amazonaws.com/111122223333/q", "http://localhost:4566/000000000000/q", "", "::", "https://sqs..amazonaws.com//"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		arn := queueARN(s)
		if arn == "" {
			return
		}
		parts := strings.Split(arn, ":")
		if len(parts) < 6 || parts[0] != "arn" || parts[2] != "sqs" {
			t.Fatalf("queueARN(%q) = %q", s, arn)
		}
		u, err := url.Parse(s)
		if err != nil || !strings.HasSuffix(u.Path, "/"+parts[len(parts)-1]) && !strings.HasSuffix(strings.Trim(u.Path, "/"), parts[len(parts)-1]) {
			t.Fatalf("queueARN(%q) = %q: not the URL's queue", s, arn)
		}
	})
}
