package fwsync

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// WriteSummary prints what a sync did (or would do, on a dry run).
func WriteSummary(w io.Writer, r *Result) { writeSummary(w, r, false) }

// WriteSummaryDomains is WriteSummary with every domain added to or
// removed from each rule, and every change of a rule's action, before the
// totals.
func WriteSummaryDomains(w io.Writer, r *Result) { writeSummary(w, r, true) }

func writeSummary(w io.Writer, r *Result, domains bool) {
	var b strings.Builder
	if r.DryRun {
		fmt.Fprintf(&b, "Dry run: %d calls would be made (plus waits for lists to settle):\n", len(r.Plan.Steps))
		for i, s := range r.Plan.Steps {
			fmt.Fprintf(&b, "  %3d. [%s] %s\n", i+1, s.Phase, s.Describe())
		}
	}
	if domains {
		writeDomainChanges(&b, r)
	}
	switch {
	case r.Plan.Unchanged:
		b.WriteString("The rule group already matches the policy: nothing to change.\n")
	default:
		verb := "Sent"
		if r.DryRun {
			verb = "Would send"
		}
		fmt.Fprintf(&b, "%s %d domains added and %d removed (the peak holds %d domains).\n", verb, r.Plan.Added, r.Plan.Removed, r.Plan.Peak)
	}
	if r.Compile != nil {
		fmt.Fprintf(&b, "Plan: %d rules, %d domains (quota %d, used by other lists %d, planned to at most %d).\n",
			len(r.Compile.Rules), r.Compile.DomainCount, r.Quota, r.Other, r.MaxDomains)
		if r.Compile.Truncated > 0 {
			var per []string
			for _, src := range r.Compile.Sources {
				if n := r.Compile.TruncatedBySource[src]; n > 0 {
					per = append(per, fmt.Sprintf("%s %d", src, n))
				}
			}
			fmt.Fprintf(&b, "Truncated: %d block entries dropped to fit (%s).\n", r.Compile.Truncated, strings.Join(per, ", "))
		}
	}
	var calls []string
	for _, op := range slices.Sorted(maps.Keys(r.Calls)) {
		calls = append(calls, fmt.Sprintf("%s %d", op, r.Calls[op]))
	}
	fmt.Fprintf(&b, "API calls: %d (%s). Took %s.\n", r.TotalCalls(), strings.Join(calls, ", "), r.Took.Round(time.Millisecond))
	// The bounds are those of the changes, whatever the way of making them.
	fmt.Fprintf(&b, "Fewest calls these changes allow: %d, of which %d domain updates (one per list per 1000 domains added or removed).\n",
		r.Floor(), r.LowerBound())
	_, _ = io.WriteString(w, b.String())
}

// writeDomainChanges lists, rule by rule in precedence order, the domains
// added ("+") and removed ("-"), and action changes. Rules that keep their
// domains and action are left out.
func writeDomainChanges(b *strings.Builder, r *Result) {
	verb := "Domain changes"
	if r.DryRun {
		verb = "Domain changes it would make"
	}
	fmt.Fprintf(b, "%s, by rule in precedence order:\n", verb)
	shown := 0
	for _, c := range r.Plan.Rules {
		what := c.Change()
		if what == "none" || what == "move" {
			continue
		}
		shown++
		switch what {
		case "create":
			fmt.Fprintf(b, "  new rule %s (%s), priority %d: %d domains\n", c.New.Name, c.New, c.Priority, len(c.Added))
		case "delete":
			fmt.Fprintf(b, "  deleted rule %s (%s), priority %d: %d domains\n", c.Old.Name, c.Old, c.OldPriority, len(c.Removed))
		default:
			fmt.Fprintf(b, "  rule %s (%s), priority %d: %d added, %d removed", c.New.Name, c.New, c.Priority, len(c.Added), len(c.Removed))
			if c.Old.Name != c.New.Name {
				fmt.Fprintf(b, "; was named %s", c.Old.Name)
			}
			if c.Old.key() != c.New.key() {
				fmt.Fprintf(b, "; action was %s, for every domain it keeps", c.Old)
			}
			b.WriteString("\n")
		}
		for _, d := range c.Added {
			fmt.Fprintf(b, "    + %s\n", d)
		}
		for _, d := range c.Removed {
			fmt.Fprintf(b, "    - %s\n", d)
		}
	}
	if shown == 0 {
		b.WriteString("  none\n")
	}
}

