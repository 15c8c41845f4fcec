//go:build unix

package feed

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/rpzfw/rpzfw/internal/policy"
)

// Files that never end, or that block the open, are refused; so is a file
// larger than max_size.
func TestFileSourcesThatWouldHang(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.rpz")
	os.WriteFile(big, []byte(zoneOf(50, "b")), 0o600)
	for _, tc := range []struct {
		path    string
		max     int64
		wantErr string
	}{
		{fifo, 0, "named pipe"},
		{"/dev/zero", 0, "a device"},
		{"/dev/zero", 1 << 20, "a device"},
		{dir, 0, "a directory"},
		{big, 100, "larger than 100 bytes"},
	} {
		m, err := NewManager(t.TempDir(), policy.Policy{Sources: []policy.SourceSpec{{Name: "f", Kind: policy.KindFile, Format: "rpz", Path: tc.path, MaxSize: tc.max}}, MaxShrink: 0.5})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Refresh(context.Background(), "f"); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: err %v, want %q", tc.path, err, tc.wantErr)
		}
	}
}

// syncBuffer is a log destination that says when a line appears.
type syncBuffer struct {
	mu   sync.Mutex
	b    bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Write(p)
	if s.want != "" && strings.Contains(s.b.String(), s.want) {
		s.once.Do(func() { close(s.seen) })
	}
	return len(p), nil
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A slow https source is named in a warning while the fetch waits; the
// server answers only once the warning is out.
func TestSlowHTTPSSourceIsNamed(t *testing.T) {
	logs := &syncBuffer{want: "still waiting for a source", seen: make(chan struct{})}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-logs.seen:
		case <-r.Context().Done():
			return
		}
		w.Write([]byte(zoneOf(3, "s")))
	}))
	defer srv.Close()
	m := newHTTPSManager(t, srv, func(s *policy.SourceSpec) { s.URL += "?token=s3cret" })
	m.Log = slog.New(slog.NewTextHandler(logs, nil))
	m.SlowAfter = time.Nanosecond
	if _, err := m.Refresh(context.Background(), "feed"); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if !strings.Contains(out, "waiting_for="+srv.URL+"/rpz.zone") || strings.Contains(out, "s3cret") {
		t.Errorf("the warning does not name the URL, or shows its secret query:\n%s", out)
	}
}

// A source that never answers fails after the fetch timeout, naming what
// it waited for; the last good copy stays.
func TestDeadSourcesTimeOut(t *testing.T) {
	// An https server that accepts and never answers.
	dead := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer dead.Close()
	// A DNS primary that accepts the connection and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	for _, tc := range []struct {
		name string
		src  policy.SourceSpec
		want string
	}{
		{"https", policy.SourceSpec{Name: "feed", Kind: policy.KindHTTPS, Format: "rpz", URL: dead.URL + "/z?token=s3cret"}, "waiting for " + dead.URL + "/z?..."},
		{"zone transfer", policy.SourceSpec{Name: "feed", Kind: policy.KindZoneTransfer, Format: "rpz", Zone: "feed.rpz", Primaries: []string{ln.Addr().String()}, IXFR: true}, "waiting for a zone transfer of feed.rpz from " + ln.Addr().String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewManager(t.TempDir(), policy.Policy{Sources: []policy.SourceSpec{tc.src}, MaxShrink: 0.5})
			if err != nil {
				t.Fatal(err)
			}
			m.HTTP = dead.Client()
			m.FetchTimeout = 50 * time.Millisecond
			_, err = m.Refresh(context.Background(), "feed")
			if err == nil || !strings.Contains(err.Error(), "gave up after 50ms") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one that says it gave up waiting for %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows the URL's secret query: %v", err)
			}
		})
	}
}

// A zone transfer larger than max_size is cut off.
func TestZoneTransferSizeCap(t *testing.T) {
	zone := "feed.rpz."
	soa, _ := dns.NewRR(zone + " 60 IN SOA localhost. h.invalid. 7 60 60 60 60")
	var rrs []dns.RR
	for i := range 200 {
		rr, _ := dns.NewRR(fmt.Sprintf("n%d.example.%s 60 IN CNAME .", i, zone))
		rrs = append(rrs, rr)
	}
	mux := dns.NewServeMux()
	mux.HandleFunc(zone, func(w dns.ResponseWriter, r *dns.Msg) {
		ch := make(chan *dns.Envelope)
		tr := new(dns.Transfer)
		go func() {
			ch <- &dns.Envelope{RR: []dns.RR{soa}}
			for i := 0; i < len(rrs); i += 20 {
				ch <- &dns.Envelope{RR: rrs[i : i+20]}
			}
			ch <- &dns.Envelope{RR: []dns.RR{soa}}
			close(ch)
		}()
		tr.Out(w, r, ch)
		w.Hijack()
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: ln, Handler: mux}
	go srv.ActivateAndServe()
	defer srv.Shutdown()
	for _, tc := range []struct {
		max     int64
		wantErr string
	}{
		{1 << 20, ""},
		{2000, "larger than max_size (2000 bytes)"},
	} {
		m, err := NewManager(t.TempDir(), policy.Policy{Sources: []policy.SourceSpec{{Name: "z", Kind: policy.KindZoneTransfer, Format: "rpz", Zone: "feed.rpz", Primaries: []string{ln.Addr().String()}, MaxSize: tc.max}}, MaxShrink: 0.5})
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.Refresh(context.Background(), "z")
		if tc.wantErr == "" {
			if err != nil || m.Status("z").Records != 200 {
				t.Errorf("max %d: %v, %d records", tc.max, err, m.Status("z").Records)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("max %d: err %v, want %q", tc.max, err, tc.wantErr)
		}
	}
}
