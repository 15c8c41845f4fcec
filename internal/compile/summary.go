package compile

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteSummary prints the plan for a person: the rules with their actions
// and sizes, then what was removed and truncated and why.
func (p *Plan) WriteSummary(w io.Writer) error {
	var b strings.Builder
	mode := "blocking"
	if p.Settings.MonitorOnly {
		mode = "monitor-only"
	}
	fmt.Fprintf(&b, "Policy: %d sources, in precedence order: %s\n", len(p.Sources), strings.Join(p.Sources, ", "))
	fmt.Fprintf(&b, "Plan (%s): %d rules (any layout needs at least %d: a lower bound, not always reachable), %s domains of at most %s\n\n",
		mode, len(p.Rules), p.RulesLowerBound, thousands(p.DomainCount), thousands(p.Settings.MaxDomains))
	tw := tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  PRIORITY\tNAME\tACTION\tDOMAINS\tFIRST DOMAINS")
	for _, r := range p.Rules {
		action := r.Action
		if r.BlockResponse != nil {
			action += " " + *r.BlockResponse
		}
		if r.BlockOverrideDomain != nil {
			action += fmt.Sprintf(" CNAME %s TTL %d", *r.BlockOverrideDomain, *r.BlockOverrideTtl)
		}
		sample := r.Domains[:min(3, len(r.Domains))]
		more := ""
		if len(r.Domains) > len(sample) {
			more = ", ..."
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s%s\n", r.Priority, r.Name, action, thousands(len(r.Domains)), strings.Join(sample, ", "), more)
	}
	tw.Flush()
	if p.BlockAll != nil {
		fmt.Fprintf(&b, "\nWARNING: %s.\nsync refuses this plan unless given --allow-block-all (or allow_block_all: true in the policy file).\n", p.BlockAll)
	}
	if len(p.Removed) > 0 {
		b.WriteString("\nRemoved (DNS Firewall cannot express them):\n")
		for _, reason := range slices.Sorted(maps.Keys(p.Removed)) {
			var per []string
			for _, src := range p.Sources {
				if n := p.RemovedBySource[src][reason]; n > 0 {
					per = append(per, fmt.Sprintf("%s %s", src, thousands(n)))
				}
			}
			fmt.Fprintf(&b, "  %-15s %9s  (%s)\n", reason, thousands(p.Removed[reason]), strings.Join(per, ", "))
		}
	}
	if p.Truncated > 0 {
		var per []string
		for _, src := range p.Sources {
			if n := p.TruncatedBySource[src]; n > 0 {
				per = append(per, fmt.Sprintf("%s %s", src, thousands(n)))
			}
		}
		fmt.Fprintf(&b, "\nTruncated: %s block entries dropped to fit %s domains (%s)", thousands(p.Truncated), thousands(p.Settings.MaxDomains), strings.Join(per, ", "))
		if p.CarveOutsFreed > 0 {
			fmt.Fprintf(&b, "; %s carve-outs no longer needed", thousands(p.CarveOutsFreed))
		}
		b.WriteString(".\nNothing the full policy lets through is blocked; the lowest-precedence blocks went first.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// thousands formats n with thousands separators.
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// WriteEntries prints one tab-separated line per domain: rule, domain,
// source and line ("carve-out" and 0 for entries no record asked for).
func (p *Plan) WriteEntries(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "RULE\tDOMAIN\tSOURCE\tLINE")
	for i, r := range p.Rules {
		for j, d := range r.Domains {
			o := p.Origins[i][j]
			src := "carve-out"
			if o.Source >= 0 {
				src = p.Sources[o.Source]
			}
			fmt.Fprintf(bw, "%s\t%s\t%s\t%d\n", r.Name, d, src, o.Line)
		}
	}
	return bw.Flush()
}
