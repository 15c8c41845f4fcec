package fwsync

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/route53resolver/types"
)

// seen is what observe read, kept so a sync can plan again after a late
// check finds a list changed.
type seen struct {
	rules   []types.FirewallRule
	content map[string][]string
	others  int
	aged    map[string]bool
}

// observed sorts what was seen into the rule group as it stands, and
// finds the orphans the sync may reuse.
func (v *seen) observed(s *Syncer, st *State) Observed {
	obs := classify(st, v.rules, v.content)
	obs.OtherDomains = v.others
	s.reusable = reusableOrphans(st, s.listPrefix(), obs.Orphans, v.content, v.aged)
	return obs
}

// confirmUnchanged is asked before a sync reports that nothing changed: it
// asks the service about the clean list confirmed longest ago (one call),
// so that an edit by someone else to a list the state trusts is noticed
// within as many unchanged syncs as there are lists. A sync that changes
// something skips it (the list's turn comes at the next quiet sync, or
// once it is VerifyEvery old): a one-domain change then costs the two
// reads, its update and one status read. When the list did change, the
// content read back replaces the saved one and the sync plans again.
func (s *Syncer) confirmUnchanged(ctx context.Context, st *State, plan Plan, replan func(Observed) (Plan, error)) (Plan, error) {
	id := s.deferred
	s.deferred = ""
	if !plan.Unchanged || id == "" || st.Lists[id] == nil || s.seen == nil {
		return plan, nil
	}
	doms, reread, err := s.readOne(ctx, st, id)
	if err != nil {
		return Plan{}, err
	}
	if !s.cfg.DryRun {
		if err := s.store.Save(ctx, st); err != nil {
			return Plan{}, err
		}
	}
	if !reread {
		return plan, nil
	}
	s.cfg.Progress.Note("a list was changed by someone else: planning its repair", "list", st.Lists[id].Name)
	s.seen.content[id] = doms
	return replan(s.seen.observed(s, st))
}
