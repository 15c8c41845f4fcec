package fwsync

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// WriteSummary prints what a sync did (or would do, on a dry run).
func WriteSummary(w io.Writer, r *Result) {
	var b strings.Builder
	if r.DryRun {
		fmt.Fprintf(&b, "Dry run: %d calls would be made (plus waits for lists to settle):\n", len(r.Plan.Steps))
		for i, s := range r.Plan.Steps {
			fmt.Fprintf(&b, "  %3d. [%s] %s\n", i+1, s.Phase, s.Describe())
		}
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
	fmt.Fprintf(&b, "API calls: %d (%s); update calls at least %d for these changes. Took %s.\n",
		r.TotalCalls(), strings.Join(calls, ", "), r.LowerBound(), r.Took.Round(time.Millisecond))
	_, _ = io.WriteString(w, b.String())
}
