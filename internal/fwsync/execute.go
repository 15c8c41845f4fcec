package fwsync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver/types"
)

// run holds what the executor tracks while it applies a plan.
type run struct {
	s       *Syncer
	st      *State
	refs    map[string]string              // "new:N" -> list ID
	content map[string]map[string]struct{} // list ID -> domains as sent
	pending map[string]bool                // lists changed and not yet settled
	changed map[string]time.Time           // when each list was last changed
}

func (s *Syncer) execute(ctx context.Context, plan Plan, st *State) error {
	r := &run{s: s, st: st, refs: map[string]string{}, content: map[string]map[string]struct{}{}, pending: map[string]bool{}, changed: map[string]time.Time{}}
	for id := range st.Lists {
		doms, err := s.store.LoadDomains(ctx, id)
		if err != nil && st.Lists[id].Count > 0 {
			return err
		}
		set := make(map[string]struct{}, len(doms))
		for _, d := range doms {
			set[d] = struct{}{}
		}
		r.content[id] = set
	}
	for i := 0; i < len(plan.Steps); i++ {
		if plan.Steps[i].Kind == StepSettle {
			// Lists waited for together are polled in the order they were
			// changed: each first poll comes its delay after its own
			// change, so their settling overlaps.
			j := i
			for j < len(plan.Steps) && plan.Steps[j].Kind == StepSettle {
				j++
			}
			order := slices.Clone(plan.Steps[i:j])
			slices.SortStableFunc(order, func(a, b Step) int { return r.changed[r.id(a.List)].Compare(r.changed[r.id(b.List)]) })
			for k, step := range order {
				s.cfg.Progress.Step(i+k+1, len(plan.Steps), step)
				if err := r.do(ctx, step); err != nil {
					return fmt.Errorf("step %d of %d (%s): %w", i+k+1, len(plan.Steps), step.Describe(), err)
				}
			}
			i = j - 1
			continue
		}
		step := plan.Steps[i]
		s.cfg.Progress.Step(i+1, len(plan.Steps), step)
		if err := r.do(ctx, step); err != nil {
			return fmt.Errorf("step %d of %d (%s): %w", i+1, len(plan.Steps), step.Describe(), err)
		}
	}
	// Anything still settling is waited for and recorded, together.
	ids := slices.Collect(maps.Keys(r.pending))
	slices.SortFunc(ids, func(a, b string) int {
		if c := r.changed[a].Compare(r.changed[b]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for _, id := range ids {
		if err := r.settle(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

func (r *run) id(ref string) string {
	if id, ok := r.refs[ref]; ok {
		return id
	}
	return ref
}

// do runs one step, the call its kind names.
func (r *run) do(ctx context.Context, step Step) error {
	id := r.id(step.List)
	switch step.Kind {
	case StepDeleteList:
		return r.deleteList(ctx, id)
	case StepMoveRule:
		return r.moveRule(ctx, id, step.Priority)
	case StepCreateList:
		return r.createList(ctx, step.List)
	case StepAdd, StepRemove:
		return r.update(ctx, id, step)
	case StepImport:
		return r.importList(ctx, id, step.Domains)
	case StepSettle:
		return r.settle(ctx, id)
	case StepCreateRule:
		return r.createRule(ctx, id, step)
	case StepUpdateRule:
		return r.updateRule(ctx, id, step.Spec)
	case StepDeleteRule:
		return r.deleteRule(ctx, id)
	}
	return fmt.Errorf("unknown step kind %d", step.Kind)
}

// deleteList deletes a list once its last change settled, and forgets it.
// A list already gone (a rerun after a crash) is no error.
func (r *run) deleteList(ctx context.Context, id string) error {
	s := r.s
	if r.pending[id] {
		if err := r.settle(ctx, id); err != nil {
			return err
		}
	}
	err := s.calls.do(ctx, "DeleteFirewallDomainList", func() error {
		_, err := s.api.DeleteFirewallDomainList(ctx, &r53r.DeleteFirewallDomainListInput{FirewallDomainListId: &id})
		return err
	})
	if err != nil && !isA[*types.ResourceNotFoundException](err) {
		return err
	}
	delete(r.st.Lists, id)
	delete(r.content, id)
	if err := s.store.Save(ctx, r.st); err != nil {
		return err
	}
	return s.store.DeleteDomains(ctx, id)
}

// moveRule changes the priority of the rule using list id.
func (r *run) moveRule(ctx context.Context, id string, priority int) error {
	s, group := r.s, r.s.cfg.RuleGroupID
	return s.calls.do(ctx, "UpdateFirewallRule", func() error {
		_, err := s.api.UpdateFirewallRule(ctx, &r53r.UpdateFirewallRuleInput{FirewallRuleGroupId: &group, FirewallDomainListId: &id, Priority: aws.Int32(int32(priority))})
		return err
	})
}

// createList creates the list the plan calls ref, tagged as ours, in a
// slot reserved in the state first: a rerun after a crash never reuses a
// name or a CreatorRequestId.
func (r *run) createList(ctx context.Context, ref string) error {
	s, group := r.s, r.s.cfg.RuleGroupID
	slot := r.st.NextSlot
	r.st.NextSlot++
	if r.st.Instance == "" {
		r.st.Instance = newInstance()
	}
	// The instance keeps two states of one device (two hosts) from making
	// the same CreatorRequestId, which the service would answer with the
	// other's list.
	name := fmt.Sprintf("%s-%s-%s%d", s.cfg.Prefix, s.cfg.Device, r.st.Instance, slot)
	r.st.Creating = append(r.st.Creating, name)
	if err := s.store.Save(ctx, r.st); err != nil {
		return err
	}
	var out *r53r.CreateFirewallDomainListOutput
	err := s.calls.do(ctx, "CreateFirewallDomainList", func() (err error) {
		out, err = s.api.CreateFirewallDomainList(ctx, &r53r.CreateFirewallDomainListInput{
			CreatorRequestId: aws.String(fmt.Sprintf("rpzfw-%s-%s%d", s.cfg.Device, r.st.Instance, slot)), Name: aws.String(name),
			Tags: []types.Tag{{Key: aws.String(TagManaged), Value: aws.String("true")}, {Key: aws.String(TagDevice), Value: aws.String(s.cfg.Device)},
				{Key: aws.String(TagRuleGroup), Value: aws.String(group)}},
		})
		return err
	})
	if err != nil {
		return err
	}
	newID := aws.ToString(out.FirewallDomainList.Id)
	r.refs[ref] = newID
	r.st.Lists[newID] = &ListRecord{ID: newID, Name: name}
	r.st.Creating = slices.DeleteFunc(r.st.Creating, func(n string) bool { return n == name })
	r.content[newID] = map[string]struct{}{}
	return s.store.Save(ctx, r.st)
}

// update sends one chunk of ADD or REMOVE to list id and records it.
func (r *run) update(ctx context.Context, id string, step Step) error {
	op := types.FirewallDomainUpdateOperationAdd
	if step.Kind == StepRemove {
		op = types.FirewallDomainUpdateOperationRemove
	}
	if err := r.dirty(ctx, id); err != nil {
		return err
	}
	if err := r.sendUpdate(ctx, id, op, step.Domains); err != nil {
		return err
	}
	r.pending[id] = true
	r.changed[id] = time.Now()
	set := r.content[id]
	for _, d := range step.Domains {
		if step.Kind == StepAdd {
			set[d] = struct{}{}
		} else {
			delete(set, d)
		}
	}
	return nil
}

// sendUpdate sends UpdateFirewallDomains. For consecutive chunks to one
// list it does not poll: it waits about as long as the list takes to
// settle and sends; the service refuses a change to an unsettled list
// with ConflictException, which then costs what a poll would have, and it
// waits and sends again (up to 8 times).
func (r *run) sendUpdate(ctx context.Context, id string, op types.FirewallDomainUpdateOperation, domains []string) error {
	s := r.s
	optimistic := r.pending[id]
	for attempt := 0; ; attempt++ {
		if r.pending[id] {
			if optimistic {
				// Time spent on other lists meanwhile counts.
				if err := sleep(ctx, s.firstPollDelay()-time.Since(r.changed[id])); err != nil {
					return err
				}
			} else if _, err := r.wait(ctx, id); err != nil {
				return err
			}
		}
		// How long after its last change the list is asked to take this
		// one: measured once the rate limit lets the call go, since in a
		// busy account the wait for the limit can be most of it.
		var asked time.Duration
		err := s.calls.do(ctx, "UpdateFirewallDomains", func() error {
			if t := r.changed[id]; !t.IsZero() {
				asked = time.Since(t)
			}
			_, err := s.api.UpdateFirewallDomains(ctx, &r53r.UpdateFirewallDomainsInput{FirewallDomainListId: &id, Operation: op, Domains: domains})
			return err
		})
		if isA[*types.ConflictException](err) && attempt < 8 {
			r.pending[id] = true // still settling from an earlier change: wait, then again
			if optimistic {
				s.tuner.missed(s.cfg.PollInitial, asked)
				optimistic = false
			}
			continue
		}
		if err != nil {
			return err
		}
		if optimistic {
			s.tuner.sufficed(s.cfg.PollInitial, asked)
		}
		return nil
	}
}

// importList replaces the content of list id with domains, through a file
// in the staging bucket.
func (r *run) importList(ctx context.Context, id string, domains []string) error {
	s := r.s
	if err := r.dirty(ctx, id); err != nil {
		return err
	}
	url, err := s.staging.Stage(ctx, fmt.Sprintf("%s/%s.txt", s.cfg.Device, id), []byte(strings.Join(domains, "\n")+"\n"))
	if err != nil {
		return fmt.Errorf("staging the import file: %w", err)
	}
	err = s.calls.do(ctx, "ImportFirewallDomains", func() error {
		_, err := s.api.ImportFirewallDomains(ctx, &r53r.ImportFirewallDomainsInput{FirewallDomainListId: &id, Operation: types.FirewallDomainImportOperationReplace, DomainFileUrl: &url})
		return err
	})
	if err != nil {
		return err
	}
	r.pending[id] = true
	r.changed[id] = time.Now()
	set := make(map[string]struct{}, len(domains))
	for _, d := range domains {
		set[d] = struct{}{}
	}
	r.content[id] = set
	return nil
}

// createRule creates the rule of list id once the list has settled.
func (r *run) createRule(ctx context.Context, id string, step Step) error {
	s, group := r.s, r.s.cfg.RuleGroupID
	if r.pending[id] {
		if err := r.settle(ctx, id); err != nil {
			return err
		}
	}
	in := &r53r.CreateFirewallRuleInput{CreatorRequestId: aws.String("rpzfw-" + id), FirewallRuleGroupId: &group, FirewallDomainListId: &id,
		Priority: aws.Int32(int32(step.Priority)), Name: aws.String(step.Spec.Name), Action: types.Action(step.Spec.Action)}
	applySpec(step.Spec, &in.BlockResponse, &in.BlockOverrideDomain, &in.BlockOverrideDnsType, &in.BlockOverrideTtl)
	return s.calls.do(ctx, "CreateFirewallRule", func() error {
		_, err := s.api.CreateFirewallRule(ctx, in)
		return err
	})
}

// updateRule changes the action or name of the rule using list id.
func (r *run) updateRule(ctx context.Context, id string, spec *RuleSpec) error {
	s, group := r.s, r.s.cfg.RuleGroupID
	in := &r53r.UpdateFirewallRuleInput{FirewallRuleGroupId: &group, FirewallDomainListId: &id, Name: aws.String(spec.Name), Action: types.Action(spec.Action)}
	applySpec(spec, &in.BlockResponse, &in.BlockOverrideDomain, &in.BlockOverrideDnsType, &in.BlockOverrideTtl)
	return s.calls.do(ctx, "UpdateFirewallRule", func() error {
		_, err := s.api.UpdateFirewallRule(ctx, in)
		return err
	})
}

// deleteRule deletes the rule using list id; one already gone (a rerun
// after a crash) is no error.
func (r *run) deleteRule(ctx context.Context, id string) error {
	s, group := r.s, r.s.cfg.RuleGroupID
	err := s.calls.do(ctx, "DeleteFirewallRule", func() error {
		_, err := s.api.DeleteFirewallRule(ctx, &r53r.DeleteFirewallRuleInput{FirewallRuleGroupId: &group, FirewallDomainListId: &id})
		return err
	})
	if isA[*types.ResourceNotFoundException](err) {
		return nil
	}
	return err
}

func applySpec(spec *RuleSpec, resp *types.BlockResponse, domain **string, dnsType *types.BlockOverrideDnsType, ttl **int32) {
	if spec.BlockResponse != "" {
		*resp = types.BlockResponse(spec.BlockResponse)
	}
	if spec.OverrideDomain != "" {
		*domain = aws.String(spec.OverrideDomain)
		*dnsType = types.BlockOverrideDnsType(spec.OverrideType)
	}
	if spec.OverrideTTL >= 0 {
		*ttl = aws.Int32(int32(spec.OverrideTTL))
	}
}

// dirty marks a list as being changed, in the state, before the first change
// is sent: if the sync dies now, the next one reads the list back.
func (r *run) dirty(ctx context.Context, id string) error {
	rec, ok := r.st.Lists[id]
	if !ok || rec.Dirty {
		return nil
	}
	rec.Dirty = true
	return r.s.store.Save(ctx, r.st)
}

// wait waits for a list to settle and returns its count. A list whose
// import failed is repaired on the spot: read back, then brought to what
// the import should have left by ADD and REMOVE chunks (the list is new
// and no rule uses it yet, so this is as safe as the import).
func (r *run) wait(ctx context.Context, id string) (listStatus, error) {
	ls, err := r.s.settle(ctx, id, r.pending[id], r.changed[id])
	var failed *importFailedError
	if !errors.As(err, &failed) {
		return ls, err
	}
	delete(r.pending, id)
	r.s.cfg.Progress.Note("an import failed: filling the list by updates instead", "list", id, "status_message", failed.msg)
	have, err := r.s.readList(ctx, id)
	if err != nil {
		return listStatus{}, err
	}
	want := slices.Sorted(maps.Keys(r.content[id]))
	for _, fix := range []struct {
		op   types.FirewallDomainUpdateOperation
		doms []string
	}{{types.FirewallDomainUpdateOperationRemove, diff(have, want)}, {types.FirewallDomainUpdateOperationAdd, diff(want, have)}} {
		for _, c := range chunk(fix.doms, 1000) {
			if err := r.sendUpdate(ctx, id, fix.op, c); err != nil {
				return listStatus{}, err
			}
			r.pending[id] = true
			r.changed[id] = time.Now()
		}
	}
	if !r.pending[id] {
		return ls, nil // it holds what it should; its status stays as it is
	}
	return r.s.settle(ctx, id, true, r.changed[id])
}

// settle waits for a list and records its content as clean.
func (r *run) settle(ctx context.Context, id string) error {
	ls, err := r.wait(ctx, id)
	if err != nil {
		return err
	}
	count := ls.count
	delete(r.pending, id)
	set := r.content[id]
	if count != len(set) {
		return fmt.Errorf("domain list %s holds %d domains after the update, expected %d: someone else changed it; run the sync again", id, count, len(set))
	}
	doms := slices.Sorted(maps.Keys(set))
	if err := r.s.store.SaveDomains(ctx, id, doms); err != nil {
		return err
	}
	rec := r.st.Lists[id]
	rec.Count, rec.Dirty, rec.Modified, rec.Checked = len(doms), false, ls.modified, r.s.now()
	r.s.saveTuning(r.st)
	return r.s.store.Save(ctx, r.st)
}

// newInstance names a state apart from other states of its device.
func newInstance() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "-"
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
