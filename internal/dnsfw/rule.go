package dnsfw

// Rule actions and block responses, spelled as in the AWS API.
const (
	ActionAllow = "ALLOW"
	ActionAlert = "ALERT"
	ActionBlock = "BLOCK"

	BlockNXDomain = "NXDOMAIN"
	BlockNoData   = "NODATA"
	BlockOverride = "OVERRIDE"

	OverrideTypeCNAME = "CNAME"

	// MaxOverrideTTL is the largest BlockOverrideTtl the API accepts.
	MaxOverrideTTL = 604800
)

// Rule is one DNS Firewall rule with its domain list. Member names follow the
// AWS API; members that do not apply to the action are nil, so the JSON form
// shows them as null.
type Rule struct {
	Name                 string
	Priority             int
	Action               string
	BlockResponse        *string
	BlockOverrideDomain  *string
	BlockOverrideDnsType *string
	BlockOverrideTtl     *int
	Domains              []string
	// Qtype limits the rule to one query type ("A", "AAAA", ...); empty
	// matches every type. Plans never set it; the emulator does.
	Qtype string `json:"-"`
}

// Verdict is what DNS Firewall does with one query name.
type Verdict struct {
	// Matched is false when no rule matched: the query resolves normally.
	Matched bool
	// Rule is the index of the deciding rule in the evaluated slice.
	Rule int
	// Entry is the domain list entry that matched ("*.example.com").
	Entry               string
	Action              string
	BlockResponse       string
	BlockOverrideDomain string
	BlockOverrideTTL    int
}

// Outcome is the verdict reduced to what a client sees: "NXDOMAIN",
// "NODATA", "CNAME <target>" or "PASS" (ALLOW, ALERT or no match), with
// "ALERT" kept distinct when alert is true.
func (v Verdict) Outcome(alert bool) string {
	if !v.Matched {
		return "PASS"
	}
	switch v.Action {
	case ActionBlock:
		if v.BlockResponse == BlockOverride {
			return "CNAME " + v.BlockOverrideDomain
		}
		return v.BlockResponse
	case ActionAlert:
		if alert {
			return "ALERT"
		}
	}
	return "PASS"
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
