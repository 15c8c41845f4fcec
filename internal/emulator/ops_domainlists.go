package emulator

// Domain lists: create, read, delete, list; their domains (update, list, import from S3).

import (
	"strings"
	"time"

	"github.com/rpzfw/rpzfw/internal/dnsfw"
)

type listOut struct {
	ID               string `json:"Id"`
	Arn              string `json:"Arn"`
	Name             string `json:"Name"`
	DomainCount      int    `json:"DomainCount"`
	Status           string `json:"Status"`
	StatusMessage    string `json:"StatusMessage,omitempty"`
	CreatorRequestID string `json:"CreatorRequestId"`
	CreationTime     string `json:"CreationTime"`
	ModificationTime string `json:"ModificationTime"`
}

type listMeta struct {
	ID               string `json:"Id"`
	Arn              string `json:"Arn"`
	Name             string `json:"Name"`
	CreatorRequestID string `json:"CreatorRequestId"`
}

func (e *Emulator) listView(l *domainList) listOut {
	st, msg := l.status(e.now())
	return listOut{ID: l.ID, Arn: l.ARN, Name: l.Name, DomainCount: len(l.Domains), Status: st, StatusMessage: msg,
		CreatorRequestID: l.CreatorRequestID, CreationTime: l.CreationTime, ModificationTime: l.ModificationTime}
}

func (e *Emulator) createFirewallDomainList(a *account, in struct {
	CreatorRequestID string `json:"CreatorRequestId"`
	Name             string
	Tags             []tag
}) (any, *apiError) {
	for _, l := range a.Lists {
		if l.CreatorRequestID == in.CreatorRequestID {
			return map[string]any{"FirewallDomainList": e.listView(l)}, nil // an idempotent retry
		}
	}
	if len(a.Lists) >= e.quotas.DomainLists {
		return nil, limitExceeded("FirewallDomainList", "Account '%s' has reached the limit of %d firewall domain lists", a.ID, e.quotas.DomainLists)
	}
	now := e.now()
	l := &domainList{ID: newID("rslvr-fdl-"), Name: in.Name, CreatorRequestID: in.CreatorRequestID,
		CreationTime: awsTime(now), ModificationTime: awsTime(now), Status: "COMPLETE", StatusMessage: "Created Firewall Domain List",
		Domains: map[string]struct{}{}}
	l.ARN = a.arn("firewall-domain-list", l.ID)
	a.Lists[l.ID] = l
	e.applyTags(a, l.ARN, in.Tags)
	return map[string]any{"FirewallDomainList": e.listView(l)}, nil
}

func (e *Emulator) getList(a *account, id string) (*domainList, *apiError) {
	l, ok := a.Lists[id]
	if !ok {
		return nil, notFound("FirewallDomainList", id)
	}
	return l, nil
}

func (e *Emulator) getFirewallDomainList(a *account, in struct {
	FirewallDomainListID string `json:"FirewallDomainListId"`
}) (any, *apiError) {
	l, err := e.getList(a, in.FirewallDomainListID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"FirewallDomainList": e.listView(l)}, nil
}

func (e *Emulator) deleteFirewallDomainList(a *account, in struct {
	FirewallDomainListID string `json:"FirewallDomainListId"`
}) (any, *apiError) {
	l, err := e.getList(a, in.FirewallDomainListID)
	if err != nil {
		return nil, err
	}
	for _, g := range a.Groups {
		for _, r := range g.Rules {
			if r.DomainListID == l.ID {
				return nil, conflict("The firewall domain list '%s' is in use by rule group '%s'", l.ID, g.ID)
			}
		}
	}
	out := e.listView(l)
	out.Status = "DELETING"
	delete(a.Lists, l.ID)
	delete(a.Tags, l.ARN)
	return map[string]any{"FirewallDomainList": out}, nil
}

func (e *Emulator) listFirewallDomainLists(a *account, in struct {
	MaxResults int
	NextToken  string
}) (any, *apiError) {
	all := make([]listMeta, 0, len(a.Lists))
	for _, l := range sortedByCreation(a.Lists, func(l *domainList) (string, string) { return l.CreationTime, l.ID }) {
		all = append(all, listMeta{ID: l.ID, Arn: l.ARN, Name: l.Name, CreatorRequestID: l.CreatorRequestID})
	}
	items, next, err := page(all, in.NextToken, in.MaxResults, 100)
	if err != nil {
		return nil, err
	}
	return map[string]any{"FirewallDomainLists": items, "NextToken": omitEmpty(next)}, nil
}

// MaxDomainsPerUpdate is the most domains one UpdateFirewallDomains takes.
const MaxDomainsPerUpdate = 1000

