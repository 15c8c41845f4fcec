package rpz

// Trigger says what a record's owner name matches.
type Trigger uint8

const (
	// TriggerQName matches query names: the record's Name exactly, or its
	// strict subdomains when Wildcard is set.
	TriggerQName Trigger = iota
	// TriggerIP matches addresses in answers (rpz-ip).
	TriggerIP
	// TriggerNSIP matches name server addresses (rpz-nsip).
	TriggerNSIP
	// TriggerClientIP matches the client address (rpz-client-ip).
	TriggerClientIP
	// TriggerNSDName matches name server names (rpz-nsdname).
	TriggerNSDName
)

var triggerNames = [...]string{"qname", "rpz-ip", "rpz-nsip", "rpz-client-ip", "rpz-nsdname"}

func (t Trigger) String() string {
	if t == TriggerOutOfZone {
		return "out-of-zone"
	}
	if int(t) < len(triggerNames) {
		return triggerNames[t]
	}
	return "unknown"
}

// Action is the policy a record encodes.
type Action uint8

const (
	// ActionNXDomain is "CNAME .".
	ActionNXDomain Action = iota + 1
	// ActionNoData is "CNAME *.".
	ActionNoData
	// ActionPassthru is "CNAME rpz-passthru." or the old CNAME-to-self form.
	ActionPassthru
	// ActionDrop is "CNAME rpz-drop.".
	ActionDrop
	// ActionTCPOnly is "CNAME rpz-tcp-only.".
	ActionTCPOnly
	// ActionCNAME is a walled garden: "CNAME garden.example." (Target set).
	ActionCNAME
	// ActionWildcardCNAME is "CNAME *.garden.example.": the query name is
	// prefixed to the target, which DNS Firewall cannot do.
	ActionWildcardCNAME
	// ActionLocalData is any other record type (A, AAAA, TXT, ...).
	ActionLocalData
)

var actionNames = [...]string{"", "NXDOMAIN", "NODATA", "PASSTHRU", "DROP", "TCP-ONLY", "CNAME", "WILDCARD-CNAME", "LOCAL-DATA"}

func (a Action) String() string {
	if int(a) < len(actionNames) && a != 0 {
		return actionNames[a]
	}
	return "unknown"
}

// Record is one policy record.
type Record struct {
	// Trigger is the kind of trigger; Name and Wildcard apply to QNAME
	// triggers only.
	Trigger Trigger
	// Name is the query name the trigger covers: lower case, no trailing
	// dot, relative to the zone origin; "" is the root (a bare "*" at the
	// apex is Name "" with Wildcard).
	Name string
	// Wildcard is set for "*.name" triggers: strict subdomains only.
	Wildcard bool
	Action   Action
	// Target is the CNAME target for ActionCNAME and ActionWildcardCNAME,
	// lower case without trailing dot.
	Target string
	// TTL of the record, used as the override TTL of a walled garden.
	TTL uint32
	// Line is where the record starts in its file (1-based).
	Line int
}

// Entry formats the trigger as a DNS Firewall style entry: "name",
// "*.name" or "*".
func (r Record) Entry() string {
	switch {
	case !r.Wildcard:
		return r.Name
	case r.Name == "":
		return "*"
	default:
		return "*." + r.Name
	}
}
