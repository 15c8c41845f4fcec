package fwsync

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver/types"

	"github.com/rpzfw/rpzfw/internal/dnsfw"
	"github.com/rpzfw/rpzfw/internal/paging"
)

// observe reads the rule group as it stands: its rules, the account's
// lists, and the content of ours (from the state when it can be trusted,
// read back otherwise). The state is brought up to date with what it
// finds, and saved unless this is a dry run.
func (s *Syncer) observe(ctx context.Context) (Observed, *State, error) {
	st, err := s.loadState(ctx)
	if err != nil {
		return Observed{}, nil, err
	}
	// A state that has seen the group needs no GetFirewallRuleGroup: if
	// the group is gone, ListFirewallRules says so in the same words.
	if len(st.Lists) == 0 {
		if err := s.checkGroup(ctx); err != nil {
			return Observed{}, nil, err
		}
	}
	rules, lists, err := s.listGroup(ctx)
	if err != nil {
		return Observed{}, nil, err
	}
	s.forgetVanished(ctx, st, lists)
	aged, err := s.adoptLists(ctx, st, lists, rules)
	if err != nil {
		return Observed{}, nil, err
	}
	content, err := s.readContents(ctx, st)
	if err != nil {
		return Observed{}, nil, err
	}
	others, err := s.otherDomains(ctx, st, lists)
	if err != nil {
		return Observed{}, nil, err
	}
	s.seen = &seen{rules: rules, content: content, others: others, aged: aged}
	obs := s.seen.observed(s, st)
	if !s.cfg.DryRun {
		if err := s.store.Save(ctx, st); err != nil {
			return Observed{}, nil, err
		}
	}
	return obs, st, nil
}

// loadState reads the state and checks that it is this rule group's.
func (s *Syncer) loadState(ctx context.Context) (*State, error) {
	st, err := s.store.Load(ctx)
	if err != nil {
		return nil, err
	}
	if st.RuleGroupID != "" && st.RuleGroupID != s.cfg.RuleGroupID {
		return nil, fmt.Errorf("the sync state belongs to rule group %s, not %s: use another --state-dir", st.RuleGroupID, s.cfg.RuleGroupID)
	}
	st.Device, st.RuleGroupID = s.cfg.Device, s.cfg.RuleGroupID
	return st, nil
}

// checkGroup makes sure the rule group exists, and says how to make one
// when it does not.
func (s *Syncer) checkGroup(ctx context.Context) error {
	group := s.cfg.RuleGroupID
	err := s.calls.do(ctx, "GetFirewallRuleGroup", func() error {
		_, err := s.api.GetFirewallRuleGroup(ctx, &r53r.GetFirewallRuleGroupInput{FirewallRuleGroupId: &group})
		return err
	})
	if err == nil {
		return nil
	}
	return s.groupError(err)
}

// groupError explains an error reading the rule group; a group that does
// not exist gets the commands that make one.
func (s *Syncer) groupError(err error) error {
	group := s.cfg.RuleGroupID
	if isA[*types.ResourceNotFoundException](err) {
		return mark(ErrRuleGroupNotFound, fmt.Errorf("rule group %s does not exist in this account and region: create one, associate it with your VPCs, and sync into its ID:\n"+
			"  aws route53resolver create-firewall-rule-group --name rpzfw --region REGION\n"+
			"  aws route53resolver associate-firewall-rule-group --firewall-rule-group-id rslvr-frg-... --vpc-id vpc-... --priority 101 --name rpzfw --region REGION", group))
	}
	return fmt.Errorf("reading rule group %s: %w", group, err)
}

// listAll reads every page of the List* operation op, each call paced and
// counted.
func listAll[T any](ctx context.Context, c *calls, op string, page func(token *string) ([]T, *string, error)) ([]T, error) {
	return paging.All(func(token *string) (items []T, next *string, err error) {
		err = c.do(ctx, op, func() error {
			var perr error
			items, next, perr = page(token)
			return perr
		})
		return items, next, err
	})
}

