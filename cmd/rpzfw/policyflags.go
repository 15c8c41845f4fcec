package main

import (
	"flag"
	"fmt"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/policy"
)

// policyFlags are the flags that say what to compile and how; plan and
// explain share them.
type policyFlags struct {
	allowList, blockList string
	monitorOnly          bool
	maxDomains, maxRules int
	prefix               string
	firstPriority, step  int
}

func (f *policyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.allowList, "allow-list", "", "`FILE` of domains never blocked (one per line, *.name for subdomains); checked first")
	fs.StringVar(&f.blockList, "block-list", "", "`FILE` of domains always blocked with NXDOMAIN; checked after the allow list, before the zones")
	fs.BoolVar(&f.monitorOnly, "monitor-only", false, "alert instead of blocking")
	fs.IntVar(&f.maxDomains, "max-domains", compile.DefaultMaxDomains, "maximum domains in the plan (the account's DNS Firewall domains quota); lower-precedence blocks are dropped to fit")
	fs.IntVar(&f.maxRules, "max-rules", compile.DefaultMaxRules, "maximum rules in the rule group")
	fs.StringVar(&f.prefix, "rule-prefix", compile.DefaultPrefix, "prefix of rule names")
	fs.IntVar(&f.firstPriority, "first-priority", compile.DefaultFirstPriority, "priority of the first rule")
	fs.IntVar(&f.step, "priority-step", compile.DefaultPriorityStep, "priority gap between rules")
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
	return compile.Settings{
		MonitorOnly: f.monitorOnly, MaxDomains: f.maxDomains, MaxRules: f.maxRules,
		Prefix: f.prefix, FirstPriority: f.firstPriority, PriorityStep: f.step,
	}, nil
}

func (f *policyFlags) policy(zoneArgs []string) (policy.Policy, error) {
	p := policy.Policy{AllowList: f.allowList, BlockList: f.blockList}
	for _, a := range zoneArgs {
		z, err := policy.ParseZoneArg(a)
		if err != nil {
			return p, fmt.Errorf("%w: %v", errUsage, err)
		}
		p.Zones = append(p.Zones, z)
	}
	if len(p.Zones) == 0 && p.AllowList == "" && p.BlockList == "" {
		return p, fmt.Errorf("%w: give at least one zone (FILE or ORIGIN=FILE) or a list", errUsage)
	}
	return p, nil
}