// Summary is what a sync or unsync did (or would do, on a dry run), for
// programs: "rpzfw sync --format json" prints it. Every member is always
// present (null when it does not apply); members may be added, and are
// never renamed or removed. docs/sync.md describes each.
type Summary struct {
	DryRun bool `json:"dry_run"`
	// Completed is false when the sync stopped part-way; Error says why.
	Completed bool    `json:"completed"`
	Error     *string `json:"error"`
	// Changes is true when the rule group did not match the policy.
	Changes               bool           `json:"changes"`
	DomainsAdded          int            `json:"domains_added"`
	DomainsRemoved        int            `json:"domains_removed"`
	PeakDomains           int            `json:"peak_domains"`
	PlannedCalls          int            `json:"planned_calls"`
	APICalls              int            `json:"api_calls"`
	APICallsByOperation   map[string]int `json:"api_calls_by_operation"`
	UpdateCallsLowerBound int            `json:"update_calls_lower_bound"`
	CallsFloor            int            `json:"calls_floor"`
	TookSeconds           float64        `json:"took_seconds"`
	// Quota, OtherDomains and MaxDomains are 0 for unsync.
	Quota        int          `json:"quota"`
	OtherDomains int          `json:"domains_used_by_other_lists"`
	MaxDomains   int          `json:"max_domains"`
	Plan         *PlanSummary `json:"plan"`
	// Steps are the planned calls, on a dry run only.
	Steps []StepSummary `json:"steps"`
	Rules []RuleSummary `json:"rules"`
}

// PlanSummary is the compiled plan a sync deployed (null for unsync).
type PlanSummary struct {
	Rules             int            `json:"rules"`
	Domains           int            `json:"domains"`
	Truncated         int            `json:"truncated"`
	TruncatedBySource map[string]int `json:"truncated_by_source"`
}

// StepSummary is one planned call.
type StepSummary struct {
	Phase string `json:"phase"`
	Call  string `json:"call"`
}

// RuleSummary is what happens to one of rpzfw's rules. Added and Removed
// list the domains only when asked for (--show-domains); null otherwise.
type RuleSummary struct {
	Name           string   `json:"name"`
	Change         string   `json:"change"`
	ActionBefore   *string  `json:"action_before"`
	ActionAfter    *string  `json:"action_after"`
	PriorityBefore *int     `json:"priority_before"`
	PriorityAfter  *int     `json:"priority_after"`
	DomainsAdded   int      `json:"domains_added"`
	DomainsRemoved int      `json:"domains_removed"`
	Added          []string `json:"added"`
	Removed        []string `json:"removed"`
}

// Summarize turns a result into its Summary; err is what the sync
// returned, domains says whether to list each rule's domains.
func Summarize(r *Result, err error, domains bool) Summary {
	s := Summary{
		DryRun: r.DryRun, Completed: err == nil, Changes: !r.Plan.Unchanged,
		DomainsAdded: r.Plan.Added, DomainsRemoved: r.Plan.Removed, PeakDomains: r.Plan.Peak,
		PlannedCalls: len(r.Plan.Steps), APICalls: r.TotalCalls(), APICallsByOperation: r.Calls,
		UpdateCallsLowerBound: r.LowerBound(), CallsFloor: r.Floor(), TookSeconds: r.Took.Seconds(),
		Quota: r.Quota, OtherDomains: r.Other, MaxDomains: r.MaxDomains,
		Rules: make([]RuleSummary, 0, len(r.Plan.Rules)),
	}
	if err != nil {
		msg := err.Error()
		s.Error = &msg
	}
	if s.APICallsByOperation == nil {
		s.APICallsByOperation = map[string]int{}
	}
	if c := r.Compile; c != nil {
		s.Plan = &PlanSummary{Rules: len(c.Rules), Domains: c.DomainCount, Truncated: c.Truncated, TruncatedBySource: map[string]int{}}
		maps.Copy(s.Plan.TruncatedBySource, c.TruncatedBySource)
	}
	if r.DryRun {
		s.Steps = make([]StepSummary, len(r.Plan.Steps))
		for i, st := range r.Plan.Steps {
			s.Steps[i] = StepSummary{Phase: st.Phase, Call: st.Describe()}
		}
	}
	for _, c := range r.Plan.Rules {
		rs := RuleSummary{Change: c.Change(), DomainsAdded: len(c.Added), DomainsRemoved: len(c.Removed)}
		if c.Old != nil {
			rs.Name, rs.ActionBefore, rs.PriorityBefore = c.Old.Name, ptr(c.Old.String()), ptr(c.OldPriority)
		}
		if c.New != nil {
			rs.Name, rs.ActionAfter, rs.PriorityAfter = c.New.Name, ptr(c.New.String()), ptr(c.Priority)
		}
		if domains {
			rs.Added, rs.Removed = nonNil(c.Added), nonNil(c.Removed)
		}
		s.Rules = append(s.Rules, rs)
	}
	return s
}

// WriteJSON prints Summarize(r, err, domains) as one line of JSON.
func WriteJSON(w io.Writer, r *Result, err error, domains bool) error {
	return json.NewEncoder(w).Encode(Summarize(r, err, domains))
}

func ptr[T any](v T) *T { return &v }

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
