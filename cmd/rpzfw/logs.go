package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/rpzfw/rpzfw/internal/querylog"
	"github.com/rpzfw/rpzfw/internal/service"
	"github.com/rpzfw/rpzfw/internal/store"
)

func runLogs(ctx context.Context, args []string, stdout io.Writer) error {
	const help = "logs setup --device NICK --bucket BUCKET [--prefix P] [--query-logging] [--dry-run] | logs teardown --device NICK [--dry-run]\n(each takes serve's store flags: --config, --data-dir, --database, --master-key-file)"
	if len(args) == 0 {
		return fmt.Errorf("%w: %s", errUsage, help)
	}
	switch args[0] {
	case "setup":
		return logsSetup(ctx, args[1:], stdout)
	case "teardown":
		return logsTeardown(ctx, args[1:], stdout)
	}
	return fmt.Errorf("%w: unknown logs command %q; want %s", errUsage, args[0], help)
}

// logsFlags are the flags setup and teardown share.
type logsFlags struct {
	sf       serveFlags
	device   string
	endpoint string
	dryRun   bool
}

func (l *logsFlags) register(fs *flag.FlagSet) {
	l.sf.register(fs)
	fs.StringVar(&l.device, "device", "", "the device's `nickname` (required)")
	fs.StringVar(&l.endpoint, "aws-endpoint", "", "`URL` of S3, SQS and STS instead of AWS's (a local S3 and SQS such as moto)")
	fs.BoolVar(&l.dryRun, "dry-run", false, "say what would be done, change nothing")
}

// open opens the store and finds the device with its clients.
func (l *logsFlags) open(ctx context.Context) (store.Store, store.Device, querylog.SetupClients, error) {
	if l.device == "" {
		return nil, store.Device{}, querylog.SetupClients{}, fmt.Errorf("%w: --device is required", errUsage)
	}
	cfg, err := l.sf.config()
	if err == nil {
		err = cfg.Check()
	}
	if err != nil {
		return nil, store.Device{}, querylog.SetupClients{}, err
	}
	st, keys, err := service.OpenStore(ctx, cfg, slog.Default())
	if err != nil {
		return nil, store.Device{}, querylog.SetupClients{}, err
	}
	d, err := l.find(ctx, st, cfg)
	if err != nil {
		st.Close()
		return nil, d, querylog.SetupClients{}, err
	}
	cl, err := querylog.NewSetupClients(ctx, d, querylog.ClientOptions{Keyring: keys, Endpoint: l.endpoint, AllowAmbient: cfg.AllowAmbientCredentials})
	if err != nil {
		st.Close()
		return nil, d, cl, err
	}
	return st, d, cl, nil
}

func (l *logsFlags) find(ctx context.Context, st store.Store, cfg service.Config) (store.Device, error) {
	org := cfg.Org // serve's --org
	o, err := st.OrgByName(ctx, org)
	if errors.Is(err, store.ErrNotFound) {
		return store.Device{}, fmt.Errorf("no organization %q", org)
	} else if err != nil {
		return store.Device{}, err
	}
	d, err := st.GetDevice(ctx, o.ID, l.device)
	if errors.Is(err, store.ErrNotFound) {
		return d, fmt.Errorf("no device %q in organization %q", l.device, org)
	}
	return d, err
}

func logsSetup(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("logs setup", "--device NICK --bucket BUCKET [--prefix P] [--query-logging] [--dry-run]\n\n"+
		"With the device's credentials: create an SQS queue that only the log bucket may send to, the bucket's\n"+
		"notification of new query log objects, and with --query-logging a Resolver query logging configuration\n"+
		"for the rule group's VPCs; then turn the device's log upload on.")
	var l logsFlags
	var bucket, prefix string
	var queryLogging bool
	l.register(fs)
	fs.StringVar(&bucket, "bucket", "", "the S3 `bucket` the query logs go to (required)")
	fs.StringVar(&prefix, "prefix", "", "the `prefix` they are written under, before AWSLogs/")
	fs.BoolVar(&queryLogging, "query-logging", false, "also create and associate the Resolver query logging configuration")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if bucket == "" {
		return fmt.Errorf("%w: --bucket is required", errUsage)
	}
	st, d, cl, err := l.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	req := querylog.SetupRequest{Device: d.Nickname, Bucket: bucket, Prefix: prefix, QueryLogging: queryLogging, DryRun: l.dryRun}
	if queryLogging {
		status, err := st.GetStatus(ctx, d.ID)
		if err != nil {
			return err
		}
		if len(status.VPCs) == 0 {
			return fmt.Errorf("the VPCs of rule group %s are not known yet: they are read at the device's first sync (let rpzfw serve sync it first)", d.RuleGroupID)
		}
		req.VPCs = status.VPCs
	}
	res, err := querylog.Setup(ctx, cl, req)
	printSteps(stdout, res.Steps)
	if err != nil || l.dryRun {
		return err
	}
	d.LogEnabled, d.LogQueueURL = true, res.QueueURL
	if _, err := st.UpdateDevice(ctx, d); err != nil {
		return fmt.Errorf("turning on the log upload of device %q: %w", d.Nickname, err)
	}
	fmt.Fprintf(stdout, "device %s: log upload on, from %s\n", d.Nickname, res.QueueURL)
	return nil
}

func logsTeardown(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("logs teardown", "--device NICK [--dry-run]\n\nUndo 'rpzfw logs setup' (only what it made) and turn the device's log upload off.")
	var l logsFlags
	l.register(fs)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	st, d, cl, err := l.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := querylog.Teardown(ctx, cl, querylog.TeardownRequest{Device: d.Nickname, DryRun: l.dryRun})
	printSteps(stdout, res.Steps)
	if err != nil || l.dryRun {
		return err
	}
	if len(res.Steps) == 0 {
		fmt.Fprintln(stdout, "nothing to remove")
	}
	d.LogEnabled, d.LogQueueURL = false, ""
	if _, err := st.UpdateDevice(ctx, d); err != nil {
		return fmt.Errorf("turning off the log upload of device %q: %w", d.Nickname, err)
	}
	fmt.Fprintf(stdout, "device %s: log upload off\n", d.Nickname)
	return nil
}

func printSteps(w io.Writer, steps []querylog.Step) {
	for _, s := range steps {
		mark := "would"
		if s.Done {
			mark = "done"
		}
		fmt.Fprintf(w, "%-5s  %s\n", mark, s.Do)
	}
}
