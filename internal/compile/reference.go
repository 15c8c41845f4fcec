package compile

import (
	"fmt"
	"strings"

	"github.com/rpzfw/rpzfw/internal/dnsfw"
	"github.com/rpzfw/rpzfw/internal/rpz"
)

// Reference evaluates a policy one query at a time, straight from the
// records, the way BIND looks a name up in its policy zones. It shares
// nothing with the compiler but the record-to-outcome mapping, which makes
// it the oracle the compiled plans are tested against, and the source of
// "rpzfw explain".
type Reference struct {
	sources  []Source
	outcomes outcomeTable
	sets     []refSet
}

type refRec struct {
	out  Outcome
	line int
}

type refSet struct {
	exact, wild map[string]refRec
	// exists holds every owner name and all its ancestors (empty
	// non-terminals included), in query space; "" is the apex.
	exists map[string]bool
	// removedExact and removedWild keep the records that were removed
	// because DNS Firewall cannot express them, by owner (wildcards by the
	// name under the "*"), so that explain can say which record BIND would
	// have used and why rpzfw cannot.
	removedExact, removedWild map[string]Removal
}

// Removal is a record removed from a policy because DNS Firewall cannot
// express it: as if it were not in its zone.
type Removal struct {
	// Source indexes the policy's sources.
	Source int
	Line   int
	// Entry is the record's trigger ("name" or "*.name").
	Entry string
	// Says is what the record asks BIND to do ("DROP", "local data", ...).
	Says string
	// Reason is the key of Plan.Removed; Why says it for people.
	Reason, Why string
}

// removalWhy says why a record of a reason is removed.
func removalWhy(reason string) string {
	switch reason {
	case ReasonDrop:
		return "DNS Firewall cannot drop a query"
	case ReasonTCPOnly:
		return "DNS Firewall cannot make a client retry over TCP"
	case ReasonLocalData:
		return "DNS Firewall cannot answer with local data (A, AAAA, TXT, ...)"
	case ReasonWildcardCNAME:
		return "DNS Firewall cannot answer with a CNAME that keeps the query's labels"
	case "too-long":
		return "the name or the walled-garden target is longer than a DNS Firewall domain list allows"
	case "invalid-name":
		return "a DNS Firewall domain list cannot hold the name"
	}
	return "DNS Firewall cannot express it (" + reason + ")"
}

// recordSays says what a record asks for, for people.
func recordSays(rec rpz.Record) string {
	switch rec.Action {
	case 0:
		return "NXDOMAIN"
	case rpz.ActionCNAME, rpz.ActionWildcardCNAME:
		return "CNAME " + rec.Target
	case rpz.ActionLocalData:
		return "local data"
	}
	return rec.Action.String()
}

// NewReference returns an empty reference evaluator.
func NewReference() *Reference { return &Reference{} }

// AddSource appends a source in precedence order and returns its index.
func (r *Reference) AddSource(s Source) (int, error) {
	r.sources = append(r.sources, s)
	r.sets = append(r.sets, refSet{exact: map[string]refRec{}, wild: map[string]refRec{}, exists: map[string]bool{},
		removedExact: map[string]Removal{}, removedWild: map[string]Removal{}})
	return len(r.sources) - 1, nil
}

// Add records one record of source src. Records DNS Firewall cannot
// express are left out, as the compiler leaves them out.
func (r *Reference) Add(src int, rec rpz.Record) {
	out, reason := r.outcomes.outcomeOf(r.sources[src], rec)
	set := &r.sets[src]
	if reason != "" && rec.Trigger == rpz.TriggerQName && reason != ReasonTooManyGardens {
		m := set.removedExact
		if rec.Wildcard {
			m = set.removedWild
		}
		if _, dup := m[rec.Name]; !dup {
			m[rec.Name] = Removal{Source: src, Line: rec.Line, Entry: rec.Entry(), Says: recordSays(rec), Reason: reason, Why: removalWhy(reason)}
		}
	}
	if out == noEntry || out.removed() {
		return
	}
	m := set.exact
	owner := rec.Name
	if rec.Wildcard {
		m = set.wild
		owner = rec.Entry()
	}
	if _, dup := m[rec.Name]; !dup {
		m[rec.Name] = refRec{out: out, line: rec.Line}
	}
	for n := owner; ; n = parentName(n) {
		set.exists[n] = true
		if n == "" {
			break
		}
	}
}

// parentName drops the first label; a query name may hold an escaped dot
// inside a label ("mal\.war.example"), which ends no label.
func parentName(n string) string { return dnsfw.Parent(n) }

// Step is what one source says about a query name.
type Step struct {
	Source string
	// Match is true when this source has a policy for the name.
	Match bool
	// Line of the deciding record, when Match.
	Line int
	// Says explains the lookup in words.
	Says string
	// Removed is the removed record BIND would have matched here, when
	// the source has no policy for the name only because of a removal.
	Removed *Removal
}

