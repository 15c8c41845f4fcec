package fwsync

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver/types"
	"github.com/aws/smithy-go"

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
	Progress    Progress
	// AfterCall runs after every API call; an error it returns stops the
	// sync (tests use it to inspect the firewall and to crash on purpose).
	AfterCall func(op string, err error) error
}

// Syncer syncs one rule group.
type Syncer struct {
	// lastSettle is how long the last list took to settle (nanoseconds).
	lastSettle atomic.Int64
	cfg        Config
	api        API
	calls      *calls
	store      StateStore
	staging    Staging
	quota      QuotaSource
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
		cfg.Progress = LogProgress{}
	}
	s := &Syncer{cfg: cfg, api: api, store: store, staging: staging, quota: quota}
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

// LowerBound is the fewest update calls any diff-based sync could make:
// ceil(added/1000) + ceil(removed/1000).
func (r *Result) LowerBound() int {
	return int(math.Ceil(float64(r.Plan.Added)/1000) + math.Ceil(float64(r.Plan.Removed)/1000))
}

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
	res := &Result{Other: obs.OtherDomains, MaxDomains: maxDomains, DryRun: s.cfg.DryRun}
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
	if budget < maxDomains {
		// Keep a little room: a later change must hold old and new entries
		// at once for a moment (make before break).
		headroom := min(max(budget/50, 1), 2000)
		s.cfg.Progress.Note("the quota is smaller than the plan may be: planning to what is left, less room for safe changes",
			"quota", res.Quota, "used_by_others", obs.OtherDomains, "headroom", headroom, "max_domains", budget-headroom)
		res.MaxDomains = budget - headroom
	}
	var plan Plan
	for attempt := 0; ; attempt++ {
		if res.MaxDomains < 1 {
			return nil, mark(ErrQuota, fmt.Errorf("no domains left in the quota (%d, of which other lists use %d)", res.Quota, obs.OtherDomains))
		}
		cp, err := compileTo(res.MaxDomains)
		if err != nil {
			return nil, err
		}
		res.Compile = cp
		plan, err = MakePlan(obs, DesiredFromPlan(cp.Rules, MaxListSize), s.planOptions())
		if err != nil {
			return nil, err
		}
		if plan.Peak <= budget || attempt == 4 {
			break
		}
		// Make-before-break holds old and new entries at once; leave room.
		next := res.MaxDomains - (plan.Peak - budget)
		s.cfg.Progress.Note("the safe transition needs room for old and new entries at once: planning smaller", "peak", plan.Peak, "room", budget, "max_domains", next)
		res.MaxDomains = next
	}
	if plan.Peak > budget {
		return nil, mark(ErrQuota, fmt.Errorf("the transition needs %d domains at its peak but only %d are available; lower --max-domains or raise the quota", plan.Peak, budget))
	}
	if err := s.checkShrink(obs, res.Compile); err != nil {
		return nil, err
	}
	res.Plan = plan
	if s.cfg.DryRun {
		res.Calls, res.Took = s.calls.Counts(), time.Since(start)
		return res, nil
	}
	if err := s.execute(ctx, plan, st); err != nil {
		res.Calls, res.Took = s.calls.Counts(), time.Since(start)
		return res, err
	}
	res.Calls, res.Took = s.calls.Counts(), time.Since(start)
	return res, nil
}

