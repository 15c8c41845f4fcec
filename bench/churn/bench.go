package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rpzfw/rpzfw/internal/awsclient"
	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/emulator"
	"github.com/rpzfw/rpzfw/internal/fwsync"
)

// bench is one rule group in an emulator, synced version after version
// with one state directory.
type bench struct {
	api     *tracker
	group   string
	dir     string
	rps     float64
	settle  time.Duration
	staging fwsync.Staging
	stop    []func()
}

func newBench(ctx context.Context, settle time.Duration, rps float64, useStaging bool) (*bench, error) {
	b := &bench{rps: rps, settle: settle}
	cfg := emulator.ServeConfig{
		Config: emulator.Config{Settle: settle, Faults: emulator.Faults{ThrottleRPS: rps},
			Quotas: emulator.Quotas{Domains: 4000000, DomainLists: 1000, RulesPerGroup: 100, RuleGroups: 10}},
		APIAddr: "127.0.0.1:0",
	}
	var s3url string
	if useStaging {
		url, stop, err := startMoto()
		if err != nil {
			return nil, err
		}
		b.stop = append(b.stop, stop)
		cfg.S3Endpoint, s3url = url, url
	}
	emu, err := emulator.Serve(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("starting the emulator: %w", err)
	}
	o := awsclient.Options{Region: "us-east-1", Endpoint: emu.APIURL}
	awsCfg, err := awsclient.Config(ctx, o)
	if err != nil {
		return nil, err
	}
	c := awsclient.Resolver(awsCfg, o)
	g, err := c.CreateFirewallRuleGroup(ctx, &r53r.CreateFirewallRuleGroupInput{CreatorRequestId: aws.String("churn"), Name: aws.String("churn")})
	if err != nil {
		return nil, fmt.Errorf("creating the rule group: %w", err)
	}
	b.group = aws.ToString(g.FirewallRuleGroup.Id)
	b.api = &tracker{API: c, lists: map[string]map[string]bool{}, staged: map[string][]byte{}}
	if useStaging {
		s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(s3url), UsePathStyle: true, Credentials: credentials.NewStaticCredentialsProvider("x", "y", ""),
			DisableLogOutputChecksumValidationSkipped: true})
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("staging")}); err != nil {
			return nil, fmt.Errorf("creating the staging bucket: %w", err)
		}
		b.api.staging = fwsync.S3Staging{API: s3c, Bucket: "staging"}
		b.staging = b.api
	}
	if b.dir, err = os.MkdirTemp("", "churn"); err != nil {
		return nil, err
	}
	time.Sleep(time.Second) // let the throttle bucket fill before timing
	return b, nil
}

func (b *bench) close() {
	os.RemoveAll(b.dir)
	for _, f := range b.stop {
		f()
	}
}

type result struct {
	entries, realAdded, realRemoved, sentAdded, sentRemoved int
	lists, updates, bound, calls, peak, headroom            int
	took                                                    time.Duration
}

// sync syncs plan p over what the last sync left (prev, its entries).
func (b *bench) sync(ctx context.Context, p *compile.Plan, prev []string) (result, error) {
	s, err := fwsync.New(b.api, fwsync.FileStore{Dir: b.dir}, b.staging, fwsync.FixedQuota(4000000), fwsync.Config{
		RuleGroupID: b.group, Device: "churn", RateLimit: b.rps, Progress: quiet{}, PollInitial: b.settle, AllowShrink: true,
	})
	if err != nil {
		return result{}, err
	}
	b.api.resetPeak()
	res, err := s.Sync(ctx, func(int) (*compile.Plan, error) { return p, nil }, 4000000)
	if err != nil {
		return result{}, err
	}
	cur := entries(p)
	r := result{entries: len(cur), realAdded: len(minus(cur, prev)), realRemoved: len(minus(prev, cur)),
		sentAdded: res.Plan.Added, sentRemoved: res.Plan.Removed, updates: res.Calls["UpdateFirewallDomains"] + res.Calls["ImportFirewallDomains"],
		calls: res.TotalCalls(), peak: b.api.peakHeld(), took: res.Took}
	// Make-before-break holds removed entries until the additions are in:
	// the documented headroom is what the sync removes (domains move
	// between parts only out of a list over the limit, never here).
	r.headroom = r.realRemoved
	r.bound, r.lists = perListBound(res.Plan)
	return r, nil
}

