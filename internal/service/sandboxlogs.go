package service

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rpzfw/rpzfw/internal/awsclient"
	"github.com/rpzfw/rpzfw/internal/emulator"
	"github.com/rpzfw/rpzfw/internal/localaws"
	"github.com/rpzfw/rpzfw/internal/querylog"
	"github.com/rpzfw/rpzfw/internal/secret"
	"github.com/rpzfw/rpzfw/internal/store"
)

// The sandbox's log path is the one a device on AWS has: the emulator
// writes query log objects to an S3 bucket, the bucket notifies an SQS
// queue of each, and the log consumer reads the queue and the objects
// with the AWS SDK. Here S3 and SQS are localaws, in this process.
const (
	sandboxBucket = "rpzfw-sandbox-logs"
	// sandboxObjectsKept is how long the sandbox's log objects are kept
	// once written (they are read within seconds).
	sandboxObjectsKept = 48 * time.Hour
)

// sandboxExtras is what the sandbox runs beside the emulator.
type sandboxExtras struct {
	aws      *localaws.Server
	queueURL string
	// objects is the emulator's way to the local S3.
	objects *emulator.S3Store
	// stopped is closed once the local S3 and SQS have stopped (nil when
	// they were not started).
	stopped chan struct{}
}

// startSandboxAWS starts the local S3 and SQS and sets up the bucket, the
// queue and the notification with rpzfw's own logs setup, through the SDK.
func (s *Service) startSandboxAWS(ctx context.Context) error {
	srv, err := localaws.New(localaws.Config{Dir: filepath.Join(s.cfg.DataDir, "sandbox", "aws"), Account: emulator.DefaultAccount,
		Region: "us-east-1", ExpireAfter: sandboxObjectsKept, Log: s.log.With("part", "sandbox-aws")})
	if err != nil {
		return err
	}
	if err := srv.Start(ctx, s.cfg.SandboxAWS); err != nil {
		return fmt.Errorf("starting the sandbox's S3 and SQS (serve --sandbox-aws picks another address, --sandbox-logs=false turns them off): %w", err)
	}
	s.sbx.aws, s.sbx.stopped = srv, make(chan struct{})
	var cfg aws.Config
	s.sbx.queueURL, err = setupSandboxLogs(ctx, srv.URL())
	if err == nil {
		cfg, err = awsclient.Config(ctx, localOptions(srv.URL()))
	}
	if err != nil {
		_ = srv.Close(context.WithoutCancel(ctx))
		close(s.sbx.stopped)
		return err
	}
	s.sbx.objects = emulator.NewS3StoreFromClient(awsclient.S3(cfg, srv.URL()))
	s.log.Info("the sandbox's query logs go to its local S3 and SQS", "endpoint", srv.URL(), "bucket", sandboxBucket, "queue", s.sbx.queueURL)
	return nil
}

// stopSandboxAWS stops the local S3 and SQS once the emulator has written
// its last query logs (after ctx ends).
func (s *Service) stopSandboxAWS(ctx context.Context) {
	<-ctx.Done()
	if s.sandbox != nil {
		<-s.sandbox.LogsStopped()
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.sbx.aws.Close(sctx); err != nil {
		s.log.Warn("stopping the sandbox's S3 and SQS", "err", err)
	}
	close(s.sbx.stopped)
}

// waitSandboxAWS waits until the local S3 and SQS have stopped.
func (s *Service) waitSandboxAWS() {
	if s.sbx.stopped != nil {
		<-s.sbx.stopped
	}
}

// localOptions are the client options of the local S3 and SQS: keys of
// their own, so that no credential chain of the machine (an expired
// single sign-on, say) is ever asked.
func localOptions(endpoint string) awsclient.Options {
	return awsclient.Options{Region: "us-east-1", Endpoint: endpoint, MaxAttempts: 3, AccessKeyID: "AKIDSANDBOX", SecretAccessKey: secret.String("sandbox-secret-key")}
}

// setupSandboxLogs makes the bucket and runs logs setup for the sandbox
// device, as a user of AWS would with "rpzfw logs setup".
func setupSandboxLogs(ctx context.Context, endpoint string) (string, error) {
	cfg, err := awsclient.Config(ctx, localOptions(endpoint))
	if err != nil {
		return "", err
	}
	s3c := awsclient.S3(cfg, endpoint)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(sandboxBucket)}); err != nil {
		return "", fmt.Errorf("creating the sandbox's log bucket: %w", err)
	}
	sqsc, err := awsclient.SQS(cfg, endpoint+"/"+emulator.DefaultAccount+"/"+querylog.QueueName(sandboxDevice))
	if err != nil {
		return "", err
	}
	res, err := querylog.Setup(ctx, querylog.SetupClients{SQS: sqsc, S3: s3c, Account: emulator.DefaultAccount, Region: "us-east-1"},
		querylog.SetupRequest{Device: sandboxDevice, Bucket: sandboxBucket})
	if err != nil {
		return "", fmt.Errorf("setting up the sandbox's log queue: %w", err)
	}
	return res.QueueURL, nil
}

// isSandboxQueue says whether a queue URL names the sandbox's queue, on
// whatever address the local SQS had then.
func isSandboxQueue(u string) bool {
	p, err := url.Parse(u)
	return err == nil && p.Path == "/"+emulator.DefaultAccount+"/"+querylog.QueueName(sandboxDevice) &&
		(strings.HasPrefix(p.Host, "127.") || strings.HasPrefix(p.Host, "localhost") || strings.HasPrefix(p.Host, "[::1]"))
}

// sandboxDeviceLogs sets the sandbox device's log upload: to the local
// queue when the log path runs (wherever the local SQS listens now); off
// when it does not and the device names it. A queue of the user's own is
// left alone. It says whether d changed.
func (s *Service) sandboxDeviceLogs(d *store.Device) bool {
	ours := d.LogQueueURL == "" || isSandboxQueue(d.LogQueueURL)
	switch {
	case !ours:
		return false
	case s.sbx.queueURL == "":
		if d.LogEnabled {
			d.LogEnabled = false
			return true
		}
	case !d.LogEnabled || d.LogQueueURL != s.sbx.queueURL:
		d.LogEnabled, d.LogQueueURL = true, s.sbx.queueURL
		return true
	}
	return false
}

// SandboxAWS is the endpoint of the sandbox's S3 and SQS ("" when off).
func (s *Service) SandboxAWS() string {
	if s.sbx.aws == nil {
		return ""
	}
	return s.sbx.aws.URL()
}
