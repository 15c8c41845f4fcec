package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rpzfw/rpzfw/internal/awsclient"
	"github.com/rpzfw/rpzfw/internal/emulator"
	"github.com/rpzfw/rpzfw/internal/traffic"
)

// listFlag collects a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func runEmulator(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "traffic" {
		return runTraffic(ctx, args[1:], stdout)
	}
	fs := newFlags("emulator", "[flags]\n       rpzfw emulator traffic [flags]\n\nA local Route 53 Resolver DNS Firewall: the API (for the AWS SDKs and CLI, with\n--endpoint-url), DNS answers for one VPC, and query logs to S3.")
	var cfg emulator.ServeConfig
	fs.StringVar(&cfg.APIAddr, "api", "127.0.0.1:5380", "`address` of the control plane API")
	fs.StringVar(&cfg.DNSAddr, "dns", "127.0.0.1:5300", "`address` of the DNS data plane (UDP and TCP)")
	fs.StringVar(&cfg.Account, "account", emulator.DefaultAccount, "account of requests signed with unknown keys")
	fs.StringVar(&cfg.Region, "region", "us-east-1", "region of the data plane's VPC")
	fs.StringVar(&cfg.VPCID, "vpc-id", "vpc-emulated", "the VPC the data plane answers for")
	fs.DurationVar(&cfg.Settle, "settle", 2*time.Second, "how long a changed domain list stays UPDATING")
	fs.IntVar(&cfg.Quotas.Domains, "quota-domains", emulator.DefaultQuotas.Domains, "domains per account and region")
	fs.IntVar(&cfg.Quotas.DomainLists, "quota-lists", emulator.DefaultQuotas.DomainLists, "domain lists per account and region")
	fs.IntVar(&cfg.Quotas.RulesPerGroup, "quota-rules", emulator.DefaultQuotas.RulesPerGroup, "rules per rule group")
	fs.IntVar(&cfg.Quotas.RuleGroups, "quota-groups", emulator.DefaultQuotas.RuleGroups, "rule groups per account and region")
	fs.Float64Var(&cfg.Faults.ThrottleRPS, "throttle-rps", 5, "API requests per second per account before ThrottlingException (0: off)")
	var faults, keys listFlag
	fs.Var(&faults, "fault", "`OP:key=value,...` inject faults (keys: error_rate, error_count, throttle_count, conflict_count, latency, fail_import; OP may be *); repeatable")
	fs.Var(&keys, "key", "`AKID:SECRET[:ACCOUNT]` a known access key; repeatable")
	fs.BoolVar(&cfg.VerifySigV4, "verify-sigv4", false, "reject requests not signed with a known --key")
	fs.StringVar(&cfg.S3Endpoint, "s3-endpoint", "", "S3 `URL` for imports and query logs (e.g. moto_server)")
	fs.StringVar(&cfg.Logs.Bucket, "log-bucket", "", "write query logs to this S3 `bucket`")
	fs.StringVar(&cfg.Logs.Prefix, "log-prefix", "", "key prefix of query logs")
	fs.DurationVar(&cfg.Logs.Flush, "log-flush", time.Minute, "how often query logs are written")
	fs.StringVar(&cfg.DNS.Upstream, "upstream", "", "forward passed queries to this DNS `server` (default: answer A 192.0.2.1 / AAAA 2001:db8::1)")
	fs.StringVar(&cfg.StatePath, "state", "", "keep the state in this `file` across restarts")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkRanges(
		durationAtLeast("settle", cfg.Settle, 0),
		intAtLeast("quota-domains", cfg.Quotas.Domains, 1),
		intAtLeast("quota-lists", cfg.Quotas.DomainLists, 1),
		intAtLeast("quota-rules", cfg.Quotas.RulesPerGroup, 1),
		intAtLeast("quota-groups", cfg.Quotas.RuleGroups, 1),
		floatIn("throttle-rps", cfg.Faults.ThrottleRPS, 0, 1e9, "want 0 (off) or a number of requests per second"),
		durationAtLeast("log-flush", cfg.Logs.Flush, time.Second),
	); err != nil {
		return err
	}
	for _, f := range faults {
		if err := emulator.ParseFault(&cfg.Faults, f); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	if len(keys) > 0 {
		cfg.Keys = map[string]emulator.Key{}
		for _, k := range keys {
			if err := emulator.ParseKey(cfg.Keys, k); err != nil {
				return fmt.Errorf("%w: %v", errUsage, err)
			}
		}
	}
	if cfg.VerifySigV4 && len(cfg.Keys) == 0 {
		return fmt.Errorf("%w: --verify-sigv4 needs at least one --key", errUsage)
	}
	if cfg.Logs.Bucket != "" && cfg.S3Endpoint == "" {
		return fmt.Errorf("%w: --log-bucket needs --s3-endpoint", errUsage)
	}
	log := logger(ctx)
	cfg.Log = log
	r, err := emulator.Serve(ctx, cfg)
	if err != nil {
		return err
	}
	log.Info("emulator running", "api", r.APIURL, "dns", r.Data.Addr(), "vpc", cfg.VPCID, "region", cfg.Region,
		"throttle_rps", cfg.Faults.ThrottleRPS, "settle", cfg.Settle, "state", cfg.StatePath, "log_bucket", cfg.Logs.Bucket)
	fmt.Fprintf(stdout, "API: %s   DNS: %s   (Ctrl-C to stop)\n  aws route53resolver list-firewall-rule-groups --endpoint-url %s --region %s\n  dig @%s -p %s example.com\n",
		r.APIURL, r.Data.Addr(), r.APIURL, cfg.Region, hostOf(r.Data.Addr()), portOf(r.Data.Addr()))
	<-ctx.Done()
	r.Wait()
	return nil
}

