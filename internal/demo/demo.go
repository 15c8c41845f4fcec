// Package demo runs the whole loop on one machine: it starts the DNS
// Firewall emulator, creates a rule group the way a user would, syncs a
// policy into it, resolves names through the emulator's DNS and says what
// happened to each and why.
package demo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/miekg/dns"

	"github.com/rpzfw/rpzfw/internal/awsclient"
	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/emulator"
	"github.com/rpzfw/rpzfw/internal/fwsync"
	"github.com/rpzfw/rpzfw/internal/policy"
)

// Config says what to demonstrate.
type Config struct {
	Policy   policy.Policy
	Settings compile.Settings
	// Names are resolved after the sync.
	Names []string
	// StateDir keeps sync state (a temporary directory is fine).
	StateDir string
	// Settle is the emulator's settle delay.
	Settle time.Duration
	// AllowBlockAll deploys a plan that blocks every name (so does the
	// policy's own setting).
	AllowBlockAll bool
	// Log receives what the emulator and the policy's reading report
	// (nil: nowhere); the demo's own story goes to its writer.
	Log *slog.Logger
}

// DefaultNames show every outcome of the sample policy.
var DefaultNames = []string{
	"malware.example", "www.botnet.example", "tracker.example", "login.phish.example",
	"cdn.phish.example", "login.bank.phish.example", "intranet.corp.example",
	"ads.unwanted.example", "drop.example", "example.com",
}

// Run does the demonstration, writing to w.
func Run(ctx context.Context, w io.Writer, cfg Config) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fmt.Fprintln(w, "1. Starting the DNS Firewall emulator (a local Route 53 Resolver DNS Firewall).")
	emu, err := emulator.Serve(ctx, emulator.ServeConfig{
		Config:  emulator.Config{Settle: cfg.Settle, Faults: emulator.Faults{ThrottleRPS: 5}, Log: cfg.Log},
		APIAddr: "127.0.0.1:0", DNSAddr: "127.0.0.1:0",
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   API %s (5 requests/s, like AWS), DNS %s, VPC %s\n\n", emu.APIURL, emu.Data.Addr(), emu.VPCID())

	opts := awsclient.Options{Region: "us-east-1", Endpoint: emu.APIURL}
	awsCfg, err := awsclient.Config(ctx, opts)
	if err != nil {
		return err
	}
	api := awsclient.Resolver(awsCfg, opts)
	fmt.Fprintln(w, "2. Creating a rule group and associating it with the VPC, as you would in the AWS console.")
	g, err := api.CreateFirewallRuleGroup(ctx, &r53r.CreateFirewallRuleGroupInput{CreatorRequestId: aws.String("demo"), Name: aws.String("rpzfw-demo")})
	if err != nil {
		return fmt.Errorf("creating the demo rule group: %w", err)
	}
	if _, err := api.AssociateFirewallRuleGroup(ctx, &r53r.AssociateFirewallRuleGroupInput{CreatorRequestId: aws.String("demo"),
		FirewallRuleGroupId: g.FirewallRuleGroup.Id, VpcId: aws.String(emu.VPCID()), Priority: aws.Int32(101), Name: aws.String("demo")}); err != nil {
		return fmt.Errorf("associating the demo rule group: %w", err)
	}
	group := aws.ToString(g.FirewallRuleGroup.Id)
	fmt.Fprintf(w, "   rule group %s\n\n", group)

	fmt.Fprintln(w, "3. Compiling the policy and syncing it into the rule group:")
	syncer, err := fwsync.New(api, fwsync.FileStore{Dir: cfg.StateDir}, nil, fwsync.FixedQuota(compile.DefaultMaxDomains), fwsync.Config{
		RuleGroupID: group, Device: "demo", Progress: &fwsync.TermProgress{W: indent{w}}, PollInitial: 100 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	b, ref := compile.NewBuilder(), compile.NewReference()
	if err := cfg.Policy.LoadWith(ctx, policy.Tee(b, ref), nil, cfg.Log); err != nil {
		return err
	}
	var plan *compile.Plan
	res, err := syncer.Sync(ctx, func(max int) (*compile.Plan, error) {
		s := cfg.Settings
		s.MaxDomains = max
		if plan, err = b.Compile(s); err != nil {
			return nil, err
		}
		if err := plan.CheckBlockAll(cfg.AllowBlockAll || cfg.Policy.AllowBlockAll); err != nil {
			return nil, err
		}
		return plan, nil
	}, compile.DefaultMaxDomains)
	if err != nil {
		return err
	}
	fwsync.WriteSummary(indent{w}, res)
	fmt.Fprintln(w)

	fmt.Fprintln(w, "4. Resolving names through the emulator's DNS:")
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "   NAME\tANSWER\tWHY")
	c := &dns.Client{Timeout: 3 * time.Second}
	for _, name := range cfg.Names {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), dns.TypeA)
		r, _, err := c.ExchangeContext(ctx, m, emu.Data.Addr())
		answer := "error: " + fmt.Sprint(err)
		if err == nil {
			answer = describeAnswer(r)
		}
		fmt.Fprintf(tw, "   %s\t%s\t%s\n", name, answer, why(compile.Explain(ref, plan, name), plan.Sources))
	}
	tw.Flush()
	fmt.Fprintf(w, "\nDone. Run the emulator yourself with 'rpzfw emulator', then sync into it with\n'rpzfw sync --endpoint-url http://127.0.0.1:5380 --region us-east-1 --rule-group-id ... ZONE'.\n")
	return nil
}

func describeAnswer(r *dns.Msg) string {
	switch {
	case r.Rcode != dns.RcodeSuccess:
		return dns.RcodeToString[r.Rcode]
	case len(r.Answer) == 0:
		return "NODATA"
	}
	var parts []string
	for _, rr := range r.Answer {
		switch v := rr.(type) {
		case *dns.CNAME:
			parts = append(parts, "CNAME "+strings.TrimSuffix(v.Target, "."))
		case *dns.A:
			parts = append(parts, v.A.String())
		}
	}
	return strings.Join(parts, " -> ")
}

func why(e compile.Explanation, sources []string) string {
	d := e.Decision
	rule := "no rule matched"
	if e.Rule != nil {
		rule = fmt.Sprintf("rule %s (%s) via %s", e.Rule.Name, e.Rule.Action, e.Verdict.Entry)
	}
	removed := ""
	if rm := d.Removed; rm != nil {
		removed = fmt.Sprintf("%s line %d says %s, removed: %s", sources[rm.Source], rm.Line, rm.Says, rm.Why)
	}
	if d.Source < 0 {
		switch {
		case removed != "" && e.Rule != nil:
			return removed + "; " + rule + " carves it out"
		case removed != "":
			return removed + "; " + rule
		case e.Rule != nil:
			return "no policy applies; " + rule + " carves it out"
		}
		return "no policy applies"
	}
	if removed != "" {
		removed = " (" + removed + ")"
	}
	return fmt.Sprintf("%s line %d says %s%s; %s", sources[d.Source], d.Line, d.Describe, removed, rule)
}

// indent prefixes lines written through it.
type indent struct{ w io.Writer }

func (i indent) Write(p []byte) (int, error) {
	s := strings.TrimSuffix(string(p), "\n")
	_, err := io.WriteString(i.w, "   "+strings.ReplaceAll(s, "\n", "\n   ")+"\n")
	return len(p), err
}