func (e *Emulator) updateFirewallDomains(a *account, in struct {
	FirewallDomainListID string `json:"FirewallDomainListId"`
	Operation            string
	Domains              []string
}) (any, *apiError) {
	l, err := e.getList(a, in.FirewallDomainListID)
	if err != nil {
		return nil, err
	}
	if len(in.Domains) > MaxDomainsPerUpdate {
		return nil, validationErr("The number of domains in the request (%d) exceeds the limit of %d domains per request", len(in.Domains), MaxDomainsPerUpdate)
	}
	norm := make([]string, len(in.Domains))
	for i, d := range in.Domains {
		n := dnsfw.NormalizeDomain(d)
		if verr := dnsfw.ValidateDomain(n); verr != nil {
			return nil, validationErr("Invalid domain '%s': %v", d, verr)
		}
		norm[i] = n
	}
	if st, _ := l.status(e.now()); st == "UPDATING" || st == "IMPORTING" {
		return nil, conflict("The firewall domain list '%s' is being updated (status %s); try again when it is COMPLETE", l.ID, st)
	}
	next := map[string]struct{}{}
	switch in.Operation {
	case "ADD":
		added := 0
		for _, d := range norm {
			if _, ok := l.Domains[d]; !ok {
				if _, dup := next[d]; !dup {
					next[d] = struct{}{}
					added++
				}
			}
		}
		if a.domainCount()+added > e.quotas.Domains {
			return nil, limitExceeded("FirewallDomain", "Account '%s' would exceed the limit of %d firewall domains in %s", a.ID, e.quotas.Domains, a.Region)
		}
		for d := range next {
			l.Domains[d] = struct{}{}
		}
	case "REMOVE":
		for _, d := range norm {
			delete(l.Domains, d)
		}
	case "REPLACE":
		for _, d := range norm {
			next[d] = struct{}{}
		}
		if a.domainCount()-len(l.Domains)+len(next) > e.quotas.Domains {
			return nil, limitExceeded("FirewallDomain", "Account '%s' would exceed the limit of %d firewall domains in %s", a.ID, e.quotas.Domains, a.Region)
		}
		l.Domains = next
	}
	l.sorted = nil
	now := e.now()
	l.Status, l.StatusMessage, l.SettleAt, l.ModificationTime = "UPDATING", "Updating the Firewall Domain List", now.Add(e.settle), awsTime(now)
	e.changed()
	return map[string]any{"Id": l.ID, "Name": l.Name, "Status": l.Status, "StatusMessage": l.StatusMessage}, nil
}

func (e *Emulator) listFirewallDomains(a *account, in struct {
	FirewallDomainListID string `json:"FirewallDomainListId"`
	MaxResults           int
	NextToken            string
}) (any, *apiError) {
	l, err := e.getList(a, in.FirewallDomainListID)
	if err != nil {
		return nil, err
	}
	items, next, perr := page(l.sortedDomains(), in.NextToken, in.MaxResults, 100)
	if perr != nil {
		return nil, perr
	}
	out := make([]string, len(items))
	for i, d := range items {
		out[i] = d + "." // the service returns fully qualified names
	}
	return map[string]any{"Domains": out, "NextToken": omitEmpty(next)}, nil
}

func (e *Emulator) importFirewallDomains(a *account, in struct {
	FirewallDomainListID string `json:"FirewallDomainListId"`
	Operation            string
	DomainFileURL        string `json:"DomainFileUrl"`
}) (any, *apiError) {
	l, err := e.getList(a, in.FirewallDomainListID)
	if err != nil {
		return nil, err
	}
	bucket, key, ok := parseS3URL(in.DomainFileURL)
	if !ok {
		return nil, validationErr("DomainFileUrl '%s' is not an s3://bucket/key URL", in.DomainFileURL)
	}
	if st, _ := l.status(e.now()); st == "UPDATING" || st == "IMPORTING" {
		return nil, conflict("The firewall domain list '%s' is being updated (status %s)", l.ID, st)
	}
	now := e.now()
	l.Status, l.StatusMessage, l.ModificationTime = "IMPORTING", "Importing domains", awsTime(now)
	// The import finishes no sooner than the settle delay; the fetch runs
	// outside the lock and records its result.
	l.SettleAt = now.Add(24 * time.Hour)
	go e.runImport(a.ID, a.Region, l.ID, bucket, key)
	return map[string]any{"Id": l.ID, "Name": l.Name, "Status": l.Status, "StatusMessage": l.StatusMessage}, nil
}

func parseS3URL(u string) (bucket, key string, ok bool) {
	rest, found := strings.CutPrefix(u, "s3://")
	if !found {
		return "", "", false
	}
	bucket, key, ok = strings.Cut(rest, "/")
	return bucket, key, ok && bucket != "" && key != ""
}
