package fwsync

import (
	"fmt"
	"strings"

	"github.com/rpzfw/rpzfw/internal/dnsfw"
)

// RuleSpec is what a rule does, apart from its list and priority.
type RuleSpec struct {
	Name           string
	Action         string
	BlockResponse  string
	OverrideDomain string
	OverrideType   string
	OverrideTTL    int // -1 when not set
}

// key identifies the behaviour, name excluded.
func (s RuleSpec) key() string {
	return strings.Join([]string{s.Action, s.BlockResponse, s.OverrideDomain, s.OverrideType, fmt.Sprint(s.OverrideTTL)}, "|")
}

func (s RuleSpec) String() string {
	out := s.Action
	if s.BlockResponse != "" {
		out += " " + s.BlockResponse
	}
	if s.OverrideDomain != "" {
		out += fmt.Sprintf(" %s %s TTL %d", s.OverrideType, s.OverrideDomain, s.OverrideTTL)
	}
	return out
}

// SpecOf takes the settings of a plan rule.
func SpecOf(r dnsfw.Rule) RuleSpec {
	s := RuleSpec{Name: r.Name, Action: r.Action, OverrideTTL: -1}
	if r.BlockResponse != nil {
		s.BlockResponse = *r.BlockResponse
	}
	if r.BlockOverrideDomain != nil {
		s.OverrideDomain = *r.BlockOverrideDomain
	}
	if r.BlockOverrideDnsType != nil {
		s.OverrideType = *r.BlockOverrideDnsType
	}
	if r.BlockOverrideTtl != nil {
		s.OverrideTTL = *r.BlockOverrideTtl
	}
	return s
}

// OwnedRule is a rule of ours as it stands, with its list's content.
type OwnedRule struct {
	ListID   string
	ListName string
	Priority int
	Spec     RuleSpec
	Domains  []string // sorted
}

// ForeignRule is a rule rpzfw does not own; it is never changed.
type ForeignRule struct {
	Name     string
	ListID   string
	Priority int
}

// OrphanList is a list of ours that no rule uses (a sync stopped between
// creating it and attaching it).
type OrphanList struct {
	ID, Name string
}

// Observed is the rule group as it stands.
type Observed struct {
	Owned   []OwnedRule // by priority
	Foreign []ForeignRule
	Orphans []OrphanList
	// OtherDomains counts domains in lists of the account and region that
	// are not ours (they share the quota).
	OtherDomains int
}

// DesiredRule is one rule of the plan.
type DesiredRule struct {
	Spec    RuleSpec
	Domains []string // sorted
	// group is not 0 for the parts of a plan rule split over several lists
	// (1 + the plan rule's index): they act as one rule.
	group int
}

// Band is the priority range rpzfw's rules live in.
type Band struct{ Lo, Hi int }

// DefaultBand leaves room below and above for rules of others.
var DefaultBand = Band{Lo: 1000, Hi: 9000}

func (b Band) String() string { return fmt.Sprintf("%d-%d", b.Lo, b.Hi) }

// ParseBand reads "LO-HI".
func ParseBand(s string) (Band, error) {
	var b Band
	if _, err := fmt.Sscanf(s, "%d-%d", &b.Lo, &b.Hi); err != nil || b.Lo < 1 || b.Hi <= b.Lo {
		return Band{}, fmt.Errorf("priority band %q: want LO-HI with 1 <= LO < HI", s)
	}
	return b, nil
}

// MaxListSize is the most domains rpzfw puts in one list: what one import
// file may hold, so that every new list can be filled by one import.
const MaxListSize = 250000

// FirstSyncPriorities returns the priorities a sync gives the rules of a
// compiled plan in a rule group that holds none of rpzfw's rules yet: for
// each plan rule, those of the rules it is deployed as (more than one when
// its domains need several lists). It runs the sync's own planner, so the
// numbers are the ones a first sync sends: with a staging bucket (staged)
// a rule takes a list per MaxListSize domains; without one, a large rule
// is filled as more, smaller lists side by side (Parts.Fill). It fails as
// that sync would when the band cannot hold the rules. Later syncs keep
// deployed rules where they are and place new ones between them.
func FirstSyncPriorities(rules []dnsfw.Rule, band Band, staged bool) ([][]int, error) {
	parts := Parts{Max: MaxListSize}
	if !staged {
		parts.Fill = DefaultFillPart
	}
	desired, counts := splitPlan(rules, Observed{}, parts)
	p, err := MakePlan(Observed{}, desired, Options{Band: band})
	if err != nil {
		return nil, err
	}
	out := make([][]int, len(rules))
	next := 0
	for i := range rules {
		for range counts[i] {
			out[i] = append(out[i], p.Rules[next].Priority)
			next++
		}
	}
	return out, nil
}
