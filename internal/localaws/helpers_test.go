package localaws

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rpzfw/rpzfw/internal/awsclient"
)

// env is a running server and the real SDK clients that talk to it.
type env struct {
	srv *Server
	s3  *s3.Client
	sqs *sqs.Client
	dir string
}

// start runs a server on a free port over dir (a new one when "").
func start(t *testing.T, dir string) *env {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	srv, err := New(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx, "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = srv.Close(context.Background())
	})
	o := awsclient.Options{Region: "us-east-1", Endpoint: srv.URL(), MaxAttempts: 1}
	cfg, err := awsclient.Config(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := awsclient.SQS(cfg, srv.URL()+"/123456789012/x")
	if err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, s3: awsclient.S3(cfg, srv.URL()), sqs: sc, dir: dir}
}
