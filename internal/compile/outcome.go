package compile

import (
	"fmt"

	"github.com/rpzfw/rpzfw/internal/dnsfw"
	"github.com/rpzfw/rpzfw/internal/rpz"
)

// Outcome is what the policy does with a query name. Values at or above
// firstOverride index a walled garden (target and TTL) in an outcomeTable.
type Outcome uint16

const (
	// NoMatch: no policy applies, the name resolves normally.
	NoMatch Outcome = iota
	// Passthru: a policy says "do not rewrite"; DNS Firewall ALERT.
	Passthru
	NXDomain
	NoData
	// Outcomes DNS Firewall cannot express. They exist so that duplicate
	// and conflicting records can be recognised before they are removed.
	removedDrop
	removedTCPOnly
	removedLocalData
	removedWildcardCNAME
	firstOverride
)

// noEntry marks the absence of an entry in the tree.
const noEntry Outcome = 0xFFFF

func (o Outcome) removed() bool { return o >= removedDrop && o < firstOverride }

// blocks reports whether o blocks the query on a blocking device.
func (o Outcome) blocks() bool { return o == NXDomain || o == NoData || o >= firstOverride }

// Override is a walled-garden answer.
type Override struct {
	Target string
	TTL    int
}

// outcomeTable interns walled gardens so that equal outcomes have equal
// values.
type outcomeTable struct {
	overrides []Override
	index     map[Override]Outcome
}

// maxOverrides bounds the distinct walled gardens: each needs a rule of its
// own, and a rule group holds at most a few hundred.
const maxOverrides = 4096

func (t *outcomeTable) override(target string, ttl uint32) Outcome {
	o := Override{Target: target, TTL: int(min(ttl, dnsfw.MaxOverrideTTL))}
	if v, ok := t.index[o]; ok {
		return v
	}
	if len(t.overrides) >= maxOverrides {
		return noEntry
	}
	if t.index == nil {
		t.index = map[Override]Outcome{}
	}
	v := firstOverride + Outcome(len(t.overrides))
	t.overrides = append(t.overrides, o)
	t.index[o] = v
	return v
}

// describe says what o does, for people.
func (t *outcomeTable) describe(o Outcome) string {
	switch o {
	case NoMatch:
		return "no rewrite"
	case Passthru:
		return "PASSTHRU"
	case NXDomain:
		return "NXDOMAIN"
	case NoData:
		return "NODATA"
	}
	if o >= firstOverride {
		ov := t.overrides[o-firstOverride]
		return fmt.Sprintf("CNAME %s (TTL %d)", ov.Target, ov.TTL)
	}
	return "removed"
}

// ClientView reduces o to what a client of a blocking resolver sees, the
// same spelling as dnsfw.Verdict.Outcome: "NXDOMAIN", "NODATA",
// "CNAME target", "ALERT" (passthru) or "PASS".
func (t *outcomeTable) clientView(o Outcome) string {
	switch {
	case o == NoMatch:
		return "PASS"
	case o == Passthru:
		return "ALERT"
	case o >= firstOverride:
		return "CNAME " + t.overrides[o-firstOverride].Target
	}
	return t.describe(o)
}

// Removal reasons, the keys of Plan.Removed.
const (
	ReasonDrop          = "drop"
	ReasonTCPOnly       = "tcp-only"
	ReasonLocalData     = "local-data"
	ReasonWildcardCNAME = "wildcard-cname"
	ReasonOutOfZone     = "out-of-zone"
	// ReasonTooManyGardens: more distinct walled gardens than any rule
	// group could hold; Compile fails when it counts any.
	ReasonTooManyGardens = "too-many-walled-gardens"
)

// outcomeOf maps one record to its outcome (the DESIGN mapping table), or to
// the reason it is removed. A reason with a valid outcome means the record
// still takes part in duplicate checks.
func (t *outcomeTable) outcomeOf(src Source, r rpz.Record) (Outcome, string) {
	switch r.Trigger {
	case rpz.TriggerQName:
	case rpz.TriggerOutOfZone:
		return noEntry, ReasonOutOfZone
	default:
		return noEntry, r.Trigger.String()
	}
	if r.Name != "" || !r.Wildcard {
		if err := dnsfw.ValidateDomain(r.Entry()); err != nil {
			return noEntry, dnsfw.DescribeDomainError(err)
		}
	}
	if src.Allow {
		return Passthru, ""
	}
	switch r.Action {
	case 0: // a block list entry
		return NXDomain, ""
	case rpz.ActionNXDomain:
		return NXDomain, ""
	case rpz.ActionNoData:
		return NoData, ""
	case rpz.ActionPassthru:
		return Passthru, ""
	case rpz.ActionCNAME:
		if len(r.Target) > dnsfw.MaxDomainLength {
			return noEntry, "too-long"
		}
		if o := t.override(r.Target, r.TTL); o != noEntry {
			return o, ""
		}
		return noEntry, ReasonTooManyGardens
	case rpz.ActionDrop:
		return removedDrop, ReasonDrop
	case rpz.ActionTCPOnly:
		return removedTCPOnly, ReasonTCPOnly
	case rpz.ActionWildcardCNAME:
		return removedWildcardCNAME, ReasonWildcardCNAME
	default:
		return removedLocalData, ReasonLocalData
	}
}
