package fwsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver/types"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/dnsfw"
)

// Tags rpzfw puts on the lists it owns.
const (
	TagManaged   = "rpzfw:managed"
	TagDevice    = "rpzfw:device"
	TagRuleGroup = "rpzfw:rule-group"
)

// Config configures a Syncer. Zero values take the defaults.
type Config struct {
	RuleGroupID string
	// Device names this rule group in tags, list names and state
	// (default: the rule group ID).
	Device string
	Band   Band
	// Prefix starts the names of rpzfw's lists (default "rpzfw").
	Prefix string
	// RateLimit is the most API calls per second (default 5, the AWS
	// limit per account and region).
	RateLimit float64
	// Limiter, when set, paces calls instead of RateLimit: the service
	// shares one among the devices of an account and region.
	Limiter Limiter
	// Tuner, when set, is the settle tuning to use and add to: the
	// service shares one among the devices of an account and region, so
	// what one device's syncs learn of the service's settle time the
	// others start from, rather than each paying for its own misses.
	Tuner *SettleTuner
	// ImportMin is the size from which a new list is imported from the
	// staging bucket (default 5000; only with a Staging).
	ImportMin int
	// SettleTimeout bounds one wait for a list to be COMPLETE (default 15
	// minutes); PollInitial and PollMax bound the backoff between polls.
	SettleTimeout, PollInitial, PollMax time.Duration
	DryRun                              bool
	// AllowShrink lets a sync remove more than half of what is deployed;
	// without it such a sync stops, since an empty or truncated source is
	// far likelier than a policy that lost most of itself.
	AllowShrink bool
	// Progress hears each step and note; nil: LogProgress to Log.
	Progress Progress
	// Log receives the steps and notes when Progress is nil (nil: see
	// LogProgress).
	Log *slog.Logger
	// AfterCall runs after every API call; an error it returns stops the
	// sync (tests use it to inspect the firewall and to crash on purpose).
	AfterCall func(op string, err error) error
	// Now is the clock that lists' CreationTime is compared with (default
	// time.Now).
	Now func() time.Time
	// VerifyEvery is how long a clean list whose ModificationTime the
	// service confirmed is trusted without asking again (default
	// DefaultVerifyEvery; negative: ask every sync). Each sync still asks
	// about the one list confirmed longest ago, so an edit by someone else
	// is noticed within VerifyEvery or as many syncs as there are lists,
	// whichever comes first.
	VerifyEvery time.Duration
}

// DefaultVerifyEvery is how long a clean list is trusted by default.
const DefaultVerifyEvery = time.Hour

// Syncer syncs one rule group.
type Syncer struct {
	// tuner learns the wait after a change before looking at the list.
	tuner   *SettleTuner
	cfg     Config
	api     API
	calls   *calls
	store   StateStore
	staging Staging
	quota   QuotaSource
	// reusable are the orphans the current sync may refill (observe
	// finds them), seen what observe read, deferred the list to ask about
	// before saying nothing changed.
	reusable []orphanContent
	seen     *seen
	deferred string
}

