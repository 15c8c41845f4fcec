package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/rpzfw/rpzfw/internal/feed"
	"github.com/rpzfw/rpzfw/internal/fwsync"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/policy"
)

// policyFlags are the flags that say what to compile and how; plan and
// explain share them.
type policyFlags struct {
	policyFile, cacheDir string
	offline              bool
	allowList, blockList string
	monitorOnly          bool
	maxDomains, maxRules int
	prefix               string
	firstPriority, step  int
	maxFileSize          string
	fetchTimeout         time.Duration
	allowBlockAll        bool
}

func (f *policyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.policyFile, "policy", "", "policy `FILE` (YAML: sources, allow and block lists; see docs/policy.md)")
	fs.StringVar(&f.cacheDir, "cache-dir", "", "`directory` for the last good copy of each source of --policy (default: the state directory)")
	fs.BoolVar(&f.offline, "offline", false, "with --policy, use the last good copies without fetching")
	fs.StringVar(&f.allowList, "allow-list", "", "`FILE` of domains never blocked (one per line, *.name for subdomains); checked first")
	fs.StringVar(&f.blockList, "block-list", "", "`FILE` of domains always blocked with NXDOMAIN; checked after the allow list, before the zones")
	fs.BoolVar(&f.monitorOnly, "monitor-only", false, "alert instead of blocking")
	fs.IntVar(&f.maxDomains, "max-domains", compile.DefaultMaxDomains, "maximum domains in the plan (the account's DNS Firewall domains quota); lower-precedence blocks are dropped to fit")
	fs.IntVar(&f.maxRules, "max-rules", compile.DefaultMaxRules, "maximum rules in the rule group")
	fs.StringVar(&f.prefix, "rule-prefix", compile.DefaultPrefix, "prefix of rule names")
	fs.IntVar(&f.firstPriority, "first-priority", compile.DefaultFirstPriority, "plan and explain: when given, the first rule's priority, instead of the one sync deploys it with (sync does not use it)")
	fs.IntVar(&f.step, "priority-step", compile.DefaultPriorityStep, "plan and explain: when given, the priority gap between rules, instead of sync's (sync does not use it)")
	fs.StringVar(&f.maxFileSize, "max-file-size", "256MB", "largest zone or list `size` read from the zone arguments and list flags (a policy file sets max_size per source)")
	fs.DurationVar(&f.fetchTimeout, "fetch-timeout", feed.DefaultFetchTimeout, "with --policy, give up a fetch of one source after this `duration` (its last good copy is used)")
	fs.BoolVar(&f.allowBlockAll, "allow-block-all", false, "deploy a plan that blocks every name (a list holding \"*\", or \"*.<origin>\" in a zone); refused otherwise")
}

// blockAllAllowed says whether a plan that blocks every name may be
// deployed: the flag or the policy file says so.
func (f *policyFlags) blockAllAllowed(p policy.Policy) bool {
	return f.allowBlockAll || p.AllowBlockAll
}

func (f *policyFlags) settings() (compile.Settings, error) {
	if f.maxDomains < 1 {
		return compile.Settings{}, fmt.Errorf("%w: --max-domains must be at least 1", errUsage)
	}
	if f.maxRules < 1 {
		return compile.Settings{}, fmt.Errorf("%w: --max-rules must be at least 1", errUsage)
	}
	if f.firstPriority < 1 || f.step < 1 {
		return compile.Settings{}, fmt.Errorf("%w: --first-priority and --priority-step must be at least 1", errUsage)
	}
	if err := checkRanges(
		intIn("first-priority", f.firstPriority, 1, math.MaxInt32),
		intIn("priority-step", f.step, 1, math.MaxInt32),
		durationAtLeast("fetch-timeout", f.fetchTimeout, time.Second),
	); err != nil {
		return compile.Settings{}, err
	}
	return compile.Settings{
		MonitorOnly: f.monitorOnly, MaxDomains: f.maxDomains, MaxRules: f.maxRules,
		Prefix: f.prefix, FirstPriority: f.firstPriority, PriorityStep: f.step,
	}, nil
}

// policy builds the policy from --policy, or from the zone arguments and
// list flags. The two ways do not mix, so that what runs is what one file
// or one command line says.
func (f *policyFlags) policy(zoneArgs []string) (policy.Policy, error) {
	if f.policyFile != "" {
		if len(zoneArgs) > 0 || f.allowList != "" || f.blockList != "" {
			return policy.Policy{}, fmt.Errorf("%w: --policy takes its sources and lists from the file; drop the zone arguments and list flags", errUsage)
		}
		return policy.ParseFile(f.policyFile)
	}
	p := policy.Policy{MaxShrink: policy.DefaultMaxShrink}
	maxSize, err := policy.ParseSize(f.maxFileSize)
	if err != nil {
		return p, fmt.Errorf("%w: --max-file-size %q: %v", errUsage, f.maxFileSize, err)
	}
	if f.allowList != "" {
		p.Allow.File, p.Allow.MaxSize = f.allowList, maxSize
	}
	if f.blockList != "" {
		p.Block.File, p.Block.MaxSize = f.blockList, maxSize
	}
	for _, a := range zoneArgs {
		z, err := policy.ParseZoneArg(a)
		if err != nil {
			return p, fmt.Errorf("%w: %v", errUsage, err)
		}
		z.MaxSize = maxSize
		p.Sources = append(p.Sources, z)
	}
	if len(p.Sources) == 0 && f.allowList == "" && f.blockList == "" {
		return p, fmt.Errorf("%w: give at least one zone (FILE or ORIGIN=FILE), a list, or --policy FILE", errUsage)
	}
	return p, nil
}

// opener fetches the sources of a policy file (unless --offline) and opens
// their last good copies; plain zone arguments are read directly. What the
// fetches do goes to log.
func (f *policyFlags) opener(ctx context.Context, p policy.Policy, log *slog.Logger) (policy.Opener, error) {
	if f.policyFile == "" {
		return nil, nil
	}
	dir := f.cacheDir
	if dir == "" {
		var err error
		if dir, err = feed.CacheDir(fwsync.DefaultStateDir(), p, log); err != nil {
			return nil, err
		}
	}
	m, err := feed.NewManager(dir, p)
	if err != nil {
		return nil, err
	}
	m.FetchTimeout, m.Log = f.fetchTimeout, log
	if !f.offline {
		for name, err := range m.RefreshAll(ctx) {
			log.Warn("a source could not be refreshed; its last good copy is used", "source", name, "err", err)
		}
	}
	return m, nil
}

// resolve turns the flags and zone arguments into settings and a policy.
func (f *policyFlags) resolve(zoneArgs []string) (compile.Settings, policy.Policy, error) {
	s, err := f.settings()
	if err != nil {
		return s, policy.Policy{}, err
	}
	p, err := f.policy(zoneArgs)
	return s, p, err
}
