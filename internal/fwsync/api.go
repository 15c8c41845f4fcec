package fwsync

import (
	"context"
	"sync"
	"time"

	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
)

// API is the slice of Route 53 Resolver that sync uses. The SDK client
// satisfies it; so do test fakes.
type API interface {
	CreateFirewallDomainList(context.Context, *r53r.CreateFirewallDomainListInput, ...func(*r53r.Options)) (*r53r.CreateFirewallDomainListOutput, error)
	GetFirewallDomainList(context.Context, *r53r.GetFirewallDomainListInput, ...func(*r53r.Options)) (*r53r.GetFirewallDomainListOutput, error)
	DeleteFirewallDomainList(context.Context, *r53r.DeleteFirewallDomainListInput, ...func(*r53r.Options)) (*r53r.DeleteFirewallDomainListOutput, error)
	ListFirewallDomainLists(context.Context, *r53r.ListFirewallDomainListsInput, ...func(*r53r.Options)) (*r53r.ListFirewallDomainListsOutput, error)
	UpdateFirewallDomains(context.Context, *r53r.UpdateFirewallDomainsInput, ...func(*r53r.Options)) (*r53r.UpdateFirewallDomainsOutput, error)
	ImportFirewallDomains(context.Context, *r53r.ImportFirewallDomainsInput, ...func(*r53r.Options)) (*r53r.ImportFirewallDomainsOutput, error)
	ListFirewallDomains(context.Context, *r53r.ListFirewallDomainsInput, ...func(*r53r.Options)) (*r53r.ListFirewallDomainsOutput, error)
	ListFirewallRules(context.Context, *r53r.ListFirewallRulesInput, ...func(*r53r.Options)) (*r53r.ListFirewallRulesOutput, error)
	CreateFirewallRule(context.Context, *r53r.CreateFirewallRuleInput, ...func(*r53r.Options)) (*r53r.CreateFirewallRuleOutput, error)
	UpdateFirewallRule(context.Context, *r53r.UpdateFirewallRuleInput, ...func(*r53r.Options)) (*r53r.UpdateFirewallRuleOutput, error)
	DeleteFirewallRule(context.Context, *r53r.DeleteFirewallRuleInput, ...func(*r53r.Options)) (*r53r.DeleteFirewallRuleOutput, error)
	GetFirewallRuleGroup(context.Context, *r53r.GetFirewallRuleGroupInput, ...func(*r53r.Options)) (*r53r.GetFirewallRuleGroupOutput, error)
	ListTagsForResource(context.Context, *r53r.ListTagsForResourceInput, ...func(*r53r.Options)) (*r53r.ListTagsForResourceOutput, error)
}

// Staging puts an import file where ImportFirewallDomains can read it and
// returns its s3:// URL.
type Staging interface {
	Stage(ctx context.Context, name string, body []byte) (string, error)
}

// Limiter paces API calls. Syncers of devices in one account and region
// share one, since AWS's 5 requests/s is per account and region.
type Limiter interface {
	Wait(ctx context.Context) error
}

// NewLimiter returns a token bucket of rate calls per second; callers wait
// rather than fail. A rate of 0 or less does not limit.
func NewLimiter(rate float64) Limiter { return newLimiter(rate) }

// limiter is a token bucket: calls wait rather than fail.
type limiter struct {
	mu     sync.Mutex
	rate   float64
	tokens float64
	last   time.Time
}

func newLimiter(rate float64) *limiter { return &limiter{rate: rate, tokens: 1, last: time.Now()} }

// Wait blocks until a call may be made.
func (l *limiter) Wait(ctx context.Context) error {
	if l == nil || l.rate <= 0 {
		return nil
	}
	for {
		l.mu.Lock()
		now := time.Now()
		l.tokens = min(1, l.tokens+now.Sub(l.last).Seconds()*l.rate)
		l.last = now
		if l.tokens >= 1 {
			l.tokens--
			l.mu.Unlock()
			return nil
		}
		wait := time.Duration((1 - l.tokens) / l.rate * float64(time.Second))
		l.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// calls wraps an API: it waits for the rate limiter, counts calls by
// operation, and runs a hook after each call (tests use it to check the
// firewall between calls, and to inject crashes).
type calls struct {
	api   API
	lim   Limiter
	mu    sync.Mutex
	count map[string]int
	after func(op string, err error) error
}

func (c *calls) do(ctx context.Context, op string, f func() error) error {
	if err := c.lim.Wait(ctx); err != nil {
		return err
	}
	// Typed as soft or hard here, so every caller of the syncer can tell.
	err := Classify(f())
	c.mu.Lock()
	c.count[op]++
	c.mu.Unlock()
	if c.after != nil {
		if herr := c.after(op, err); herr != nil {
			return herr
		}
	}
	return err
}

// Counts returns calls made by operation.
func (c *calls) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.count))
	for k, v := range c.count {
		out[k] = v
	}
	return out
}

// reset starts counting afresh (each sync reports its own calls).
func (c *calls) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.count = map[string]int{}
}