// Unsync removes every rule and list rpzfw owns in the group.
func (s *Syncer) Unsync(ctx context.Context) (*Result, error) {
	start := time.Now()
	unlock, obs, st, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
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

func (s *Syncer) planOptions() Options {
	return Options{Band: s.cfg.Band, ImportMin: s.cfg.ImportMin,
		NewListName: func(i int) string { return fmt.Sprintf("%s-%s-<new %d>", s.cfg.Prefix, s.cfg.Device, i+1) }}
}

// --- observing ---

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// Locker is a StateStore that can keep two syncs of one device apart.
type Locker interface {
	Lock() (unlock func(), err error)
}

func (s *Syncer) observe(ctx context.Context) (Observed, *State, error) {
	var obs Observed
	st, err := s.store.Load(ctx)
	if err != nil {
		return obs, nil, err
	}
	if st.RuleGroupID != "" && st.RuleGroupID != s.cfg.RuleGroupID {
		return obs, nil, fmt.Errorf("the sync state belongs to rule group %s, not %s: use another --state-dir", st.RuleGroupID, s.cfg.RuleGroupID)
	}
	st.Device, st.RuleGroupID = s.cfg.Device, s.cfg.RuleGroupID
	group := s.cfg.RuleGroupID
	err = s.calls.do(ctx, "GetFirewallRuleGroup", func() error {
		_, err := s.api.GetFirewallRuleGroup(ctx, &r53r.GetFirewallRuleGroupInput{FirewallRuleGroupId: &group})
		return err
	})
	if err != nil {
		if apiCode(err) == "ResourceNotFoundException" {
			return obs, nil, mark(ErrRuleGroupNotFound, fmt.Errorf("rule group %s does not exist in this account and region: create one, associate it with your VPCs, and sync into its ID:\n"+
				"  aws route53resolver create-firewall-rule-group --name rpzfw --region REGION\n"+
				"  aws route53resolver associate-firewall-rule-group --firewall-rule-group-id rslvr-frg-... --vpc-id vpc-... --priority 101 --name rpzfw --region REGION", group))
		}
		return obs, nil, fmt.Errorf("reading rule group %s: %w", group, err)
	}
	var rules []types.FirewallRule
	for token := (*string)(nil); ; {
		var out *r53r.ListFirewallRulesOutput
		err := s.calls.do(ctx, "ListFirewallRules", func() (err error) {
			out, err = s.api.ListFirewallRules(ctx, &r53r.ListFirewallRulesInput{FirewallRuleGroupId: &group, NextToken: token, MaxResults: aws.Int32(100)})
			return err
		})
		if err != nil {
			return obs, nil, fmt.Errorf("listing the rules of %s: %w", group, err)
		}
		rules = append(rules, out.FirewallRules...)
		if token = out.NextToken; token == nil {
			break
		}
	}
	var lists []types.FirewallDomainListMetadata
	for token := (*string)(nil); ; {
		var out *r53r.ListFirewallDomainListsOutput
		err := s.calls.do(ctx, "ListFirewallDomainLists", func() (err error) {
			out, err = s.api.ListFirewallDomainLists(ctx, &r53r.ListFirewallDomainListsInput{NextToken: token, MaxResults: aws.Int32(100)})
			return err
		})
		if err != nil {
			return obs, nil, fmt.Errorf("listing domain lists: %w", err)
		}
		lists = append(lists, out.FirewallDomainLists...)
		if token = out.NextToken; token == nil {
			break
		}
	}
	exists := map[string]types.FirewallDomainListMetadata{}
	for _, l := range lists {
		exists[aws.ToString(l.Id)] = l
	}
	for id := range st.Lists {
		if _, ok := exists[id]; !ok {
			delete(st.Lists, id) // deleted by someone, or by a sync that stopped
			_ = s.store.DeleteDomains(ctx, id)
		}
	}
	namePrefix := fmt.Sprintf("%s-%s-", s.cfg.Prefix, s.cfg.Device)
	for _, l := range lists {
		id := aws.ToString(l.Id)
		if _, known := st.Lists[id]; known || !strings.HasPrefix(aws.ToString(l.Name), namePrefix) {
			continue
		}
		// A list of ours the state does not know: a sync stopped right
		// after creating it. Tags say whether it is really ours.
		var tags *r53r.ListTagsForResourceOutput
		err := s.calls.do(ctx, "ListTagsForResource", func() (err error) {
			tags, err = s.api.ListTagsForResource(ctx, &r53r.ListTagsForResourceInput{ResourceArn: l.Arn})
			return err
		})
		if err != nil {
			return obs, nil, fmt.Errorf("reading the tags of %s: %w", id, err)
		}
		tm := map[string]string{}
		for _, t := range tags.Tags {
			tm[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		if tm[TagManaged] == "true" && tm[TagDevice] == s.cfg.Device {
			st.Lists[id] = &ListRecord{ID: id, Name: aws.ToString(l.Name), Dirty: true}
		}
	}
	content := map[string][]string{}
	for id, rec := range st.Lists {
		count, err := s.settle(ctx, id, false)
		if err != nil {
			return obs, nil, err
		}
		var doms []string
		if !rec.Dirty && count == rec.Count {
			doms, err = s.store.LoadDomains(ctx, id)
			if err != nil {
				s.cfg.Progress.Note("saved content unreadable; reading the list back", "list", id, "err", err)
			}
		}
		if doms == nil && count > 0 {
			s.cfg.Progress.Note("reading a list back in full", "list", rec.Name, "domains", count)
			if doms, err = s.readList(ctx, id); err != nil {
				return obs, nil, err
			}
			if err := s.store.SaveDomains(ctx, id, doms); err != nil {
				return obs, nil, err
			}
		}
		rec.Count, rec.Dirty = len(doms), false
		content[id] = doms
	}
	others, err := s.otherDomains(ctx, st, lists)
	if err != nil {
		return obs, nil, err
	}
	obs.OtherDomains = others
	used := map[string]bool{}
	for _, r := range rules {
		id := aws.ToString(r.FirewallDomainListId)
		rec, ours := st.Lists[id]
		if !ours {
			obs.Foreign = append(obs.Foreign, ForeignRule{Name: aws.ToString(r.Name), ListID: id, Priority: int(aws.ToInt32(r.Priority))})
			continue
		}
		used[id] = true
		spec := RuleSpec{Name: aws.ToString(r.Name), Action: string(r.Action), BlockResponse: string(r.BlockResponse),
			OverrideDomain: aws.ToString(r.BlockOverrideDomain), OverrideType: string(r.BlockOverrideDnsType), OverrideTTL: -1}
		if r.BlockOverrideTtl != nil {
			spec.OverrideTTL = int(*r.BlockOverrideTtl)
		}
		obs.Owned = append(obs.Owned, OwnedRule{ListID: id, ListName: rec.Name, Priority: int(aws.ToInt32(r.Priority)), Spec: spec, Domains: content[id]})
	}
	slices.SortFunc(obs.Owned, func(a, b OwnedRule) int { return a.Priority - b.Priority })
	for id, rec := range st.Lists {
		if !used[id] {
			obs.Orphans = append(obs.Orphans, OrphanList{ID: id, Name: rec.Name})
		}
	}
	slices.SortFunc(obs.Orphans, func(a, b OrphanList) int { return strings.Compare(a.ID, b.ID) })
	if !s.cfg.DryRun {
		if err := s.store.Save(ctx, st); err != nil {
			return obs, nil, err
		}
	}
	return obs, st, nil
}

// OthersTTL is how long a count of the domains other lists use is trusted
// while the set of those lists stays the same: counting costs a call per
// list, and an account may hold a thousand.
const OthersTTL = time.Hour

// otherDomains counts the domains of lists that are not rpzfw's (AWS
// managed lists do not count), from the state when the same lists were
// counted less than OthersTTL ago.
func (s *Syncer) otherDomains(ctx context.Context, st *State, lists []types.FirewallDomainListMetadata) (int, error) {
	var ids []string
	for _, l := range lists {
		id := aws.ToString(l.Id)
		if _, ours := st.Lists[id]; !ours && aws.ToString(l.ManagedOwnerName) == "" {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	key := strings.Join(ids, ",")
	if st.Others != nil && st.Others.Lists == key && time.Since(st.Others.At) < OthersTTL {
		return st.Others.Domains, nil
	}
	total := 0
	for _, id := range ids {
		var out *r53r.GetFirewallDomainListOutput
		err := s.calls.do(ctx, "GetFirewallDomainList", func() (err error) {
			out, err = s.api.GetFirewallDomainList(ctx, &r53r.GetFirewallDomainListInput{FirewallDomainListId: &id})
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("reading domain list %s: %w", id, err)
		}
		total += int(aws.ToInt32(out.FirewallDomainList.DomainCount))
	}
	st.Others = &OthersCount{Lists: key, Domains: total, At: time.Now()}
	return total, nil
}

// readList reads a list in full, 5000 names a page.
func (s *Syncer) readList(ctx context.Context, id string) ([]string, error) {
	var out []string
	for token := (*string)(nil); ; {
		var page *r53r.ListFirewallDomainsOutput
		err := s.calls.do(ctx, "ListFirewallDomains", func() (err error) {
			page, err = s.api.ListFirewallDomains(ctx, &r53r.ListFirewallDomainsInput{FirewallDomainListId: &id, MaxResults: aws.Int32(5000), NextToken: token})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("reading domain list %s: %w", id, err)
		}
		for _, d := range page.Domains {
			out = append(out, dnsfw.NormalizeDomain(d))
		}
		if token = page.NextToken; token == nil {
			break
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// firstPollDelay is how long to wait after a change before looking at the
// list again, tuned by what came of earlier waits.
func (s *Syncer) firstPollDelay() time.Duration {
	if learned := time.Duration(s.lastSettle.Load()); learned > 0 {
		return min(max(learned, time.Millisecond), s.cfg.PollMax)
	}
	return s.cfg.PollInitial
}

// tuneFirstPoll shortens the wait a little after it sufficed, and lengthens
// it after it did not.
func (s *Syncer) tuneFirstPoll(sufficed bool) {
	d := s.firstPollDelay()
	if sufficed {
		d = d * 97 / 100
	} else {
		d = d * 13 / 10
	}
	s.lastSettle.Store(int64(max(d, time.Millisecond)))
}

// settle waits until a list is COMPLETE and returns its domain count. For a
// list just changed (fresh), the first poll waits the tuned delay, so a
// steady stream of updates costs about one poll each.
func (s *Syncer) settle(ctx context.Context, id string, fresh bool) (int, error) {
	delay := s.cfg.PollInitial
	if fresh {
		delay = s.firstPollDelay()
		if err := sleep(ctx, delay); err != nil {
			return 0, err
		}
	}
	deadline := time.Now().Add(s.cfg.SettleTimeout)
	for polls := 1; ; polls++ {
		var out *r53r.GetFirewallDomainListOutput
		err := s.calls.do(ctx, "GetFirewallDomainList", func() (err error) {
			out, err = s.api.GetFirewallDomainList(ctx, &r53r.GetFirewallDomainListInput{FirewallDomainListId: &id})
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("reading domain list %s: %w", id, err)
		}
		l := out.FirewallDomainList
		switch l.Status {
		case types.FirewallDomainListStatusComplete:
			if fresh {
				s.tuneFirstPoll(polls == 1)
			}
			return int(aws.ToInt32(l.DomainCount)), nil
		case types.FirewallDomainListStatusCompleteImportFailed:
			return int(aws.ToInt32(l.DomainCount)), fmt.Errorf("importing into domain list %s failed: %s", id, aws.ToString(l.StatusMessage))
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("domain list %s is still %s after %s", id, l.Status, s.cfg.SettleTimeout)
		}
		if err := sleep(ctx, delay); err != nil {
			return 0, err
		}
		delay = min(s.cfg.PollMax, delay*3/2)
	}
}
