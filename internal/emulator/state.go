package emulator

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"time"
)

// Quotas are the per-account, per-region limits (AWS defaults).
type Quotas struct {
	Domains       int `json:"domains"`
	DomainLists   int `json:"domain_lists"`
	RulesPerGroup int `json:"rules_per_group"`
	RuleGroups    int `json:"rule_groups"`
}

// DefaultQuotas are the AWS default quotas.
var DefaultQuotas = Quotas{Domains: 100000, DomainLists: 1000, RulesPerGroup: 100, RuleGroups: 1000}

type domainList struct {
	ID               string
	ARN              string
	Name             string
	CreatorRequestID string
	CreationTime     string
	ModificationTime string
	Status           string // UPDATING/IMPORTING until SettleAt, then COMPLETE (or ImportFailed)
	StatusMessage    string
	SettleAt         time.Time
	ImportFailed     string // set when the pending import failed
	Domains          map[string]struct{}
	sorted           []string // cache for paging, nil when stale
}

type rule struct {
	RuleGroupID        string
	DomainListID       string
	ThreatProtectionID string
	Name               string
	Priority           int
	Action             string
	BlockResponse      string
	OverrideDomain     string
	OverrideDNSType    string
	OverrideTTL        *int
	CreatorRequestID   string
	CreationTime       string
	ModificationTime   string
	RedirectionAction  string
	Qtype              string
	ThreatProtection   string
	ConfidenceLevel    string
}

type ruleGroup struct {
	ID               string
	ARN              string
	Name             string
	CreatorRequestID string
	CreationTime     string
	ModificationTime string
	Rules            []*rule
	Policy           string
}

type association struct {
	ID                 string
	ARN                string
	RuleGroupID        string
	VPCID              string
	Name               string
	Priority           int
	MutationProtection string
	CreatorRequestID   string
	CreationTime       string
	ModificationTime   string
	SettleAt           time.Time
}

type firewallConfig struct {
	ID       string
	VPCID    string
	FailOpen string
}

// account is the state of one account in one region.
type account struct {
	ID      string
	Region  string
	Lists   map[string]*domainList
	Groups  map[string]*ruleGroup
	Assocs  map[string]*association
	Configs map[string]*firewallConfig // by VPC
	Tags    map[string]map[string]string
}

func newAccount(id, region string) *account {
	return &account{ID: id, Region: region, Lists: map[string]*domainList{}, Groups: map[string]*ruleGroup{},
		Assocs: map[string]*association{}, Configs: map[string]*firewallConfig{}, Tags: map[string]map[string]string{}}
}

func (a *account) arn(kind, id string) string {
	return fmt.Sprintf("arn:aws:route53resolver:%s:%s:%s/%s", a.Region, a.ID, kind, id)
}

func (a *account) domainCount() int {
	n := 0
	for _, l := range a.Lists {
		n += len(l.Domains)
	}
	return n
}

// newID makes an AWS-looking resource ID: "rslvr-fdl-" and 17 hex digits.
func newID(prefix string) string {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])[:17]
}

// awsTime formats t the way Route 53 Resolver returns its Rfc3339TimeString
// members.
func awsTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

func (l *domainList) sortedDomains() []string {
	if l.sorted == nil {
		l.sorted = make([]string, 0, len(l.Domains))
		for d := range l.Domains {
			l.sorted = append(l.sorted, d)
		}
		slices.Sort(l.sorted)
	}
	return l.sorted
}

// status is the list's status at now: changes settle after a delay.
func (l *domainList) status(now time.Time) (string, string) {
	if l.Status != "COMPLETE" && l.Status != "COMPLETE_IMPORT_FAILED" && !now.Before(l.SettleAt) {
		if l.ImportFailed != "" {
			l.Status, l.StatusMessage = "COMPLETE_IMPORT_FAILED", l.ImportFailed
			l.ImportFailed = ""
		} else {
			l.Status, l.StatusMessage = "COMPLETE", "Created Firewall Domain List"
		}
	}
	return l.Status, l.StatusMessage
}

func (g *ruleGroup) sortRules() {
	slices.SortStableFunc(g.Rules, func(a, b *rule) int { return a.Priority - b.Priority })
}
