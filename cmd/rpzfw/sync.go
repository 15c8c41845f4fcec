package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/rpzfw/rpzfw/internal/awsclient"
	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/fsutil"
	"github.com/rpzfw/rpzfw/internal/fwsync"
	"github.com/rpzfw/rpzfw/internal/store"
)

// syncFlags are the flags of sync and unsync: where the rule group is and
// how to reach it.
type syncFlags struct {
	aws                               awsclient.Options
	ruleGroup, device, band, stateDir string
	stagingBucket, s3Endpoint         string
	quota                             int
	rate                              float64
	dryRun, allowShrink               bool
	// How the result is shown.
	format                        string
	showDomains, detailedExitCode bool
}

func (f *syncFlags) register(fs interface {
	StringVar(*string, string, string, string)
	IntVar(*int, string, int, string)
	Float64Var(*float64, string, float64, string)
	BoolVar(*bool, string, bool, string)
}) {
	fs.StringVar(&f.aws.Region, "region", os.Getenv("AWS_REGION"), "AWS `region` of the rule group (default $AWS_REGION)")
	fs.StringVar(&f.ruleGroup, "rule-group-id", "", "the DNS Firewall rule group to keep (rslvr-frg-...)")
	fs.StringVar(&f.aws.Endpoint, "endpoint-url", "", "Route 53 Resolver endpoint `URL` (the emulator, for example)")
	fs.StringVar(&f.aws.RoleARN, "role-arn", "", "assume this IAM role")
	fs.StringVar(&f.aws.ExternalID, "external-id", "", "external ID for --role-arn")
	fs.StringVar(&f.device, "device", "", "device name used in tags, list names and state (default: the rule group ID)")
	fs.StringVar(&f.band, "priority-band", fwsync.DefaultBand.String(), "`LO-HI` rule priorities rpzfw may use")
	fs.StringVar(&f.stateDir, "state-dir", fwsync.DefaultStateDir(), "`directory` for what rpzfw remembers between syncs")
	fs.StringVar(&f.stagingBucket, "staging-bucket", "", "S3 `bucket` (same region) for importing large new lists in one call")
	fs.StringVar(&f.s3Endpoint, "s3-endpoint", "", "S3 endpoint `URL` for the staging bucket")
	fs.IntVar(&f.quota, "quota", 0, "the account's domains quota (default: read from Service Quotas, else 100000)")
	fs.Float64Var(&f.rate, "rate", 5, "API calls per second at most")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the calls a sync would make, and make none")
	fs.BoolVar(&f.allowShrink, "allow-shrink", false, "let a sync remove more than half of the deployed domains (otherwise it stops: an empty or broken source must not wipe a firewall)")
	fs.StringVar(&f.format, "format", "text", "summary `format`: text, or json (one object; docs/sync.md lists its members)")
	fs.BoolVar(&f.showDomains, "show-domains", false, "list every domain added to or removed from each rule, and action changes (with --dry-run: what a sync would change)")
	fs.BoolVar(&f.detailedExitCode, "detailed-exitcode", false, "exit 0 when the rule group already matched, 2 when it did not (changed, or with --dry-run to change), 1 on any error")
}

func (f *syncFlags) syncer(ctx context.Context, progress fwsync.Progress) (*fwsync.Syncer, error) {
	if f.format != "text" && f.format != "json" {
		return nil, fmt.Errorf("%w: --format must be text or json, not %q", errUsage, f.format)
	}
	if f.ruleGroup == "" {
		return nil, fmt.Errorf("%w: --rule-group-id is required", errUsage)
	}
	// The device (by default the rule group ID) names the state directory.
	for _, n := range []struct{ flag, v string }{{"rule-group-id", f.ruleGroup}, {"device", f.device}} {
		if err := fsutil.CheckName(n.v); n.v != "" && err != nil {
			return nil, fmt.Errorf("%w: --%s: %v", errUsage, n.flag, err)
		}
	}
	if err := checkRanges(positiveRate("rate", f.rate), intAtLeast("quota", f.quota, 0)); err != nil {
		return nil, err
	}
	if f.aws.Region == "" {
		return nil, fmt.Errorf("%w: --region is required (or set AWS_REGION)", errUsage)
	}
	if _, err := fwsync.ParseBand(f.band); err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	cl, err := device.NewClients(ctx, f.aws)
	if err != nil {
		return nil, err
	}
	cfg := device.SyncerConfig{RateLimit: f.rate, DryRun: f.dryRun, AllowShrink: f.allowShrink, Progress: progress,
		Quota: fwsync.ServiceQuotas{API: cl.Quotas}}
	if f.stagingBucket != "" {
		cfg.Staging = fwsync.S3Staging{API: awsclient.S3(cl.Config, f.s3Endpoint), Bucket: f.stagingBucket}
	}
	if f.quota > 0 {
		cfg.Quota = fwsync.FixedQuota(f.quota)
	}
	// A device of the command line is named by --device, else by its rule
	// group; the name is also its state directory.
	d := store.Device{Nickname: f.device, RuleGroupID: f.ruleGroup, PriorityBand: f.band}
	cfg.State = fwsync.FileStore{Dir: filepath.Join(f.stateDir, device.Name(d))}
	return device.NewSyncer(cl.Resolver, d, cfg)
}

