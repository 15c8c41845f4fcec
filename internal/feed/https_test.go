package feed

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/fsutil"
	"github.com/rpzfw/rpzfw/internal/policy"
	"github.com/rpzfw/rpzfw/internal/secret"
)

// feedServer serves a zone over https with an ETag, and can be told to
// misbehave.
type feedServer struct {
	mu       sync.Mutex
	body     string
	etag     string
	gets     int
	notMod   int
	truncate bool
	gzip     bool
	auth     string
}

func (f *feedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if f.auth != "" && r.Header.Get("Authorization") != f.auth {
		http.Error(w, "no", http.StatusUnauthorized)
		return
	}
	if r.Header.Get("If-None-Match") == f.etag {
		f.notMod++
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", f.etag)
	switch {
	case f.truncate:
		hj, _ := w.(http.Hijacker)
		conn, buf, _ := hj.Hijack()
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nETag: %s\r\n\r\n%s", len(f.body), f.etag, f.body[:len(f.body)/2])
		buf.Flush()
		conn.Close()
	case f.gzip && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip"):
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		io.WriteString(zw, f.body)
		zw.Close()
	default:
		io.WriteString(w, f.body)
	}
}

func (f *feedServer) set(body, etag string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.body, f.etag = body, etag
}

func zoneOf(n int, prefix string) string {
	var b strings.Builder
	b.WriteString("$TTL 300\n$ORIGIN feed.rpz.\n@ SOA localhost. h.invalid. 1 1 1 1 1\n")
	for i := range n {
		fmt.Fprintf(&b, "%s%d.example CNAME .\n", prefix, i)
	}
	return b.String()
}

func newHTTPSManager(t *testing.T, srv *httptest.Server, mutate func(*policy.SourceSpec)) *Manager {
	t.Helper()
	src := policy.SourceSpec{Name: "feed", Kind: policy.KindHTTPS, Format: "rpz", URL: srv.URL + "/rpz.zone", MaxSize: 1 << 20, Headers: map[string]secret.String{"Authorization": "Bearer s3cret"}}
	if mutate != nil {
		mutate(&src)
	}
	m, err := NewManager(t.TempDir(), policy.Policy{Sources: []policy.SourceSpec{src}, MaxShrink: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	m.HTTP = srv.Client()
	return m
}

func records(t *testing.T, m *Manager) int {
	t.Helper()
	b := compile.NewBuilder()
	if err := m.Policy.Load(context.Background(), b, m); err != nil {
		t.Fatal(err)
	}
	p, err := b.Compile(compile.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	return p.DomainCount
}

func TestHTTPSFeed(t *testing.T) {
	ctx := context.Background()
	fs := &feedServer{auth: "Bearer s3cret", gzip: true}
	fs.set(zoneOf(100, "a"), `"v1"`)
	srv := httptest.NewTLSServer(fs)
	defer srv.Close()
	m := newHTTPSManager(t, srv, nil)

	changed, err := m.Refresh(ctx, "feed")
	if err != nil || !changed || records(t, m) != 100 {
		t.Fatalf("first fetch: %v %v", changed, err)
	}
	st := m.Status("feed")
	if st.ETag != `"v1"` || st.Records != 100 || st.LastSuccess.IsZero() || st.Bytes == 0 {
		t.Fatalf("status: %+v", st)
	}
	// Unchanged: a conditional GET answered 304.
	if changed, err := m.Refresh(ctx, "feed"); err != nil || changed || fs.notMod != 1 || m.Status("feed").Transfer != "304" {
		t.Fatalf("304: changed %v err %v notMod %d", changed, err, fs.notMod)
	}
	// A truncated download is never used.
	fs.set(zoneOf(120, "b"), `"v2"`)
	fs.truncate = true
	if _, err := m.Refresh(ctx, "feed"); err == nil {
		t.Fatal("a truncated body must be an error")
	}
	fs.truncate = false
	if records(t, m) != 100 || !strings.Contains(m.Status("feed").LastError, "GET") {
		t.Fatalf("after truncation: %d records, status %+v", records(t, m), m.Status("feed"))
	}
	// An oversized body is refused.
	big := newHTTPSManager(t, srv, func(s *policy.SourceSpec) { s.MaxSize = 100 })
	if _, err := big.Refresh(ctx, "feed"); err == nil || !strings.Contains(err.Error(), "larger than max_size") {
		t.Fatalf("oversized: %v", err)
	}
	// A broken zone keeps the last good copy.
	fs.set("$ORIGIN feed.rpz.\nthis is not a zone\n", `"v3"`)
	if _, err := m.Refresh(ctx, "feed"); err == nil || !strings.Contains(m.Status("feed").LastError, "does not parse") {
		t.Fatalf("broken zone: %v", err)
	}
	// A sudden shrink is held until accepted.
	fs.set(zoneOf(10, "c"), `"v4"`)
	if changed, err := m.Refresh(ctx, "feed"); err != nil || changed {
		t.Fatalf("shrink: %v %v", changed, err)
	}
	st = m.Status("feed")
	if st.Held == nil || st.Held.Records != 10 || records(t, m) != 100 || !strings.Contains(st.LastError, "rpzfw feeds accept feed") {
		t.Fatalf("held: %+v", st)
	}
	// An empty feed is held too.
	fs.set("$ORIGIN feed.rpz.\n", `"v5"`)
	m.Refresh(ctx, "feed")
	if records(t, m) != 100 || m.Status("feed").Held.Records != 0 {
		t.Fatalf("empty feed: %+v", m.Status("feed"))
	}
	fs.set(zoneOf(10, "c"), `"v4"`)
	m.Refresh(ctx, "feed")
	if err := m.Accept("feed"); err != nil {
		t.Fatal(err)
	}
	if records(t, m) != 10 || m.Status("feed").Held != nil || m.Status("feed").ETag != `"v4"` {
		t.Fatalf("after accept: %d %+v", records(t, m), m.Status("feed"))
	}
	// The status never shows the Authorization header.
	raw, _ := io.ReadAll(bufio.NewReader(bytes.NewReader([]byte(fmt.Sprintf("%+v", m.Statuses())))))
	if strings.Contains(string(raw), "s3cret") {
		t.Fatal("a header secret leaked into the status")
	}
}

func TestFileFeedSkipsUnchangedFile(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/z.rpz"
	if err := fsutil.WriteAtomic(path, []byte(zoneOf(5, "f"))); err != nil {
		t.Fatal(err)
	}
	m, _ := NewManager(t.TempDir(), policy.Policy{Sources: []policy.SourceSpec{{Name: "f", Kind: policy.KindFile, Format: "rpz", Path: path}}, MaxShrink: 0.5})
	if changed, err := m.Refresh(context.Background(), "f"); !changed || err != nil {
		t.Fatal(err)
	}
	if changed, err := m.Refresh(context.Background(), "f"); changed || err != nil || m.Status("f").Transfer != "unchanged" {
		t.Fatalf("unchanged file: %v %v", changed, err)
	}
}
