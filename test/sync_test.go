package test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver/types"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/dnsfw"
	"github.com/rpzfw/rpzfw/internal/emulator"
	"github.com/rpzfw/rpzfw/internal/fwsync"
)

// syncEnv is an emulator with a rule group associated with its VPC, and
// what a syncer needs to keep it.
type syncEnv struct {
	*emu
	group string
	dir   string
	c     *r53r.Client
}

func newSyncEnv(t *testing.T, cfg emulator.Config) *syncEnv {
	t.Helper()
	if cfg.Settle == 0 {
		cfg.Settle = 3 * time.Millisecond
	}
	m := startEmulator(t, cfg)
	c := m.client(10)
	ctx := context.Background()
	g, err := c.CreateFirewallRuleGroup(ctx, &r53r.CreateFirewallRuleGroupInput{CreatorRequestId: aws.String("group"), Name: aws.String("protect")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AssociateFirewallRuleGroup(ctx, &r53r.AssociateFirewallRuleGroupInput{CreatorRequestId: aws.String("assoc"), FirewallRuleGroupId: g.FirewallRuleGroup.Id,
		VpcId: aws.String(m.e.VPCID()), Priority: aws.Int32(101), Name: aws.String("assoc")}); err != nil {
		t.Fatal(err)
	}
	return &syncEnv{emu: m, group: *g.FirewallRuleGroup.Id, dir: t.TempDir(), c: c}
}

type syncOpts struct {
	after func(op string, err error) error
	// serviceQuotas reads the quota from the emulator's Service Quotas.
	serviceQuotas bool
	rate          float64
	band          fwsync.Band
	quota         int
	dryRun        bool
	// strict keeps the guard against large shrinks on; the other tests
	// sync between unrelated random policies, where shrinking is normal.
	strict bool
	// staging imports new lists of importMin domains or more.
	staging   fwsync.Staging
	importMin int
	// verifyAll asks the service about every list (VerifyEvery < 0).
	verifyAll bool
	progress  fwsync.Progress
}

func (env *syncEnv) syncer(t *testing.T, o syncOpts) *fwsync.Syncer {
	t.Helper()
	var quota fwsync.QuotaSource
	if o.quota > 0 {
		quota = fwsync.FixedQuota(o.quota)
	}
	if o.serviceQuotas {
		quota = fwsync.ServiceQuotas{API: servicequotas.New(servicequotas.Options{Region: "us-east-1", BaseEndpoint: aws.String(env.url),
			Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})}
	}
	rate := o.rate
	if rate == 0 {
		rate = -1 // no client-side limit: the tests run fast
	}
	progress := o.progress
	if progress == nil {
		progress = quietProgress{}
	}
	verify := time.Duration(0)
	if o.verifyAll {
		verify = -1
	}
	s, err := fwsync.New(env.c, fwsync.FileStore{Dir: env.dir}, o.staging, quota, fwsync.Config{
		RuleGroupID: env.group, Device: "test", Band: o.band, RateLimit: rate, DryRun: o.dryRun, AllowShrink: !o.strict,
		PollInitial: 2 * time.Millisecond, PollMax: 20 * time.Millisecond, SettleTimeout: 20 * time.Second,
		Progress: progress, AfterCall: o.after, Now: env.e.Now, ImportMin: o.importMin, VerifyEvery: verify,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type quietProgress struct{}

func (quietProgress) Step(int, int, fwsync.Step) {}
func (quietProgress) Note(string, ...any)        {}

// testPolicy is a compiled test policy and its query names.
type testPolicy struct {
	texts []string
	names []string
	s     compile.Settings
}

func (p testPolicy) compileTo(t *testing.T) fwsync.CompileFunc {
	return func(max int) (*compile.Plan, error) {
		s := p.s
		s.MaxDomains = max
		plan, _ := compileZones(t, s, bindZones, p.texts)
		return plan, nil
	}
}

func randomPolicy(seed uint64, ns string, scale int) testPolicy {
	rng := rand.New(rand.NewPCG(seed, 3))
	var p testPolicy
	texts := make([]string, len(bindZones))
	seen := map[string]bool{}
	for range scale {
		g := newGenPolicy(rng, ns)
		for z := range bindZones {
			texts[z] += g.zoneText(z, false)
		}
		for _, n := range g.names {
			if !seen[n] {
				seen[n] = true
				p.names = append(p.names, n)
			}
		}
	}
	for z := range texts {
		texts[z] = dedupeOwners(texts[z])
	}
	p.texts = texts
	return p
}

// dedupeOwners keeps the first record of each owner, so merged random
// zones stay loadable.
func dedupeOwners(text string) string {
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if strings.HasPrefix(f[0], "$") || f[0] == "@" {
			if !seen[line] {
				out = append(out, line)
				seen[line] = true
			}
			continue
		}
		if seen["owner:"+f[0]] {
			continue
		}
		seen["owner:"+f[0]] = true
		out = append(out, line)
	}
	return strings.Join(out, "\n") + "\n"
}

// converged checks that the emulator answers every name as the plan does
// and that rpzfw's lists are exactly those its rules use.
func (env *syncEnv) converged(t *testing.T, plan *compile.Plan, names []string) {
	t.Helper()
	m := dnsfw.NewMatcher(plan.Rules)
	bad := 0
	for _, q := range names {
		want, got := m.Match(q).Outcome(true), env.dp.Verdict(q, "A").Outcome(true)
		if want != got {
			bad++
			if bad < 5 {
				t.Errorf("%s: emulator %s, plan %s", q, got, want)
			}
		}
	}
	ctx := context.Background()
	rules, err := env.c.ListFirewallRules(ctx, &r53r.ListFirewallRulesInput{FirewallRuleGroupId: &env.group})
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, r := range rules.FirewallRules {
		used[*r.FirewallDomainListId] = true
	}
	lists, _ := env.c.ListFirewallDomainLists(ctx, &r53r.ListFirewallDomainListsInput{})
	ours := 0
	for _, l := range lists.FirewallDomainLists {
		if strings.HasPrefix(*l.Name, "rpzfw-test-") {
			ours++
			if !used[*l.Id] {
				t.Errorf("orphan list %s (%s)", *l.Name, *l.Id)
			}
		}
	}
	// A plan rule may be deployed as several rules (parts), each with its
	// own list; never fewer.
	if ours < len(plan.Rules) || ours > len(rules.FirewallRules) {
		t.Errorf("%d rpzfw lists for %d plan rules and %d rules in the group", ours, len(plan.Rules), len(rules.FirewallRules))
	}
}

func (env *syncEnv) sync(t *testing.T, p testPolicy, o syncOpts) *fwsync.Result {
	t.Helper()
	res, err := env.syncer(t, o).Sync(context.Background(), p.compileTo(t), compile.DefaultMaxDomains)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func union(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range append(append([]string{}, a...), b...) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func TestSyncLifecycle(t *testing.T) {
	env := newSyncEnv(t, emulator.Config{})
	ctx := context.Background()
	// A hand-made rule outside rpzfw's band must survive every sync.
	foreignList, _ := env.c.CreateFirewallDomainList(ctx, &r53r.CreateFirewallDomainListInput{CreatorRequestId: aws.String("f"), Name: aws.String("hand-made")})
	env.c.UpdateFirewallDomains(ctx, &r53r.UpdateFirewallDomainsInput{FirewallDomainListId: foreignList.FirewallDomainList.Id, Operation: types.FirewallDomainUpdateOperationAdd, Domains: []string{"corp-blocked.example"}})
	if _, err := env.c.CreateFirewallRule(ctx, &r53r.CreateFirewallRuleInput{CreatorRequestId: aws.String("f"), FirewallRuleGroupId: &env.group, FirewallDomainListId: foreignList.FirewallDomainList.Id,
		Priority: aws.Int32(10), Action: types.ActionBlock, BlockResponse: types.BlockResponseNodata, Name: aws.String("hand-made")}); err != nil {
		t.Fatal(err)
	}
	a := randomPolicy(1, "p0", 4)
	res := env.sync(t, a, syncOpts{})
	planA := res.Compile
	env.converged(t, planA, a.names)
	if res.Plan.Added != planA.DomainCount || res.Plan.Removed != 0 {
		t.Errorf("first sync: added %d removed %d, plan has %d", res.Plan.Added, res.Plan.Removed, planA.DomainCount)
	}

	// Unchanged: only reads.
	res = env.sync(t, a, syncOpts{})
	if !res.Plan.Unchanged || res.Calls["UpdateFirewallDomains"] != 0 || res.TotalCalls() > 3+len(planA.Rules)+1 {
		t.Errorf("unchanged policy cost %d calls: %v", res.TotalCalls(), res.Calls)
	}

	// Incremental change: a diff, not a rewrite.
	b := randomPolicy(1, "p0", 4)
	b.texts[0] += "zz1.p0 CNAME .\n*.zz2.p0 CNAME .\n"
	res = env.sync(t, b, syncOpts{})
	env.converged(t, res.Compile, union(a.names, []string{"zz1.p0", "x.zz2.p0"}))
	if res.Plan.Added > 4 || res.Calls["CreateFirewallDomainList"] != 0 {
		t.Errorf("small change: added %d, calls %v", res.Plan.Added, res.Calls)
	}

	// Monitor-only and back: actions change in place.
	mon := b
	mon.s.MonitorOnly = true
	res = env.sync(t, mon, syncOpts{})
	env.converged(t, res.Compile, b.names)
	if res.Calls["UpdateFirewallDomains"] != 0 || res.Calls["UpdateFirewallRule"] == 0 {
		t.Errorf("monitor switch should only update rules: %v", res.Calls)
	}
	res = env.sync(t, b, syncOpts{})
	env.converged(t, res.Compile, b.names)

	// A different policy, then nothing at all.
	c := randomPolicy(7, "p0", 4)
	res = env.sync(t, c, syncOpts{})
	env.converged(t, res.Compile, union(b.names, c.names))
	empty := testPolicy{texts: []string{zoneHeader, zoneHeader, zoneHeader}}
	res = env.sync(t, empty, syncOpts{})
	env.converged(t, res.Compile, union(b.names, c.names))
	if len(res.Compile.Rules) != 0 {
		t.Fatalf("empty policy has rules")
	}
	// The hand-made rule is still there and still decides.
	if v := env.dp.Verdict("corp-blocked.example", "A"); v.Outcome(true) != "NODATA" {
		t.Errorf("hand-made rule lost: %+v", v)
	}
	out, _ := env.c.ListFirewallRules(ctx, &r53r.ListFirewallRulesInput{FirewallRuleGroupId: &env.group})
	if len(out.FirewallRules) != 1 || *out.FirewallRules[0].Name != "hand-made" {
		t.Errorf("rules left: %+v", out.FirewallRules)
	}

	// Unsync removes what rpzfw made, and only that.
	env.sync(t, a, syncOpts{})
	if _, err := env.syncer(t, syncOpts{}).Unsync(ctx); err != nil {
		t.Fatal(err)
	}
	out, _ = env.c.ListFirewallRules(ctx, &r53r.ListFirewallRulesInput{FirewallRuleGroupId: &env.group})
	lists, _ := env.c.ListFirewallDomainLists(ctx, &r53r.ListFirewallDomainListsInput{})
	if len(out.FirewallRules) != 1 || len(lists.FirewallDomainLists) != 1 {
		t.Errorf("after unsync: %d rules, %d lists", len(out.FirewallRules), len(lists.FirewallDomainLists))
	}
}

func TestSyncRefusesBandCollision(t *testing.T) {
	env := newSyncEnv(t, emulator.Config{})
	ctx := context.Background()
	l, _ := env.c.CreateFirewallDomainList(ctx, &r53r.CreateFirewallDomainListInput{CreatorRequestId: aws.String("f"), Name: aws.String("hand-made")})
	env.c.CreateFirewallRule(ctx, &r53r.CreateFirewallRuleInput{CreatorRequestId: aws.String("f"), FirewallRuleGroupId: &env.group, FirewallDomainListId: l.FirewallDomainList.Id,
		Priority: aws.Int32(5000), Action: types.ActionAlert, Name: aws.String("in-the-way")})
	_, err := env.syncer(t, syncOpts{}).Sync(ctx, randomPolicy(1, "p0", 1).compileTo(t), 1000)
	if err == nil || !strings.Contains(err.Error(), `"in-the-way" (priority 5000,`) {
		t.Fatalf("want a band collision error, got %v", err)
	}
}

// TestSyncBandAdviceWorks follows the advice of the band errors: a rule of
// someone else inside the band, or a changed band, is resolved with unsync
// (same flags) and a sync with a free band. Unsync used to refuse both
// cases with advice that led back to itself.
func TestSyncBandAdviceWorks(t *testing.T) {
	for _, tc := range []struct {
		name string
		// first is the band of the first sync; later syncs use second.
		first, second fwsync.Band
		foreign       int32 // a hand-made rule's priority, 0: none
		want          string
	}{
		{"foreign rule in the band", fwsync.DefaultBand, fwsync.Band{Lo: 20000, Hi: 30000}, 5000, "rpzfw unsync"},
		{"band changed", fwsync.DefaultBand, fwsync.Band{Lo: 20000, Hi: 30000}, 0, "the band changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newSyncEnv(t, emulator.Config{})
			ctx := context.Background()
			p := randomPolicy(1, "p0", 2)
			env.sync(t, p, syncOpts{band: tc.first})
			band := tc.first
			if tc.foreign != 0 {
				l, _ := env.c.CreateFirewallDomainList(ctx, &r53r.CreateFirewallDomainListInput{CreatorRequestId: aws.String("f"), Name: aws.String("hand-made")})
				if _, err := env.c.CreateFirewallRule(ctx, &r53r.CreateFirewallRuleInput{CreatorRequestId: aws.String("f"), FirewallRuleGroupId: &env.group, FirewallDomainListId: l.FirewallDomainList.Id,
					Priority: aws.Int32(tc.foreign), Action: types.ActionAlert, Name: aws.String("in-the-way")}); err != nil {
					t.Fatal(err)
				}
			} else {
				band = tc.second
			}
			_, err := env.syncer(t, syncOpts{band: band}).Sync(ctx, p.compileTo(t), 1000)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "rpzfw unsync") {
				t.Fatalf("sync: %v, want advice to unsync", err)
			}
			// The advice: unsync with the same flags, then sync with a free band.
			if _, err := env.syncer(t, syncOpts{band: band}).Unsync(ctx); err != nil {
				t.Fatalf("unsync, as advised: %v", err)
			}
			out, _ := env.c.ListFirewallRules(ctx, &r53r.ListFirewallRulesInput{FirewallRuleGroupId: &env.group})
			if want := map[bool]int{true: 1, false: 0}[tc.foreign != 0]; len(out.FirewallRules) != want {
				t.Fatalf("after unsync: %d rules, want %d (only the hand-made one)", len(out.FirewallRules), want)
			}
			res := env.sync(t, p, syncOpts{band: tc.second})
			env.converged(t, res.Compile, p.names)
		})
	}
}

// TestSyncUnderThrottlingAndFaults: the emulator throttles at 5/s, fails
// updates with 500s and conflicts, and a rule creation with a 500; the
// SDK's retries, the executor's conflict handling and the client-side
// limiter get the sync through.
func TestSyncUnderThrottlingAndFaults(t *testing.T) {
	env := newSyncEnv(t, emulator.Config{})
	env.e.SetFaults(emulator.Faults{ThrottleRPS: 5, Ops: map[string]emulator.OpFault{
		"UpdateFirewallDomains": {ErrorCount: 3, ConflictCount: 2},
		"CreateFirewallRule":    {ErrorCount: 1},
	}})
	p := randomPolicy(3, "p0", 2)
	res := env.sync(t, p, syncOpts{rate: 5})
	env.converged(t, res.Compile, p.names)
	st := env.e.Stats()
	if st["UpdateFirewallDomains"].Errors != 5 || st["CreateFirewallRule"].Errors != 1 {
		t.Errorf("faults were not all met: %+v", st)
	}
	throttled := 0
	for _, s := range st {
		throttled += s.Throttled
	}
	// SDK retries bypass the client-side limiter, so a few may be throttled.
	t.Logf("%d calls, %d throttled by the emulator", res.TotalCalls(), throttled)
}

func TestSyncQuotaSmallerThanPlan(t *testing.T) {
	env := newSyncEnv(t, emulator.Config{Quotas: emulator.Quotas{Domains: 120, DomainLists: 100, RulesPerGroup: 100, RuleGroups: 10}})
	ctx := context.Background()
	// Another list already uses 20 of the 120.
	other, _ := env.c.CreateFirewallDomainList(ctx, &r53r.CreateFirewallDomainListInput{CreatorRequestId: aws.String("o"), Name: aws.String("other")})
	env.c.UpdateFirewallDomains(ctx, &r53r.UpdateFirewallDomainsInput{FirewallDomainListId: other.FirewallDomainList.Id, Operation: types.FirewallDomainUpdateOperationAdd, Domains: domains("other", 20)})
	var zone strings.Builder
	zone.WriteString(zoneHeader)
	for i := range 300 {
		fmt.Fprintf(&zone, "d%d.big CNAME .\n", i)
	}
	p := testPolicy{texts: []string{zone.String(), zoneHeader, zoneHeader}}
	// The quota comes from the emulator's Service Quotas answer.
	res, err := env.syncer(t, syncOpts{serviceQuotas: true}).Sync(ctx, p.compileTo(t), compile.DefaultMaxDomains)
	if err != nil {
		t.Fatal(err)
	}
	if res.Quota != 120 || res.Other != 20 || res.MaxDomains > 100 || res.Compile.DomainCount > 100 || res.Compile.Truncated < 200 {
		t.Fatalf("quota %d: other %d, max %d, plan %d domains, truncated %d", res.Quota, res.Other, res.MaxDomains, res.Compile.DomainCount, res.Compile.Truncated)
	}
	env.converged(t, res.Compile, []string{"d1.big", "d299.big"})
	// Stated by the user, the quota works the same; the peak of a change
	// that swaps entries leaves room for old and new at once.
	q := testPolicy{texts: []string{strings.Replace(zone.String(), "d1.big", "new1.big", 1), zoneHeader, zoneHeader}}
	res, err = env.syncer(t, syncOpts{quota: 120}).Sync(ctx, q.compileTo(t), compile.DefaultMaxDomains)
	if err != nil {
		t.Fatal(err)
	}
	if res.Plan.Peak > 100 {
		t.Fatalf("peak %d over the room of 100", res.Plan.Peak)
	}
	env.converged(t, res.Compile, []string{"new1.big", "d299.big"})
}

// TestSyncCrashAnywhereConverges stops a sync after every one of its API
// calls in turn; running it again must converge with no orphans, every
// name at its old or its new outcome after each call of the rerun
// (crashAnywhere).
func TestSyncCrashAnywhereConverges(t *testing.T) {
	a, b := randomPolicy(11, "p0", 2), randomPolicy(12, "p0", 2)
	// How many calls does the A->B sync make?
	probe := newSyncEnv(t, emulator.Config{})
	probe.sync(t, a, syncOpts{})
	total := probe.sync(t, b, syncOpts{}).TotalCalls()
	crashed := crashAnywhere(t, a, b, crashCase{setup: plainSetup})
	if crashed < total/2 {
		t.Fatalf("only %d crash points for a sync of about %d calls", crashed, total)
	}
	t.Logf("crashed after each of %d calls (a sync makes about %d); every rerun converged", crashed, total)
}

// TestSyncSafeOrder checks the firewall after every API call of syncs
// that change actions, layering and priorities: every name must get its
// old outcome or its new one, never a third.
func TestSyncSafeOrder(t *testing.T) {
	moves := 0
	for seed := uint64(0); seed < 12; seed++ {
		env := newSyncEnv(t, emulator.Config{})
		a, b := randomPolicy(100+seed, "p0", 3), randomPolicy(200+seed, "p0", 3)
		planA, _ := compileZones(t, compile.Settings{}, bindZones, a.texts)
		planB, _ := compileZones(t, compile.Settings{}, bindZones, b.texts)
		// A tight band forces priority moves when layers are inserted.
		band := fwsync.Band{Lo: 1000, Hi: 1000 + len(planA.Rules) + len(planB.Rules) + int(seed%3)}
		if seed%2 == 0 {
			band = fwsync.DefaultBand
		}
		resA := env.sync(t, a, syncOpts{band: band})
		names := union(a.names, b.names)
		oldM, newM := dnsfw.NewMatcher(resA.Compile.Rules), dnsfw.NewMatcher(planB.Rules)
		calls, checks := 0, 0
		after := func(op string, err error) error {
			calls++
			for _, q := range names {
				got := env.dp.Verdict(q, "A").Outcome(true)
				if old, new := oldM.Match(q).Outcome(true), newM.Match(q).Outcome(true); got != old && got != new {
					return fmt.Errorf("after call %d (%s): %s answers %s, neither old %s nor new %s", calls, op, q, got, old, new)
				}
				checks++
			}
			return nil
		}
		res, err := env.syncer(t, syncOpts{band: band, after: after}).Sync(context.Background(), b.compileTo(t), compile.DefaultMaxDomains)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		moves += res.Calls["UpdateFirewallRule"]
		env.converged(t, planB, names)
		t.Logf("seed %d: %d calls, %d checks, old %d rules -> new %d rules", seed, calls, checks, len(resA.Compile.Rules), len(planB.Rules))
	}
	if moves == 0 {
		t.Error("no sync moved a rule: the tight bands did not exercise priority moves")
	}
}

func TestSyncDryRunChangesNothing(t *testing.T) {
	env := newSyncEnv(t, emulator.Config{})
	p := randomPolicy(5, "p0", 1)
	res, err := env.syncer(t, syncOpts{dryRun: true}).Sync(context.Background(), p.compileTo(t), compile.DefaultMaxDomains)
	if err != nil || len(res.Plan.Steps) == 0 {
		t.Fatalf("dry run: %v %+v", err, res)
	}
	for op := range res.Calls {
		if !strings.HasPrefix(op, "Get") && !strings.HasPrefix(op, "List") {
			t.Errorf("dry run made a %s call", op)
		}
	}
	lists, _ := env.c.ListFirewallDomainLists(context.Background(), &r53r.ListFirewallDomainListsInput{})
	if len(lists.FirewallDomainLists) != 0 {
		t.Errorf("dry run created lists")
	}
}

// TestSyncImportsLargeNewLists: with a staging bucket, a new list of 5000
// or more domains is filled by one ImportFirewallDomains from S3 (moto),
// not by chunks.
func TestSyncImportsLargeNewLists(t *testing.T) {
	ctx := context.Background()
	moto, s3c := startStaging(t)
	env := newSyncEnv(t, stagedEmulator(t, moto))
	var zone strings.Builder
	zone.WriteString(zoneHeader)
	for i := range 12000 {
		fmt.Fprintf(&zone, "d%05d.big CNAME .\n", i)
	}
	zone.WriteString("*.small CNAME .\nok.small CNAME rpz-passthru.\n")
	p := testPolicy{texts: []string{zone.String(), zoneHeader, zoneHeader}}
	s, err := fwsync.New(env.c, fwsync.FileStore{Dir: env.dir}, fwsync.S3Staging{API: s3c, Bucket: "staging"}, nil, fwsync.Config{
		RuleGroupID: env.group, Device: "test", RateLimit: -1, PollInitial: 2 * time.Millisecond, PollMax: 20 * time.Millisecond, Progress: quietProgress{},
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Sync(ctx, p.compileTo(t), compile.DefaultMaxDomains)
	if err != nil {
		t.Fatal(err)
	}
	if res.Calls["ImportFirewallDomains"] != 1 || res.Calls["UpdateFirewallDomains"] > 3 {
		t.Fatalf("calls: %v", res.Calls)
	}
	env.converged(t, res.Compile, []string{"d00000.big", "d11999.big", "x.small", "ok.small", "x.ok.small"})
	// The next sync is a diff again, from what the import left.
	p.texts[0] = strings.Replace(p.texts[0], "d00000.big", "changed.big", 1)
	res, err = s.Sync(ctx, p.compileTo(t), compile.DefaultMaxDomains)
	if err != nil {
		t.Fatal(err)
	}
	if res.Plan.Added != 1 || res.Plan.Removed != 1 || res.Calls["ImportFirewallDomains"] != 0 {
		t.Fatalf("after the import: added %d removed %d calls %v", res.Plan.Added, res.Plan.Removed, res.Calls)
	}
	env.converged(t, res.Compile, []string{"d00000.big", "changed.big"})
}
