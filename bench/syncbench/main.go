// Command syncbench measures rpzfw sync against the emulator with its
// default 5 requests/s throttle: API calls against the make-before-break
// floor, update calls against their lower bound, and wall time, for first syncs (with and without S3 import) and a 1% change, and
// the same workloads done the way existing tools do them ("replace
// everything": the whole list sent again each time). Prints a Markdown
// table. Import runs need moto_server on PATH for S3.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rpzfw/rpzfw/internal/awsclient"
	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/dnsfw"
	"github.com/rpzfw/rpzfw/internal/emulator"
	"github.com/rpzfw/rpzfw/internal/fwsync"
)

func main() {
	sizes := flag.String("sizes", "100000,1000000", "comma-separated policy sizes (domains)")
	settle := flag.Duration("settle", 200*time.Millisecond, "emulator settle delay")
	rps := flag.Float64("rps", 5, "emulator throttle and client rate (requests/s)")
	skip := flag.String("skip", "", "comma-separated workloads to skip (first-add, first-import, first-replace, change, change-replace)")
	oneOnly := flag.Bool("one", false, "with -multi, only the one-domain change")
	changes := flag.Int("changes", 5, "with -multi, one-domain changes in a row (each printed when at most 5, else their sum)")
	flag.BoolVar(&verbose, "v", false, "print each sync's calls by operation on stderr")
	multi := flag.Bool("multi", false, "only the small workloads: one domain added, three small layered policies synced one after another into one rule group, then the last unchanged and with its rules reordered")
	flag.Parse()
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx := context.Background()
	moto, stop := startMoto()
	defer stop()
	skipped := map[string]bool{}
	for _, s := range strings.Split(*skip, ",") {
		skipped[s] = true
	}
	fmt.Printf("Emulator: %.0f requests/s throttle, settle %s. Calls include status polls.\n\n", *rps, *settle)
	fmt.Println("| workload | domains added | domains removed | API calls | floor | calls / floor | update calls | update calls, lower bound | wall time |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	if *multi {
		// One domain added to a 1000-domain rule, several runs one after
		// another: each starts from the settle delay the one before
		// learned (kept in the state).
		var plans []*compile.Plan
		for i := range *changes + 1 {
			p := plan(1000, 0)
			p.Rules[1].Domains = slices.Clone(p.Rules[1].Domains)
			for j := range i {
				p.Rules[1].Domains = append(p.Rules[1].Domains, fmt.Sprintf("zz%d-new.bench.example", j))
			}
			slices.Sort(p.Rules[1].Domains) // as plans hold them: "zz10" sorts before "zz9"
			plans = append(plans, p)
		}
		rs := run(ctx, moto, *settle, *rps, 2000, false, plans...)
		oneDomainRows(rs[1:])
		if *oneOnly {
			return
		}
		for i, r := range run(ctx, moto, *settle, *rps, 10000, false, smallPolicies()...) {
			row(fmt.Sprintf("small policies, sync %d of 3", i+1), r)
		}
		// An unchanged policy, synced again.
		last := smallPolicies()[2]
		rs = run(ctx, moto, *settle, *rps, 10000, false, last, last)
		row("small policy, unchanged", rs[1])
		// The same policy with its rules swapped pair by pair, renamed
		// for their new positions as the compiler names them.
		rs = run(ctx, moto, *settle, *rps, 10000, false, last, reordered(last))
		row("small policy, rules reordered", rs[1])
		return
	}
	for _, f := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(f)
		if err != nil {
			log.Fatalf("size %q: %v", f, err)
		}
		base := plan(n, 0)
		changed := plan(n, n/200) // n/200 removed and n/200 added: 1% of entries differ
		if !skipped["first-add"] {
			row(fmt.Sprintf("first sync, %d domains, ADD chunks", n), last(run(ctx, moto, *settle, *rps, n, false, base)))
		}
		if !skipped["first-import"] {
			row(fmt.Sprintf("first sync, %d domains, S3 import", n), last(run(ctx, moto, *settle, *rps, n, true, base)))
		}
		if !skipped["first-replace"] {
			row(fmt.Sprintf("first sync, %d domains, replace everything", n), replaceAll(ctx, *settle, *rps, n, base, nil))
		}
		if n >= 100000 && !skipped["change"] {
			row(fmt.Sprintf("1%% change on %d domains, rpzfw diff", n), last(run(ctx, moto, *settle, *rps, n, false, base, changed)))
		}
		if n >= 100000 && !skipped["change-replace"] {
			row(fmt.Sprintf("1%% change on %d domains, replace everything", n), replaceAll(ctx, *settle, *rps, n, base, changed))
		}
	}
}

