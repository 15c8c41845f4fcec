// Package localaws is a small S3 and SQS on one HTTP port, for the
// sandbox of "rpzfw serve": the emulator writes its query logs to it, it
// notifies a queue of each object created (the real S3 event format), and
// the log consumer reads both with the real AWS SDK clients, as it reads
// AWS. It keeps its buckets and queues in a directory, so a restart loses
// neither objects nor messages.
//
// It answers only what rpzfw's log path needs, and says so with a clear
// error for anything else:
//
//   - S3, path-style: create, head and delete a bucket; put, get, head,
//     delete and list (ListObjectsV2) objects; get and put a bucket's
//     notification configuration (queue destinations only).
//   - SQS, the AWS JSON protocol of the current SDKs: create, find,
//     delete, purge and tag queues, their attributes, send, receive (with
//     long polling), delete and change the visibility of messages.
//
// Requests are not authenticated: it listens on loopback for one process.
package localaws

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Config configures a Server. Zero values take the defaults.
type Config struct {
	// Dir keeps the buckets and queues (required).
	Dir string
	// Account and Region name queue and bucket ARNs (default
	// 123456789012 and us-east-1).
	Account, Region string
	// ExpireAfter deletes objects older than this, as a bucket lifecycle
	// rule would (0: kept forever).
	ExpireAfter time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Log receives what the server reports; nil: nowhere.
	Log *slog.Logger
}

// Server is the S3 and SQS handler. Start serves it on an address.
type Server struct {
	cfg     Config
	objects *objectStore

	mu     sync.Mutex
	queues map[string]*queue
	// notify holds each bucket's notification configuration.
	notify map[string]notificationConfig
	// base is the URL queue URLs are made of, once listening.
	base string
	// stopping ends long polls at Close.
	stopping bool

	srv  *http.Server
	done chan struct{}
}

// New opens (or creates) the state in cfg.Dir.
func New(cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("localaws: a directory is required")
	}
	if cfg.Account == "" {
		cfg.Account = "123456789012"
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{cfg: cfg, queues: map[string]*queue{}, notify: map[string]notificationConfig{}, done: make(chan struct{})}
	var err error
	if s.objects, err = openObjects(filepath.Join(cfg.Dir, "s3"), cfg.Now); err != nil {
		return nil, err
	}
	if err := s.loadQueues(); err != nil {
		return nil, err
	}
	if err := s.loadNotifications(); err != nil {
		return nil, err
	}
	return s, nil
}

// Start listens on addr and serves until ctx ends or Close is called; it
// returns once listening. URL is then the endpoint of both services.
func (s *Server) Start(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening for the local S3 and SQS on %s: %w", addr, err)
	}
	s.mu.Lock()
	s.base = "http://" + ln.Addr().String()
	s.mu.Unlock()
	// WriteTimeout is past SQS's longest poll (20s).
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.cfg.Log.Error("the local S3 and SQS stopped", "err", err)
		}
	}()
	if s.cfg.ExpireAfter > 0 {
		go s.expireLoop(ctx)
	}
	return nil
}

// URL is the endpoint of S3 and SQS ("" before Start).
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base
}

// Close stops serving: long polls in progress return empty.
func (s *Server) Close(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	s.mu.Lock()
	s.stopping = true
	for _, q := range s.queues {
		q.mu.Lock()
		q.wake()
		q.mu.Unlock()
	}
	s.mu.Unlock()
	err := s.srv.Shutdown(ctx)
	<-s.done
	if err != nil {
		return fmt.Errorf("stopping the local S3 and SQS: %w", err)
	}
	return nil
}

// ServeHTTP sends SQS requests (those with an X-Amz-Target) to SQS and
// the others to S3.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		s.serveSQS(w, r, target)
		return
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		writeSQSError(w, errInvalidAction("the SQS query protocol is not supported: use an SDK that speaks AWS JSON 1.0 (aws-sdk-go-v2 sqs v1.34 or later)"))
		return
	}
	s.serveS3(w, r)
}

func (s *Server) expireLoop(ctx context.Context) {
	t := time.NewTicker(min(s.cfg.ExpireAfter/10+time.Second, time.Hour))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.done:
			return
		case <-t.C:
			n, err := s.objects.expire(s.cfg.Now().Add(-s.cfg.ExpireAfter))
			if err != nil {
				s.cfg.Log.Warn("expiring old objects failed", "err", err)
			} else if n > 0 {
				s.cfg.Log.Debug("expired old objects", "objects", n)
			}
		}
	}
}

// newID is a random hex identifier (request IDs, message IDs, handles).
func newID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// writeFileAtomic writes b to path through a temporary file and a rename,
// so a crash leaves the old or the new content, never a part.
func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