// Decision is the policy's outcome for one query name.
type Decision struct {
	Name string
	// Source is the index of the deciding source, -1 when none matched.
	Source int
	Line   int
	// Describe is the outcome in words ("NXDOMAIN", "no rewrite", ...).
	Describe string
	// View is what a client sees on a blocking device, spelled like
	// dnsfw.Verdict.Outcome(true).
	View  string
	Steps []Step
	// Removed is the first removed record that BIND, holding it, would
	// have used instead of the outcome above (from a source before the
	// deciding one, or from any source when none decides).
	Removed *Removal
	out     Outcome
}

// MonitorView is what a client sees on a monitor-only device.
func (d Decision) MonitorView() string {
	if d.out == NoMatch {
		return "PASS"
	}
	return "ALERT"
}

// Decide looks qname up in every source in precedence order; the first
// that matches decides.
func (r *Reference) Decide(qname string) Decision {
	q := dnsfw.NormalizeDomain(qname)
	d := Decision{Name: q, Source: -1, out: NoMatch}
	for s, src := range r.sources {
		step := Step{Source: src.Name}
		var rec refRec
		if src.Kind == KindList {
			rec, step.Match, step.Says = r.sets[s].lookupList(q)
		} else {
			rec, step.Match, step.Says = r.sets[s].lookupZone(q)
		}
		if step.Match {
			step.Line = rec.line
		} else if rm, ok := r.sets[s].removedFor(q, src.Kind); ok {
			step.Removed = &rm
			step.Says = fmt.Sprintf("the record %s at line %d (%s) was removed: %s; treated as not in the zone, no rewrite", rm.Entry, rm.Line, rm.Says, rm.Why)
			if d.Source < 0 && d.Removed == nil {
				d.Removed = &rm
			}
		}
		d.Steps = append(d.Steps, step)
		if step.Match && d.Source < 0 {
			d.Source, d.Line, d.out = s, rec.line, rec.out
		}
	}
	d.Describe = r.outcomes.describe(d.out)
	d.View = r.outcomes.clientView(d.out)
	return d
}

func (set *refSet) lookupZone(q string) (refRec, bool, string) {
	if rec, ok := set.exact[q]; ok {
		return rec, true, fmt.Sprintf("%s: exact record at line %d", r(q), rec.line)
	}
	if rest, ok := strings.CutPrefix(q, "*."); ok {
		if rec, ok := set.wild[rest]; ok { // a literal "*" label finds the wildcard's own node
			return rec, true, fmt.Sprintf("%s: the wildcard record at line %d", q, rec.line)
		}
	}
	if len(set.exists) == 0 {
		return refRec{}, false, "no records"
	}
	if set.exists[q] {
		return refRec{}, false, fmt.Sprintf("%s exists in the zone without policy data (an empty non-terminal): no rewrite", r(q))
	}
	ce := parentName(q)
	for !set.exists[ce] {
		ce = parentName(ce)
	}
	if rec, ok := set.wild[ce]; ok {
		return rec, true, fmt.Sprintf("closest encloser %s, wildcard %s at line %d", r(ce), dnsfw.Entry(ce, true), rec.line)
	}
	return refRec{}, false, fmt.Sprintf("closest encloser %s has no wildcard: no rewrite", r(ce))
}

// removedFor returns the removed record that would match q in this
// source had it been kept: an exact one, or else the nearest wildcard
// above q that no kept name shadows (for zones: at or below the closest
// encloser; for lists: any).
func (set *refSet) removedFor(q string, kind Kind) (Removal, bool) {
	if len(set.removedExact) == 0 && len(set.removedWild) == 0 {
		return Removal{}, false
	}
	if rm, ok := set.removedExact[q]; ok {
		return rm, true
	}
	if kind == KindZone && set.exists[q] {
		return Removal{}, false // q exists: no wildcard applies to it
	}
	for a := q; a != ""; {
		a = parentName(a)
		if rm, ok := set.removedWild[a]; ok {
			return rm, true
		}
		if kind == KindZone && set.exists[a] {
			break // the closest encloser: wildcards above it do not apply
		}
	}
	return Removal{}, false
}

func (set *refSet) lookupList(q string) (refRec, bool, string) {
	if rec, ok := set.exact[q]; ok {
		return rec, true, fmt.Sprintf("entry %s at line %d", q, rec.line)
	}
	for a := q; a != ""; {
		a = parentName(a)
		if rec, ok := set.wild[a]; ok {
			return rec, true, fmt.Sprintf("entry %s at line %d", dnsfw.Entry(a, true), rec.line)
		}
	}
	return refRec{}, false, "no entry"
}

// r spells the apex as "." in messages.
func r(name string) string {
	if name == "" {
		return "the apex"
	}
	return name
}