func hostOf(addr string) string { h, _, _ := strings.Cut(addr, ":"); return h }
func portOf(addr string) string { i := strings.LastIndexByte(addr, ':'); return addr[i+1:] }

func runTraffic(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("emulator traffic", "[flags]\n\nSends a realistic mix of queries (mostly clean names, some policy hits) from\nseveral loopback addresses.")
	var cfg traffic.Config
	fs.StringVar(&cfg.Server, "dns", "127.0.0.1:5300", "resolver `address`")
	fs.IntVar(&cfg.Queries, "queries", 1000, "how many queries to send")
	fs.Float64Var(&cfg.Rate, "rate", 200, "queries per second (0: as fast as answers come)")
	fs.Float64Var(&cfg.HitShare, "hit-share", 0.15, "share of queries aimed at policy names")
	fs.IntVar(&cfg.Sources, "sources", 4, "number of source addresses (127.0.0.2 upward)")
	api := fs.String("api", "http://127.0.0.1:5380", "emulator (or AWS) API `URL` to read policy names from; empty: no hits")
	region := fs.String("region", "us-east-1", "region for --api")
	seed := fs.Uint64("seed", 1, "random seed")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := checkRanges(
		intIn("queries", cfg.Queries, 1, 100_000_000),
		floatIn("rate", cfg.Rate, 0, 1e9, "want 0 (as fast as answers come) or a number of queries per second"),
		floatIn("hit-share", cfg.HitShare, 0, 1, "want a share from 0 to 1"),
		intIn("sources", cfg.Sources, 1, 250),
	); err != nil {
		return err
	}
	cfg.Seed = *seed
	if *api != "" {
		o := awsclient.Options{Region: *region, Endpoint: *api, MaxAttempts: 3}
		awsCfg, err := awsclient.Config(ctx, o)
		if err != nil {
			return err
		}
		if cfg.Hits, err = traffic.HitsFromAPI(ctx, awsclient.Resolver(awsCfg, o), 5000); err != nil {
			return fmt.Errorf("reading policy names from %s: %w", *api, err)
		}
	}
	res, err := traffic.Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sent %d queries (%d aimed at %d policy names) in %s; answers: %v; errors: %d\n",
		res.Sent, res.Hits, len(cfg.Hits), res.Took.Round(time.Millisecond), res.ByRcode, res.Errors)
	if res.Errors > 0 {
		return fmt.Errorf("%d of %d queries got no answer from %s (is the resolver running?)", res.Errors, res.Sent, cfg.Server)
	}
	return nil
}