// progressFor picks one line a step for a terminal, structured logs to
// log otherwise.
func progressFor(w *os.File, log *slog.Logger) fwsync.Progress {
	if fi, err := w.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		return &fwsync.TermProgress{W: w}
	}
	return fwsync.LogProgress{Log: log}
}

func runSync(ctx context.Context, args []string, stdout io.Writer) error {
	var sf syncFlags
	return sf.exit(args, syncPolicy(ctx, args, stdout, &sf))
}

func syncPolicy(ctx context.Context, args []string, stdout io.Writer, sf *syncFlags) error {
	fs := newFlags("sync", "[flags] ZONE...\n\nMakes the rule group's rpzfw rules equal to the compiled policy, sending only\nthe differences, in an order that never leaves a name unprotected.")
	var pf policyFlags
	pf.register(fs)
	sf.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	log := logger(ctx)
	var prio priorityFlags
	if prio.parsed(fs); prio.explicit {
		log.Warn("--first-priority and --priority-step only number the output of plan and explain; sync numbers rules within --priority-band")
	}
	settings, pol, err := pf.resolve(pos)
	if err != nil {
		return err
	}
	s, err := sf.syncer(ctx, progressFor(os.Stderr, log))
	if err != nil {
		return err
	}
	opener, err := pf.opener(ctx, pol, log)
	if err != nil {
		return err
	}
	// Read the sources once; a retry with fewer domains only compiles again.
	loaded, err := device.LoadPolicy(ctx, pol, opener, log)
	if err != nil {
		return err
	}
	loaded.AllowBlockAll = pf.blockAllAllowed(pol)
	res, err := s.Sync(ctx, loaded.CompileFunc(settings), settings.MaxDomains)
	return sf.report(stdout, res, err)
}

// report prints what a sync or unsync did, as --format says, and returns
// the command's error: err, or with --detailed-exitcode exitStatus(2) when
// the rule group did not match. A sync that failed did not do all it
// planned: the text says how far it got instead of what it meant to send,
// the JSON says it did not complete.
func (f *syncFlags) report(w io.Writer, res *fwsync.Result, err error) error {
	switch {
	case res == nil:
	case f.format == "json":
		if werr := fwsync.WriteJSON(w, res, err, f.showDomains); err == nil {
			err = werr
		}
	case err == nil || res.DryRun:
		if f.showDomains {
			fwsync.WriteSummaryDomains(w, res)
		} else {
			fwsync.WriteSummary(w, res)
		}
	default:
		fmt.Fprintf(w, "Stopped after %d API calls, before the rule group matched the policy; each change sent keeps every name at its old or its new outcome. Run it again to finish.\n", res.TotalCalls())
	}
	if err == nil && f.detailedExitCode && !res.Plan.Unchanged {
		return exitStatus(2)
	}
	return err
}

// exit gives the error of a sync or unsync its exit status: with
// --detailed-exitcode, 2 means "changes", so every error exits 1, even
// one in the flags (then args tell whether the flag was given).
func (f *syncFlags) exit(args []string, err error) error {
	if err == nil || !f.detailedExitCode && !flagGiven(args, "detailed-exitcode") {
		return err
	}
	var st exitStatus
	if errors.As(err, &st) {
		return err
	}
	return codedError{err: err, code: 1}
}

func runUnsync(ctx context.Context, args []string, stdout io.Writer) error {
	var sf syncFlags
	return sf.exit(args, unsync(ctx, args, stdout, &sf))
}

func unsync(ctx context.Context, args []string, stdout io.Writer, sf *syncFlags) error {
	fs := newFlags("unsync", "[flags]\n\nRemoves every rule and domain list rpzfw made in the rule group, and nothing else.")
	sf.register(fs)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	s, err := sf.syncer(ctx, progressFor(os.Stderr, logger(ctx)))
	if err != nil {
		return err
	}
	res, err := s.Unsync(ctx)
	return sf.report(stdout, res, err)
}