// verbose prints each sync's calls by operation.
var verbose bool

type result struct {
	added, removed, calls, floor, updates, bound int
	took                                         time.Duration
}

// oneDomainRows prints each one-domain change, or when there are many
// their sum and the most calls any one made.
func oneDomainRows(rs []result) {
	if len(rs) <= 5 {
		for i, r := range rs {
			row(fmt.Sprintf("one domain added to a 1000-domain policy, change %d of %d", i+1, len(rs)), r)
		}
		return
	}
	var sum result
	most := 0
	for _, r := range rs {
		sum.added, sum.removed, sum.calls, sum.floor = sum.added+r.added, sum.removed+r.removed, sum.calls+r.calls, sum.floor+r.floor
		sum.updates, sum.bound, sum.took = sum.updates+r.updates, sum.bound+r.bound, sum.took+r.took
		most = max(most, r.calls)
	}
	row(fmt.Sprintf("one domain added to a 1000-domain policy, %d changes in a row (sum; at most %d calls in one, %.1fs mean)",
		len(rs), most, sum.took.Seconds()/float64(len(rs))), sum)
}

func row(name string, r result) {
	floor, ratio := "", ""
	if r.floor > 0 {
		floor, ratio = strconv.Itoa(r.floor), fmt.Sprintf("%.2f", float64(r.calls)/float64(r.floor))
	}
	fmt.Printf("| %s | %d | %d | %d | %s | %s | %d | %d | %s |\n", name, r.added, r.removed, r.calls, floor, ratio, r.updates, r.bound, r.took.Round(100*time.Millisecond))
}

// plan is a policy of n blocked names plus a small allow rule; change
// swaps k names for k new ones.
func plan(n, k int) *compile.Plan {
	doms := make([]string, 0, n)
	for i := k; i < n+k; i++ {
		doms = append(doms, fmt.Sprintf("d%08d.bench.example", i))
	}
	nx := "NXDOMAIN"
	// Names are generated in sorted order, as plans hold them.
	return &compile.Plan{Rules: []dnsfw.Rule{
		{Name: "rpzfw-1-allow", Action: "ALLOW", Domains: []string{"ok.bench.example"}},
		{Name: "rpzfw-2-nxdomain", Action: "BLOCK", BlockResponse: &nx, Domains: doms},
	}, DomainCount: n + 1}
}

