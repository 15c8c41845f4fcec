package compile

import (
	"errors"
	"fmt"
	"math"

	"github.com/rpzfw/rpzfw/internal/dnsfw"
)

// Defaults, from the AWS quotas.
const (
	// DefaultMaxDomains is the default domains quota per account and
	// region (Service Quotas L-740A4B31).
	DefaultMaxDomains = 100000
	// DefaultMaxRules is the quota of rules per rule group.
	DefaultMaxRules = 100
	DefaultPrefix   = "rpzfw"
	// DefaultFirstPriority and DefaultPriorityStep leave room between
	// rules, as AWS recommends, so rules can be inserted without
	// renumbering.
	DefaultFirstPriority = 100
	DefaultPriorityStep  = 100
)

// Settings tune a compile. Zero values take the defaults.
type Settings struct {
	// MonitorOnly turns every rule that would block or pass through into
	// ALERT; carve-outs stay ALLOW.
	MonitorOnly bool
	// MaxDomains caps the domains in the plan; lower-precedence blocks are
	// dropped to fit (see Plan.Truncated).
	MaxDomains int
	// MaxRules is the most rules the plan may use.
	MaxRules int
	// Prefix starts every rule name.
	Prefix string
	// FirstPriority is the priority of the first rule; later rules add
	// PriorityStep each.
	FirstPriority int
	PriorityStep  int
}

func (s Settings) withDefaults() Settings {
	if s.MaxDomains == 0 {
		s.MaxDomains = DefaultMaxDomains
	}
	if s.MaxRules == 0 {
		s.MaxRules = DefaultMaxRules
	}
	if s.Prefix == "" {
		s.Prefix = DefaultPrefix
	}
	if s.FirstPriority == 0 {
		s.FirstPriority = DefaultFirstPriority
	}
	if s.PriorityStep == 0 {
		s.PriorityStep = DefaultPriorityStep
	}
	return s
}

func (s Settings) validate() error {
	switch {
	case s.MaxDomains < 0:
		return errors.New("maximum domains must be positive")
	case s.MaxRules < 0:
		return errors.New("maximum rules must be positive")
	case s.FirstPriority < 0 || s.PriorityStep < 0:
		return errors.New("rule priorities must be positive")
	case s.FirstPriority > math.MaxInt32 || s.PriorityStep > math.MaxInt32:
		return fmt.Errorf("rule priorities must be at most %d (the API's limit)", math.MaxInt32)
	case len(s.Prefix) > 40:
		return fmt.Errorf("rule name prefix %q is longer than 40 characters", s.Prefix)
	}
	for _, c := range s.Prefix {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("rule name prefix %q may hold only letters, digits, '-' and '_'", s.Prefix)
		}
	}
	return nil
}

// Origin says where a plan entry came from.
type Origin struct {
	// Source indexes Plan.Sources; -1 for a carve-out, which no record
	// asked for: it undoes a broader entry where the policy says "no
	// rewrite" (a shadowed wildcard, an empty non-terminal).
	Source int
	Line   int
}

// Plan is the compiled policy: what a rule group must hold. Its JSON form is
// the one "rpzfw plan --format json" prints.
type Plan struct {
	Rules       []dnsfw.Rule
	DomainCount int
	// Removed counts records dropped because DNS Firewall cannot express
	// them, by reason.
	Removed map[string]int
	// Truncated counts block entries dropped to fit MaxDomains.
	Truncated int

	// Origins[i][j] is where Rules[i].Domains[j] came from.
	Origins [][]Origin `json:"-"`
	// Sources names the policy's sources in precedence order.
	Sources []string `json:"-"`
	// RemovedBySource and TruncatedBySource break the counts down.
	RemovedBySource   map[string]map[string]int `json:"-"`
	TruncatedBySource map[string]int            `json:"-"`
	// CarveOutsFreed counts allow entries no longer needed after
	// truncation dropped the blocks they carved out of.
	CarveOutsFreed int `json:"-"`
	// RulesLowerBound is the fewest rules any layout could use.
	RulesLowerBound int `json:"-"`
	// Settings as applied, defaults filled in.
	Settings Settings `json:"-"`
	// BlockAll is set when a BLOCK rule holds "*": every name is blocked
	// but for what earlier rules let through. Deployers refuse such a plan
	// unless told (CheckBlockAll).
	BlockAll *BlockAll `json:"-"`
}