// perListBound is one update call per list per 1000 domains added and
// per 1000 removed (an import counts as one call), and how many lists the
// rule group holds after the sync.
func perListBound(p fwsync.Plan) (bound, lists int) {
	type counts struct{ add, rm, imp int }
	per := map[string]*counts{}
	for _, s := range p.Steps {
		c := per[s.List]
		if c == nil {
			c = &counts{}
			per[s.List] = c
		}
		switch s.Kind {
		case fwsync.StepAdd:
			c.add += len(s.Domains)
		case fwsync.StepRemove:
			c.rm += len(s.Domains)
		case fwsync.StepImport:
			c.imp++
		}
	}
	for _, c := range per {
		bound += (c.add+999)/1000 + (c.rm+999)/1000 + c.imp
	}
	for _, r := range p.Rules {
		if r.New != nil {
			lists++
		}
	}
	return bound, lists
}

// entries are a plan's list entries, each with its rule's action.
func entries(p *compile.Plan) []string {
	var out []string
	for _, r := range p.Rules {
		resp := ""
		if r.BlockResponse != nil {
			resp = *r.BlockResponse
		}
		for _, d := range r.Domains {
			out = append(out, r.Action+resp+" "+d)
		}
	}
	slices.Sort(out)
	return out
}

// minus returns the sorted a less b.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			out = append(out, x)
		}
	}
	return out
}

// tracker passes calls to the emulator and keeps what each list holds as
// sent, so the most domains held at any moment is measured from the calls
// themselves, not taken from the plan.
type tracker struct {
	fwsync.API
	staging fwsync.Staging
	mu      sync.Mutex
	staged  map[string][]byte // URL -> file
	lists   map[string]map[string]bool
	held    int
	peak    int
}

func (t *tracker) UpdateFirewallDomains(ctx context.Context, in *r53r.UpdateFirewallDomainsInput, o ...func(*r53r.Options)) (*r53r.UpdateFirewallDomainsOutput, error) {
	out, err := t.API.UpdateFirewallDomains(ctx, in, o...)
	if err != nil {
		return out, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	id := aws.ToString(in.FirewallDomainListId)
	l := t.lists[id]
	if l == nil {
		l = map[string]bool{}
		t.lists[id] = l
	}
	if in.Operation == types.FirewallDomainUpdateOperationReplace {
		t.held -= len(l)
		clear(l)
	}
	for _, d := range in.Domains {
		switch {
		case in.Operation == types.FirewallDomainUpdateOperationRemove && l[d]:
			delete(l, d)
			t.held--
		case in.Operation != types.FirewallDomainUpdateOperationRemove && !l[d]:
			l[d] = true
			t.held++
		}
	}
	t.peak = max(t.peak, t.held)
	return out, nil
}

// ImportFirewallDomains replaces a list's content with the file staged
// for it.
func (t *tracker) ImportFirewallDomains(ctx context.Context, in *r53r.ImportFirewallDomainsInput, o ...func(*r53r.Options)) (*r53r.ImportFirewallDomainsOutput, error) {
	out, err := t.API.ImportFirewallDomains(ctx, in, o...)
	if err != nil {
		return out, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	id := aws.ToString(in.FirewallDomainListId)
	t.held -= len(t.lists[id])
	l := map[string]bool{}
	for _, d := range strings.Fields(string(t.staged[aws.ToString(in.DomainFileUrl)])) {
		l[d] = true
	}
	t.lists[id] = l
	t.held += len(l)
	t.peak = max(t.peak, t.held)
	return out, nil
}

// Stage keeps what a file holds, for ImportFirewallDomains.
func (t *tracker) Stage(ctx context.Context, name string, body []byte) (string, error) {
	url, err := t.staging.Stage(ctx, name, body)
	if err == nil {
		t.mu.Lock()
		t.staged[url] = body
		t.mu.Unlock()
	}
	return url, err
}

func (t *tracker) DeleteFirewallDomainList(ctx context.Context, in *r53r.DeleteFirewallDomainListInput, o ...func(*r53r.Options)) (*r53r.DeleteFirewallDomainListOutput, error) {
	out, err := t.API.DeleteFirewallDomainList(ctx, in, o...)
	if err == nil {
		t.mu.Lock()
		id := aws.ToString(in.FirewallDomainListId)
		t.held -= len(t.lists[id])
		delete(t.lists, id)
		t.mu.Unlock()
	}
	return out, err
}

func (t *tracker) resetPeak() {
	t.mu.Lock()
	t.peak = t.held
	t.mu.Unlock()
}

func (t *tracker) peakHeld() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.peak
}

type quiet struct{}

func (quiet) Step(int, int, fwsync.Step) {}
func (quiet) Note(string, ...any)        {}

func startMoto() (string, func(), error) {
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		return "", nil, fmt.Errorf("moto_server is needed for -staging: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	for range 300 {
		if resp, err := http.Get(url + "/moto-api/"); err == nil {
			resp.Body.Close()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return url, func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }, nil
}