func newEmulator(ctx context.Context, moto string, settle time.Duration, rps float64, n int) (*emulator.Running, *r53r.Client, string) {
	cfg := emulator.ServeConfig{
		Config: emulator.Config{Settle: settle, Faults: emulator.Faults{ThrottleRPS: rps},
			Quotas: emulator.Quotas{Domains: 3*n + 1000, DomainLists: 1000, RulesPerGroup: 100, RuleGroups: 10}},
		APIAddr: "127.0.0.1:0", S3Endpoint: moto,
	}
	emu, err := emulator.Serve(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	o := awsclient.Options{Region: "us-east-1", Endpoint: emu.APIURL}
	awsCfg, err := awsclient.Config(ctx, o)
	if err != nil {
		log.Fatal(err)
	}
	c := awsclient.Resolver(awsCfg, o)
	g, err := c.CreateFirewallRuleGroup(ctx, &r53r.CreateFirewallRuleGroupInput{CreatorRequestId: aws.String("bench"), Name: aws.String("bench")})
	if err != nil {
		log.Fatal(err)
	}
	time.Sleep(time.Second) // let the throttle bucket refill before timing
	return emu, c, aws.ToString(g.FirewallRuleGroup.Id)
}

type quiet struct{}

func (quiet) Step(int, int, fwsync.Step) {}
func (quiet) Note(string, ...any)        {}

func last(rs []result) result { return rs[len(rs)-1] }

// smallPolicies are three small layered policies (7, 10 and 12 rules of
// about 80 domains, mixed actions) of which each shares most of its
// content with the one before: some rules change content, some action,
// some are added or dropped, as consecutive versions of a policy do.
func smallPolicies() []*compile.Plan {
	actions := []string{"ALLOW", "BLOCK NXDOMAIN", "ALERT", "BLOCK NODATA"}
	mk := func(version, rules int) *compile.Plan {
		p := &compile.Plan{}
		for i := range rules {
			act := actions[(i+version*(i%2))%len(actions)]
			r := dnsfw.Rule{Name: fmt.Sprintf("rpzfw-%d-%s", i+1, strings.ToLower(strings.ReplaceAll(act, " ", "-"))), Action: strings.Fields(act)[0]}
			if f := strings.Fields(act); len(f) == 2 {
				r.BlockResponse = aws.String(f[1])
			}
			// 80 names a rule; each version replaces a few of them.
			for j := range 80 {
				k := j
				if j < 6*version && i%3 != 0 {
					k = 1000*version + j
				}
				r.Domains = append(r.Domains, fmt.Sprintf("n%05d.r%02d.bench.example", k, i))
			}
			slices.Sort(r.Domains)
			p.Rules = append(p.Rules, r)
			p.DomainCount += len(r.Domains)
		}
		return p
	}
	return []*compile.Plan{mk(0, 7), mk(1, 10), mk(2, 12)}
}

// reordered swaps a plan's rules pair by pair (1 and 2, 3 and 4, ...)
// and renames them for their new positions.
func reordered(p *compile.Plan) *compile.Plan {
	out := &compile.Plan{DomainCount: p.DomainCount}
	for i := range p.Rules {
		j := i ^ 1
		if j >= len(p.Rules) {
			j = i
		}
		r := p.Rules[j]
		_, rest, _ := strings.Cut(strings.TrimPrefix(r.Name, "rpzfw-"), "-")
		r.Name = fmt.Sprintf("rpzfw-%d-%s", i+1, rest)
		out.Rules = append(out.Rules, r)
	}
	return out
}

// run syncs each plan in turn with rpzfw and reports each sync.
func run(ctx context.Context, moto string, settle time.Duration, rps float64, n int, useImport bool, plans ...*compile.Plan) []result {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, c, group := newEmulator(ctx, moto, settle, rps, n)
	var staging fwsync.Staging
	if useImport {
		s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(moto), UsePathStyle: true, Credentials: credentials.NewStaticCredentialsProvider("x", "y", ""),
			DisableLogOutputChecksumValidationSkipped: true})
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("staging")}); err != nil {
			log.Fatal(err)
		}
		staging = fwsync.S3Staging{API: s3c, Bucket: "staging"}
	}
	dir, _ := os.MkdirTemp("", "syncbench")
	defer os.RemoveAll(dir)
	var rs []result
	for i, p := range plans {
		if i > 0 {
			// Each run is a new process: let the emulator's throttle
			// bucket refill, as between two runs of the command.
			time.Sleep(time.Second)
		}
		s, err := fwsync.New(c, fwsync.FileStore{Dir: dir}, staging, fwsync.FixedQuota(3*n+1000), fwsync.Config{
			RuleGroupID: group, Device: "bench", RateLimit: rps, Progress: quiet{}, PollInitial: settle,
		})
		if err != nil {
			log.Fatal(err)
		}
		res, err := s.Sync(ctx, func(int) (*compile.Plan, error) { return p, nil }, 3*n)
		if err != nil {
			log.Fatal(err)
		}
		if verbose {
			waits := 0
			for _, st := range res.Plan.Steps {
				if st.Kind == fwsync.StepSettle {
					waits++
				}
			}
			fmt.Fprintf(os.Stderr, "calls %v, %d planned waits, took %s\n", res.Calls, waits, res.Took.Round(time.Millisecond))
		}
		b := fwsync.PlanBounds(res.Plan)
		rs = append(rs, result{added: res.Plan.Added, removed: res.Plan.Removed, calls: res.TotalCalls(), floor: b.Calls,
			updates: res.Calls["UpdateFirewallDomains"] + res.Calls["ImportFirewallDomains"], bound: b.Updates, took: res.Took})
	}
	return rs
}