// listGroup reads the rules of the group and the domain lists of the
// account and region.
func (s *Syncer) listGroup(ctx context.Context) ([]types.FirewallRule, []types.FirewallDomainListMetadata, error) {
	group := s.cfg.RuleGroupID
	rules, err := listAll(ctx, s.calls, "ListFirewallRules", func(token *string) ([]types.FirewallRule, *string, error) {
		out, err := s.api.ListFirewallRules(ctx, &r53r.ListFirewallRulesInput{FirewallRuleGroupId: &group, NextToken: token, MaxResults: aws.Int32(100)})
		if err != nil {
			return nil, nil, err
		}
		return out.FirewallRules, out.NextToken, nil
	})
	if isA[*types.ResourceNotFoundException](err) {
		return nil, nil, s.groupError(err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("listing the rules of %s: %w", group, err)
	}
	lists, err := listAll(ctx, s.calls, "ListFirewallDomainLists", func(token *string) ([]types.FirewallDomainListMetadata, *string, error) {
		out, err := s.api.ListFirewallDomainLists(ctx, &r53r.ListFirewallDomainListsInput{NextToken: token, MaxResults: aws.Int32(100)})
		if err != nil {
			return nil, nil, err
		}
		return out.FirewallDomainLists, out.NextToken, nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("listing domain lists: %w", err)
	}
	return rules, lists, nil
}

// forgetVanished drops from the state the lists that no longer exist
// (deleted by someone, or by a sync that stopped).
func (s *Syncer) forgetVanished(ctx context.Context, st *State, lists []types.FirewallDomainListMetadata) {
	exists := map[string]bool{}
	for _, l := range lists {
		exists[aws.ToString(l.Id)] = true
	}
	for id := range st.Lists {
		if !exists[id] {
			delete(st.Lists, id)
			_ = s.store.DeleteDomains(ctx, id)
		}
	}
}

// adoptLists takes into the state the lists of ours it does not know. The
// name prefix says they may be ours, the tags say whether they are;
// adopted lists are read back. One a rule of the group uses is adopted at
// once. One no rule uses is either a crashed sync's leftover or a list
// another sync of this device (another host, another state directory) is
// filling right now: it is adopted, and so deleted as an orphan, only
// once it is older than OrphanGrace; until then it is left alone. One this
// state was creating when its sync stopped is its own, and adopted at once.
// It returns the lists it adopted for their age: with the state's own,
// the orphans a new rule may reuse.
func (s *Syncer) adoptLists(ctx context.Context, st *State, lists []types.FirewallDomainListMetadata, rules []types.FirewallRule) (map[string]bool, error) {
	namePrefix := s.listPrefix()
	aged := map[string]bool{}
	used := map[string]bool{}
	for _, r := range rules {
		used[aws.ToString(r.FirewallDomainListId)] = true
	}
	for _, l := range lists {
		id := aws.ToString(l.Id)
		if _, known := st.Lists[id]; known || !strings.HasPrefix(aws.ToString(l.Name), namePrefix) {
			continue
		}
		var tags *r53r.ListTagsForResourceOutput
		err := s.calls.do(ctx, "ListTagsForResource", func() (err error) {
			tags, err = s.api.ListTagsForResource(ctx, &r53r.ListTagsForResourceInput{ResourceArn: l.Arn})
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("reading the tags of %s: %w", id, err)
		}
		tm := map[string]string{}
		for _, t := range tags.Tags {
			tm[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		if tm[TagManaged] != "true" || tm[TagDevice] != s.cfg.Device {
			continue
		}
		if !used[id] && !slices.Contains(st.Creating, aws.ToString(l.Name)) {
			age, err := s.listAge(ctx, id)
			if err != nil {
				return nil, err
			}
			if age < OrphanGrace {
				s.cfg.Progress.Note("a list of this device that no rule uses is younger than the grace period: left alone, another sync may be filling it",
					"list", aws.ToString(l.Name), "age", age.Round(time.Second), "grace", OrphanGrace)
				continue
			}
			aged[id] = true
		}
		st.Lists[id] = &ListRecord{ID: id, Name: aws.ToString(l.Name), Dirty: true}
	}
	// Those not found were never created.
	st.Creating = nil
	return aged, nil
}

// listPrefix starts the names of this device's lists.
func (s *Syncer) listPrefix() string { return fmt.Sprintf("%s-%s-", s.cfg.Prefix, s.cfg.Device) }

// readContents returns the domains of each of our lists, once settled:
// the saved copy when the list is clean and unchanged since this state
// saw it last (same ModificationTime), the list read back in full (and
// saved) otherwise. ListFirewallDomainLists says nothing of modification
// times, so asking costs one GetFirewallDomainList a list; a clean list
// the service confirmed less than VerifyEvery ago is trusted without
// asking, except the one confirmed longest ago, which a sync asks about
// before it says nothing changed (see toVerify). Only changed lists cost a
// full read.
func (s *Syncer) readContents(ctx context.Context, st *State) (map[string][]string, error) {
	content := map[string][]string{}
	verify, oldest := s.toVerify(st)
	s.deferred = oldest
	for _, id := range slices.Sorted(maps.Keys(st.Lists)) {
		rec := st.Lists[id]
		if !verify[id] {
			doms, err := s.store.LoadDomains(ctx, id)
			if err == nil && len(doms) == rec.Count {
				content[id] = doms
				continue
			}
			s.cfg.Progress.Note("saved content unreadable; asking the service", "list", id, "err", err)
			if id == s.deferred {
				s.deferred = ""
			}
		}
		doms, _, err := s.readOne(ctx, st, id)
		if err != nil {
			return nil, err
		}
		content[id] = doms
	}
	return content, nil
}

// readOne asks the service about one of our lists and returns its
// content: the saved copy when the list is clean and its ModificationTime
// is the one recorded, else the list read back in full (reread).
func (s *Syncer) readOne(ctx context.Context, st *State, id string) (doms []string, reread bool, err error) {
	rec := st.Lists[id]
	ls, err := s.settle(ctx, id, false, time.Time{})
	var failed *importFailedError
	if errors.As(err, &failed) && (rec.Dirty || rec.Modified != ls.modified) {
		// A failed import (this sync's predecessor stopped before it
		// saw it) leaves content nobody recorded: read it back, and
		// the plan repairs or retires the list like any other.
		s.cfg.Progress.Note("a list was left by a failed import: reading it back to repair it", "list", rec.Name, "status_message", failed.msg)
		rec.Dirty = true
	}
	if failed != nil {
		err = nil // repaired by an earlier sync, and not changed since
	}
	if err != nil {
		return nil, false, err
	}
	if !rec.Dirty && s.unchanged(rec, ls) {
		doms, err = s.store.LoadDomains(ctx, id)
		if err != nil {
			s.cfg.Progress.Note("saved content unreadable; reading the list back", "list", id, "err", err)
		}
	}
	if doms == nil && ls.count > 0 {
		s.cfg.Progress.Note("reading a list back in full", "list", rec.Name, "domains", ls.count)
		if doms, err = s.readList(ctx, id); err != nil {
			return nil, false, err
		}
		if err := s.store.SaveDomains(ctx, id, doms); err != nil {
			return nil, false, err
		}
		reread = true
	}
	reread = reread || (rec.Count > 0 && len(doms) == 0)
	rec.Count, rec.Dirty, rec.Modified, rec.Checked = len(doms), false, ls.modified, s.now()
	return doms, reread, nil
}

// toVerify picks the lists to ask the service about: every list the state
// cannot vouch for (dirty, no recorded ModificationTime, or confirmed
// VerifyEvery ago or longer); and, apart, the clean list confirmed longest
// ago, which a sync that finds nothing else to change asks about before
// it says so (confirmUnchanged). The others are trusted: the trade-off is
// that an edit by someone else to one of them is noticed only when its
// turn comes (within VerifyEvery, or within as many unchanged syncs as
// there are lists), not at the next sync.
func (s *Syncer) toVerify(st *State) (map[string]bool, string) {
	verify := map[string]bool{}
	now := s.now()
	oldest := ""
	for id, rec := range st.Lists {
		if rec.Dirty || rec.Modified == "" || rec.Checked.IsZero() || s.cfg.VerifyEvery < 0 || now.Sub(rec.Checked) >= s.cfg.VerifyEvery {
			verify[id] = true
			continue
		}
		if o := st.Lists[oldest]; oldest == "" || rec.Checked.Before(o.Checked) || (rec.Checked.Equal(o.Checked) && id < oldest) {
			oldest = id
		}
	}
	return verify, oldest
}

// unchanged says whether a clean list is as the state recorded it: its
// ModificationTime, which any change moves, whatever it does to the count.
// A state saved before times were recorded falls back to the count.
func (s *Syncer) unchanged(rec *ListRecord, ls listStatus) bool {
	if rec.Modified != "" && ls.modified != "" {
		return rec.Modified == ls.modified && rec.Count == ls.count
	}
	return rec.Count == ls.count
}

// OrphanGrace is how long a list of this device that neither this state
// knows nor any rule uses is left alone after its creation: another sync
// of the device, elsewhere, may be filling it. Older, it is a crashed
// sync's leftover and is deleted.
const OrphanGrace = 30 * time.Minute

// listAge says how long ago a list was created, by the service's
// CreationTime and the syncer's clock. A time it cannot read counts as new:
// leaving a list alone is the safe side.
func (s *Syncer) listAge(ctx context.Context, id string) (time.Duration, error) {
	var out *r53r.GetFirewallDomainListOutput
	err := s.calls.do(ctx, "GetFirewallDomainList", func() (err error) {
		out, err = s.api.GetFirewallDomainList(ctx, &r53r.GetFirewallDomainListInput{FirewallDomainListId: &id})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("reading domain list %s: %w", id, err)
	}
	created, err := time.Parse(time.RFC3339Nano, aws.ToString(out.FirewallDomainList.CreationTime))
	if err != nil {
		return 0, nil
	}
	return s.now().Sub(created), nil
}

// classify sorts the group's rules into ours (with their lists' content,
// by priority) and others', and finds our lists no rule uses.
func classify(st *State, rules []types.FirewallRule, content map[string][]string) Observed {
	var obs Observed
	used := map[string]bool{}
	for _, r := range rules {
		id := aws.ToString(r.FirewallDomainListId)
		rec, ours := st.Lists[id]
		if !ours {
			obs.Foreign = append(obs.Foreign, ForeignRule{Name: aws.ToString(r.Name), ListID: id, Priority: int(aws.ToInt32(r.Priority))})
			continue
		}
		used[id] = true
		obs.Owned = append(obs.Owned, OwnedRule{ListID: id, ListName: rec.Name, Priority: int(aws.ToInt32(r.Priority)), Spec: specOfRule(r), Domains: content[id]})
	}
	slices.SortFunc(obs.Owned, func(a, b OwnedRule) int { return a.Priority - b.Priority })
	for id, rec := range st.Lists {
		if !used[id] {
			obs.Orphans = append(obs.Orphans, OrphanList{ID: id, Name: rec.Name})
		}
	}
	slices.SortFunc(obs.Orphans, func(a, b OrphanList) int { return strings.Compare(a.ID, b.ID) })
	return obs
}

// specOfRule takes the settings of a deployed rule.
func specOfRule(r types.FirewallRule) RuleSpec {
	spec := RuleSpec{Name: aws.ToString(r.Name), Action: string(r.Action), BlockResponse: string(r.BlockResponse),
		OverrideDomain: aws.ToString(r.BlockOverrideDomain), OverrideType: string(r.BlockOverrideDnsType), OverrideTTL: -1}
	if r.BlockOverrideTtl != nil {
		spec.OverrideTTL = int(*r.BlockOverrideTtl)
	}
	return spec
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
	if st.Others != nil && st.Others.Lists == key && s.now().Sub(st.Others.At) < OthersTTL {
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
	st.Others = &OthersCount{Lists: key, Domains: total, At: s.now()}
	return total, nil
}

// readList reads a list in full, 5000 names a page.
func (s *Syncer) readList(ctx context.Context, id string) ([]string, error) {
	doms, err := listAll(ctx, s.calls, "ListFirewallDomains", func(token *string) ([]string, *string, error) {
		page, err := s.api.ListFirewallDomains(ctx, &r53r.ListFirewallDomainsInput{FirewallDomainListId: &id, MaxResults: aws.Int32(5000), NextToken: token})
		if err != nil {
			return nil, nil, err
		}
		return page.Domains, page.NextToken, nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading domain list %s: %w", id, err)
	}
	for i, d := range doms {
		doms[i] = dnsfw.NormalizeDomain(d)
	}
	slices.Sort(doms)
	return slices.Compact(doms), nil
}