// Compile turns the collected records into a plan. It may be called again
// with other settings (a sync retries with fewer domains), without reading
// the sources again.
func (b *Builder) Compile(s Settings) (*Plan, error) {
	s = s.withDefaults()
	if err := s.validate(); err != nil {
		return nil, err
	}
	if len(b.sources) == 0 {
		return nil, errors.New("the policy has no sources")
	}
	for i, removed := range b.removed {
		if n := removed[ReasonTooManyGardens]; n > 0 {
			return nil, fmt.Errorf("%s has more than %d distinct walled gardens (CNAME targets and TTLs); each needs a rule of its own, and a rule group holds %d", b.sources[i].Name, maxOverrides, s.MaxRules)
		}
	}
	if err := b.prepare(); err != nil {
		return nil, err
	}
	t := buildTree(b.trigs, b.names)
	t.evaluate(b.sources)
	tr, err := t.truncate(s.MaxDomains, b.sources)
	if err != nil {
		return nil, err
	}
	lay := t.layer()
	if len(lay.colors) > s.MaxRules {
		return nil, fmt.Errorf("the policy needs %d rules (at least %d for its layering of allow and block entries), more than the limit of %d rules per rule group", len(lay.colors), lay.lowerBound, s.MaxRules)
	}
	if n := int64(len(lay.colors)); n > 0 && int64(s.FirstPriority)+(n-1)*int64(s.PriorityStep) > math.MaxInt32 {
		return nil, fmt.Errorf("the last of the policy's %d rules would have priority %d, above %d (the API's limit): lower the first priority or the step", n, int64(s.FirstPriority)+(n-1)*int64(s.PriorityStep), math.MaxInt32)
	}

	p := &Plan{
		Removed:           map[string]int{},
		Truncated:         tr.dropped,
		TruncatedBySource: tr.bySource,
		CarveOutsFreed:    tr.freed,
		RulesLowerBound:   lay.lowerBound,
		RemovedBySource:   map[string]map[string]int{},
		Settings:          s,
	}
	for i, src := range b.sources {
		p.Sources = append(p.Sources, src.Name)
		for reason, n := range b.removed[i] {
			p.Removed[reason] += n
			if p.RemovedBySource[src.Name] == nil {
				p.RemovedBySource[src.Name] = map[string]int{}
			}
			p.RemovedBySource[src.Name][reason] = n
		}
	}
	t.fillRules(p, lay, &b.outcomes)
	p.BlockAll = p.findBlockAll()
	return p, nil
}

// rule maps an outcome to a DNS Firewall rule (the DESIGN mapping table).
func (t *outcomeTable) rule(o Outcome, monitor bool) dnsfw.Rule {
	str := func(s string) *string { return &s }
	switch {
	case o == NoMatch:
		return dnsfw.Rule{Action: dnsfw.ActionAllow}
	case o == Passthru || monitor:
		return dnsfw.Rule{Action: dnsfw.ActionAlert}
	case o == NXDomain:
		return dnsfw.Rule{Action: dnsfw.ActionBlock, BlockResponse: str(dnsfw.BlockNXDomain)}
	case o == NoData:
		return dnsfw.Rule{Action: dnsfw.ActionBlock, BlockResponse: str(dnsfw.BlockNoData)}
	default:
		ov := t.overrides[o-firstOverride]
		ttl := ov.TTL
		return dnsfw.Rule{
			Action: dnsfw.ActionBlock, BlockResponse: str(dnsfw.BlockOverride),
			BlockOverrideDomain: str(ov.Target), BlockOverrideDnsType: str(dnsfw.OverrideTypeCNAME),
			BlockOverrideTtl: &ttl,
		}
	}
}

// ruleSuffix names a rule by what the policy asks of its names, so that a
// monitor-only rule still says what it would have done.
func ruleSuffix(o Outcome) string {
	switch {
	case o == NoMatch:
		return "allow"
	case o == Passthru:
		return "passthru"
	case o == NXDomain:
		return "nxdomain"
	case o == NoData:
		return "nodata"
	default:
		return "garden"
	}
}