// replaceAll is what tools that send whole lists do: for every rule, the
// list is replaced (REPLACE with the first 1000, then ADD the rest), each
// call after the list settles. With second, first is installed untimed
// and second is the measured change.
func replaceAll(ctx context.Context, settle time.Duration, rps float64, n int, first, second *compile.Plan) result {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	_, c, group := newEmulator(ctx, "", settle, rps, n)
	lim := time.NewTicker(time.Duration(float64(time.Second) / rps))
	defer lim.Stop()
	calls, updates := 0, 0
	call := func() { <-lim.C; calls++ }
	lists := map[string]string{}
	install := func(p *compile.Plan) {
		for i, rule := range p.Rules {
			id, ok := lists[rule.Name]
			if !ok {
				call()
				l, err := c.CreateFirewallDomainList(ctx, &r53r.CreateFirewallDomainListInput{CreatorRequestId: aws.String(rule.Name), Name: aws.String(rule.Name)})
				if err != nil {
					log.Fatal(err)
				}
				id = aws.ToString(l.FirewallDomainList.Id)
				lists[rule.Name] = id
			}
			for j := 0; j < len(rule.Domains); j += 1000 {
				op := types.FirewallDomainUpdateOperationAdd
				if j == 0 {
					op = types.FirewallDomainUpdateOperationReplace
				}
				call()
				updates++
				if _, err := c.UpdateFirewallDomains(ctx, &r53r.UpdateFirewallDomainsInput{FirewallDomainListId: &id, Operation: op, Domains: rule.Domains[j:min(j+1000, len(rule.Domains))]}); err != nil {
					log.Fatal(err)
				}
				for {
					time.Sleep(settle)
					call()
					out, err := c.GetFirewallDomainList(ctx, &r53r.GetFirewallDomainListInput{FirewallDomainListId: &id})
					if err != nil {
						log.Fatal(err)
					}
					if out.FirewallDomainList.Status == types.FirewallDomainListStatusComplete {
						break
					}
				}
			}
			if !ok {
				call()
				in := &r53r.CreateFirewallRuleInput{CreatorRequestId: aws.String(rule.Name), FirewallRuleGroupId: &group, FirewallDomainListId: &id,
					Priority: aws.Int32(int32(1000 + i)), Action: types.Action(rule.Action), Name: aws.String(rule.Name)}
				if rule.BlockResponse != nil {
					in.BlockResponse = types.BlockResponse(*rule.BlockResponse)
				}
				if _, err := c.CreateFirewallRule(ctx, in); err != nil {
					log.Fatal(err)
				}
			}
		}
	}
	if second != nil {
		install(first)
		first = second
		calls, updates = 0, 0
	}
	start := time.Now()
	install(first)
	total := 0
	for _, r := range first.Rules {
		total += len(r.Domains)
	}
	return result{added: total, calls: calls, updates: updates, bound: (total + 999) / 1000, took: time.Since(start)}
}

func startMoto() (string, func()) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		log.Fatal("moto_server is needed for the S3 import runs")
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for i := 0; i < 300; i++ {
		if resp, err := http.Get(url + "/moto-api/"); err == nil {
			resp.Body.Close()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return url, func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
}