// New makes a Syncer. staging and quota may be nil.
func New(api API, store StateStore, staging Staging, quota QuotaSource, cfg Config) (*Syncer, error) {
	if cfg.RuleGroupID == "" {
		return nil, errors.New("a rule group ID is required")
	}
	if cfg.Device == "" {
		cfg.Device = cfg.RuleGroupID
	}
	if cfg.Band == (Band{}) {
		cfg.Band = DefaultBand
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "rpzfw"
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = 5
	}
	if cfg.ImportMin == 0 {
		cfg.ImportMin = 5000
	}
	if staging == nil {
		cfg.ImportMin = 0
	}
	if cfg.SettleTimeout == 0 {
		cfg.SettleTimeout = 15 * time.Minute
	}
	if cfg.PollInitial == 0 {
		cfg.PollInitial = 500 * time.Millisecond
	}
	if cfg.PollMax == 0 {
		cfg.PollMax = 5 * time.Second
	}
	if cfg.Progress == nil {
		cfg.Progress = LogProgress{Log: cfg.Log}
	}
	if cfg.VerifyEvery == 0 {
		cfg.VerifyEvery = DefaultVerifyEvery
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Syncer{cfg: cfg, api: api, store: store, staging: staging, quota: quota, tuner: cfg.Tuner}
	if s.tuner == nil {
		s.tuner = NewSettleTuner()
	}
	lim := cfg.Limiter
	if lim == nil {
		lim = newLimiter(cfg.RateLimit)
	}
	s.calls = &calls{api: api, lim: lim, count: map[string]int{}, after: cfg.AfterCall}
	return s, nil
}

// Result says what a sync did.
type Result struct {
	Plan    Plan
	Calls   map[string]int
	Took    time.Duration
	Compile *compile.Plan
	// Quota is the domains quota, Other the domains other lists use,
	// MaxDomains what the plan was compiled to.
	Quota, Other, MaxDomains int
	DryRun                   bool
}

// TotalCalls adds up the API calls.
func (r *Result) TotalCalls() int {
	n := 0
	for _, c := range r.Calls {
		n += c
	}
	return n
}

// LowerBound is the fewest update calls any diff-based sync could make
// for the plan's changes: one per list per 1000 domains it gains or loses
// (see Bounds).
func (r *Result) LowerBound() int { return PlanBounds(r.Plan).Updates }

// Floor is the fewest calls a safe, diff-based sync could make for the
// plan's changes (see Bounds).
func (r *Result) Floor() int { return PlanBounds(r.Plan).Calls }

// CompileFunc compiles the policy to at most maxDomains domains.
type CompileFunc func(maxDomains int) (*compile.Plan, error)

// Sync makes the rule group match the policy. maxDomains is the user's
// cap; the quota left by other lists and the room a safe transition needs
// can lower it, and the result says so.
func (s *Syncer) Sync(ctx context.Context, compileTo CompileFunc, maxDomains int) (*Result, error) {
	start := time.Now()
	unlock, obs, st, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s.resumeTuning(st)
	res := &Result{Other: obs.OtherDomains, MaxDomains: maxDomains, DryRun: s.cfg.DryRun}
	budget := s.budget(ctx, res, obs)
	plan, err := s.planWithin(obs, compileTo, res, budget)
	if err != nil {
		return nil, err
	}
	plan, err = s.confirmUnchanged(ctx, st, plan, func(o Observed) (Plan, error) {
		obs = o
		return s.planWithin(obs, compileTo, res, budget)
	})
	if err != nil {
		return nil, err
	}
	if err := s.checkShrink(obs, res.Compile); err != nil {
		return nil, err
	}
	res.Plan = plan
	if !s.cfg.DryRun {
		err = s.execute(ctx, plan, st)
	}
	res.Calls, res.Took = s.calls.Counts(), time.Since(start)
	return res, err
}

// checkSorted refuses rules whose domains are not sorted and distinct:
// the planner diffs sorted slices, and would otherwise send wrong
// changes. Compiled plans always are; this guards other callers.
func checkSorted(rules []dnsfw.Rule) error {
	for _, r := range rules {
		for i := 1; i < len(r.Domains); i++ {
			if r.Domains[i-1] >= r.Domains[i] {
				return fmt.Errorf("rule %s: domains must be sorted and distinct, but %q comes before %q", r.Name, r.Domains[i-1], r.Domains[i])
			}
		}
	}
	return nil
}

// budget reads the domains quota into res and returns the room other
// lists leave in it. When that room is below res.MaxDomains, the plan is
// capped to it, less some headroom.
func (s *Syncer) budget(ctx context.Context, res *Result, obs Observed) int {
	res.Quota = compile.DefaultMaxDomains
	if s.quota != nil {
		q, err := s.quota.DomainsQuota(ctx)
		if err != nil {
			s.cfg.Progress.Note("could not read the domains quota; assuming the default", "default", res.Quota, "err", err)
		} else {
			res.Quota = q
		}
	}
	budget := res.Quota - obs.OtherDomains
	if budget < res.MaxDomains {
		// Keep a little room: a later change must hold old and new entries
		// at once for a moment (make before break).
		headroom := min(max(budget/50, 1), 2000)
		s.cfg.Progress.Note("the quota is smaller than the plan may be: planning to what is left, less room for safe changes",
			"quota", res.Quota, "used_by_others", obs.OtherDomains, "headroom", headroom, "max_domains", budget-headroom)
		res.MaxDomains = budget - headroom
	}
	return budget
}

// planWithin compiles to res.MaxDomains and plans the change, compiling
// smaller (at most four times) while the transition's peak, which holds
// old and new entries at once, does not fit budget. It records the
// compiled plan and the final cap in res.
func (s *Syncer) planWithin(obs Observed, compileTo CompileFunc, res *Result, budget int) (Plan, error) {
	var plan Plan
	for attempt := 0; ; attempt++ {
		if res.MaxDomains < 1 {
			return Plan{}, mark(ErrQuota, fmt.Errorf("no domains left in the quota (%d, of which other lists use %d)", res.Quota, obs.OtherDomains))
		}
		cp, err := compileTo(res.MaxDomains)
		if err != nil {
			return Plan{}, err
		}
		if err := checkSorted(cp.Rules); err != nil {
			return Plan{}, err
		}
		res.Compile = cp
		plan, err = MakePlan(obs, DesiredFromPlan(cp.Rules, obs, s.parts()), s.planOptions())
		if err != nil {
			return Plan{}, err
		}
		plan = reuseOrphans(plan, s.reusable, 1000)
		if plan.Peak <= budget || attempt == 4 {
			break
		}
		// Make-before-break holds old and new entries at once; leave room.
		next := res.MaxDomains - (plan.Peak - budget)
		s.cfg.Progress.Note("the safe transition needs room for old and new entries at once: planning smaller", "peak", plan.Peak, "room", budget, "max_domains", next)
		res.MaxDomains = next
	}
	if plan.Peak > budget {
		return Plan{}, mark(ErrQuota, fmt.Errorf("the transition needs %d domains at its peak but only %d are available; lower --max-domains or raise the quota", plan.Peak, budget))
	}
	return plan, nil
}

// Unsync removes every rule and list rpzfw owns in the group.
func (s *Syncer) Unsync(ctx context.Context) (*Result, error) {
	start := time.Now()
	unlock, obs, st, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s.resumeTuning(st)
	plan, err := MakePlan(obs, nil, s.planOptions())
	if err != nil {
		return nil, err
	}
	res := &Result{Plan: plan, DryRun: s.cfg.DryRun}
	if !s.cfg.DryRun {
		err = s.execute(ctx, plan, st)
	}
	res.Calls, res.Took = s.calls.Counts(), time.Since(start)
	return res, err
}

// checkShrink refuses a plan that would take away more than half of what
// rpzfw has deployed, unless the user said it is intended.
func (s *Syncer) checkShrink(obs Observed, cp *compile.Plan) error {
	deployed := 0
	for _, r := range obs.Owned {
		deployed += len(r.Domains)
	}
	if s.cfg.AllowShrink || deployed == 0 || cp.DomainCount*2 >= deployed {
		return nil
	}
	return mark(ErrShrink, fmt.Errorf("the new plan holds %d domains where %d are deployed: a drop of %d%%, more likely a broken or empty source than a real change; nothing was changed (run again with --allow-shrink if it is intended, or 'rpzfw unsync' to remove everything)",
		cp.DomainCount, deployed, 100-cp.DomainCount*100/deployed))
}

// begin starts a sync or unsync: fresh call counts, the device's lock, and
// the rule group as it stands.
func (s *Syncer) begin(ctx context.Context) (unlock func(), obs Observed, st *State, err error) {
	s.calls.reset()
	s.reusable, s.seen, s.deferred = nil, nil, ""
	if unlock, err = s.lock(); err != nil {
		return nil, obs, nil, err
	}
	if obs, st, err = s.observe(ctx); err != nil {
		unlock()
		return nil, obs, nil, err
	}
	return unlock, obs, st, nil
}

func (s *Syncer) lock() (func(), error) {
	if l, ok := s.store.(Locker); ok && !s.cfg.DryRun {
		return l.Lock()
	}
	return func() {}, nil
}

func (s *Syncer) now() time.Time { return s.cfg.Now() }

func (s *Syncer) planOptions() Options {
	return Options{Band: s.cfg.Band, ImportMin: s.cfg.ImportMin,
		NewListName: func(i int) string { return fmt.Sprintf("%s-%s-<new %d>", s.cfg.Prefix, s.cfg.Device, i+1) }}
}

// --- observing ---

// Locker is a StateStore that can keep two syncs of one device apart.
type Locker interface {
	Lock() (unlock func(), err error)
}

// firstPollDelay is how long to wait after a change before looking at the
// list again, tuned by what came of earlier waits.
func (s *Syncer) firstPollDelay() time.Duration {
	return s.tuner.get(s.cfg.PollInitial, s.cfg.PollMax)
}

// resumeTuning starts from the settle delay an earlier run of this device
// learned, rather than from PollInitial in every run.
func (s *Syncer) resumeTuning(st *State) { s.tuner.load(st) }

// saveTuning records what this run learned in the state.
func (s *Syncer) saveTuning(st *State) { s.tuner.save(st) }

// listStatus is what a settled list's GetFirewallDomainList said.
type listStatus struct {
	count int
	// modified is the list's ModificationTime: it changes with every
	// change to the list, whoever makes it.
	modified string
}

// settle waits until a list is COMPLETE and returns its count and
// modification time. For a list just changed (fresh), the first poll comes
// the tuned delay after the change (changed; time spent on other lists
// meanwhile counts), so a steady stream of updates costs about one poll
// each.
func (s *Syncer) settle(ctx context.Context, id string, fresh bool, changed time.Time) (listStatus, error) {
	delay := s.cfg.PollInitial
	if changed.IsZero() {
		changed = time.Now()
	}
	var notYet time.Duration // the latest time after the change the list was seen settling
	if fresh {
		first := s.firstPollDelay()
		wait := first - time.Since(changed)
		if err := sleep(ctx, wait); err != nil {
			return listStatus{}, err
		}
		// When the tuned delay did not suffice the list is most likely
		// about to settle: look again soon, then back off.
		delay = max(first/4, time.Millisecond)
	}
	deadline := time.Now().Add(s.cfg.SettleTimeout)
	for polls := 1; ; polls++ {
		var out *r53r.GetFirewallDomainListOutput
		var asked time.Duration // measured once the rate limit lets the call go
		err := s.calls.do(ctx, "GetFirewallDomainList", func() (err error) {
			asked = time.Since(changed)
			out, err = s.api.GetFirewallDomainList(ctx, &r53r.GetFirewallDomainListInput{FirewallDomainListId: &id})
			return err
		})
		if err != nil {
			return listStatus{}, fmt.Errorf("reading domain list %s: %w", id, err)
		}
		l := out.FirewallDomainList
		st := listStatus{count: int(aws.ToInt32(l.DomainCount)), modified: aws.ToString(l.ModificationTime)}
		switch l.Status {
		case types.FirewallDomainListStatusComplete:
			if fresh {
				if polls == 1 {
					s.tuner.sufficed(s.cfg.PollInitial, asked)
				} else {
					s.tuner.missed(s.cfg.PollInitial, notYet)
				}
			}
			return st, nil
		case types.FirewallDomainListStatusCompleteImportFailed:
			// Settled, but not with what was imported: callers read the
			// list back and repair it by updates.
			return st, &importFailedError{list: id, msg: aws.ToString(l.StatusMessage)}
		}
		notYet = asked
		if time.Now().After(deadline) {
			return listStatus{}, fmt.Errorf("domain list %s is still %s after %s", id, l.Status, s.cfg.SettleTimeout)
		}
		if err := sleep(ctx, delay); err != nil {
			return listStatus{}, err
		}
		delay = min(s.cfg.PollMax, delay*3/2)
	}
}

// importFailedError: a list settled in COMPLETE_IMPORT_FAILED. It holds
// what the service kept, not what was imported; the list still takes
// updates, so it is read back and repaired, never left to block a sync.
type importFailedError struct{ list, msg string }

func (e *importFailedError) Error() string {
	return fmt.Sprintf("importing into domain list %s failed: %s", e.list, e.msg)
}
