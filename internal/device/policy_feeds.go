package device

import (
	"context"
	"fmt"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/feed"
	"github.com/rpzfw/rpzfw/internal/policy"
	"github.com/rpzfw/rpzfw/internal/store"
)

// What the portal and the API show of a policy's sources, read through the
// same feed managers the syncs use (so an accepted update is the one the
// next sync compiles).

// opened returns sp's entry with its feed manager for sp's version, and
// the policy as read; the first call fetches what has no good copy.
func (p *Policies) opened(ctx context.Context, sp store.Policy) (*entry, policy.Policy, *feed.Manager, error) {
	e := p.entry(PolicyKey{sp.OrgID, sp.Name})
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.mgr == nil || e.version != sp.Version {
		if err := p.open(ctx, e, sp); err != nil {
			return nil, policy.Policy{}, nil, err
		}
	}
	return e, e.pol, e.mgr, nil
}

// FeedStatus returns what is known of each source of sp, in precedence
// order: serial or ETag, last fetch, last good copy, a held shrink.
func (p *Policies) FeedStatus(ctx context.Context, sp store.Policy) ([]feed.Status, error) {
	_, _, mgr, err := p.opened(ctx, sp)
	if err != nil {
		return nil, err
	}
	return mgr.Statuses(), nil
}

// AcceptHeld makes the held update of source current, as "rpzfw feeds
// accept" does; the devices using sp compile it at their next sync, which
// this asks for.
func (p *Policies) AcceptHeld(ctx context.Context, sp store.Policy, source string) error {
	e, _, mgr, err := p.opened(ctx, sp)
	if err != nil {
		return err
	}
	if err := mgr.Accept(source); err != nil {
		return err
	}
	e.stale.Store(true)
	p.mu.Lock()
	onChange := p.onChange
	p.mu.Unlock()
	p.log.Info("a held update was accepted", "policy", sp.Name, "org", sp.OrgID, "source", source)
	if onChange != nil {
		onChange(sp.OrgID, sp.Name)
	}
	return nil
}

// Plan compiles sp for s as a sync would (the plans are kept by settings).
func (p *Policies) Plan(ctx context.Context, sp store.Policy, s compile.Settings) (*compile.Plan, error) {
	l, err := p.Load(ctx, sp)
	if err != nil {
		return nil, err
	}
	return l.Compile(s)
}

// Explain says why name gets its outcome under sp compiled for s: what
// each source says and at which line, what BIND would answer, and which
// rule of the plan enforces it. The plan is the one the syncs compile
// (kept by settings); the sources' last good copies are read again into a
// reference only, as "rpzfw explain" does beside its builder.
func (p *Policies) Explain(ctx context.Context, sp store.Policy, s compile.Settings, name string) (compile.Explanation, *compile.Plan, error) {
	plan, err := p.Plan(ctx, sp, s)
	if err != nil {
		return compile.Explanation{}, nil, err
	}
	_, pol, mgr, err := p.opened(ctx, sp)
	if err != nil {
		return compile.Explanation{}, nil, err
	}
	ref := compile.NewReference()
	if err := pol.LoadWith(ctx, ref, feedOpener{mgr}, nil); err != nil {
		return compile.Explanation{}, nil, fmt.Errorf("policy %s: %w", sp.Name, err)
	}
	return compile.Explain(ref, plan, name), plan, nil
}
