package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver/types"

	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/store"
)

// Read-only answers the portal's device pages need beyond the rest of the
// API: the device's IAM policy without a preflight, and a canary name
// that its firewall blocks, for the setup's test step.

// IAMPolicyView is the answer of GET /api/v1/devices/{nickname}/iam-policy.
type IAMPolicyView struct {
	Account string          `json:"account" doc:"The AWS account the policy is for (learned at the first sync or preflight)."`
	Policy  json.RawMessage `json:"policy" doc:"The least-privilege IAM policy document for this device."`
}

func (s *Server) getIAMPolicy(w http.ResponseWriter, r *http.Request, c caller) error {
	d, err := s.device(r, c)
	if err != nil {
		return err
	}
	if d.AccountID == "" {
		return apiErr(http.StatusConflict, CodeConflict, "", "the AWS account of device %q is not known yet: it is learned at the first sync, or run the preflight (POST .../preflight), which also gives the policy", d.Nickname)
	}
	doc, err := device.IAMPolicy(d, d.AccountID)
	if err != nil {
		return apiErr(http.StatusConflict, CodeConflict, "", "no IAM policy for device %q: %v", d.Nickname, err)
	}
	s.writeJSON(w, http.StatusOK, IAMPolicyView{Account: d.AccountID, Policy: json.RawMessage(doc.JSON())})
	return nil
}

// CanaryView is the answer of GET /api/v1/devices/{nickname}/canary.
type CanaryView struct {
	Name          string `json:"name" doc:"A name the device's firewall blocks (or, in monitor-only mode, would block): dig it to test the setup."`
	Entry         string `json:"entry" doc:"The domain list entry that matches the name (a wildcard gives a made-up name under it)."`
	Rule          string `json:"rule" doc:"The rule whose list holds it."`
	Action        string `json:"action" doc:"The rule's action in the firewall: BLOCK, or ALERT in monitor-only mode."`
	Intent        string `json:"intent" doc:"What the policy asks: nxdomain, nodata or garden (a CNAME to a walled garden)."`
	BlockResponse string `json:"block_response,omitempty" doc:"NXDOMAIN, NODATA or OVERRIDE, for a BLOCK rule."`
	Override      string `json:"override,omitempty" doc:"The walled garden's name, for OVERRIDE."`
}

// canaryListPage bounds how many entries of a list are read to find one.
const canaryListPage = 100

// getCanary reads, with the device's credentials, the first rule of
// rpzfw's plan that blocks, and one name of its domain list: a name the
// firewall really blocks rather than one the page hopes it does.
func (s *Server) getCanary(w http.ResponseWriter, r *http.Request, c caller) error {
	d, err := s.device(r, c)
	if err != nil {
		return err
	}
	st, err := s.cfg.Store.GetStatus(r.Context(), d.ID)
	if err != nil {
		return fmt.Errorf("reading the status of device %q: %w", d.Nickname, err)
	}
	blocking, err := blockingRules(st)
	if err != nil {
		return err
	}
	if len(blocking) == 0 {
		return apiErr(http.StatusNotFound, CodeNotFound, "", "device %q has no rule that blocks yet: its plan is compiled at its first sync, and a policy that only allows blocks nothing", d.Nickname)
	}
	if d.CredKind == store.CredAmbient && !s.cfg.DeviceRules.AllowAmbient && d.Region != device.SandboxRegion {
		return apiErr(http.StatusConflict, CodeConflict, "credentials.type", "device %q uses this server's own AWS credentials, which this server does not lend (serve --allow-ambient-credentials)", d.Nickname)
	}
	conn := device.Connector{Keyring: s.cfg.Keyring, SandboxEndpoint: s.cfg.DeviceRules.SandboxEndpoint, MaxAttempts: 2}
	cl, err := conn.Connect(r.Context(), d)
	if err != nil {
		return apiErr(http.StatusBadGateway, CodeUpstream, "", "reading the rules of device %q: %v", d.Nickname, err)
	}
	v, err := findCanary(r, cl.Resolver, d.RuleGroupID, blocking)
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, v)
	return nil
}

// blockingRules are the names of the plan's rules that block (or would,
// in monitor-only mode), in priority order, with what each asks.
func blockingRules(st store.Status) (map[string]string, error) {
	out := map[string]string{}
	if len(st.Plan) == 0 {
		return out, nil
	}
	var sum device.Summary
	if err := json.Unmarshal(st.Plan, &sum); err != nil {
		return nil, fmt.Errorf("reading the stored plan: %w", err)
	}
	for _, rl := range sum.Rules {
		for _, intent := range []string{"nxdomain", "nodata", "garden"} {
			if strings.HasSuffix(rl.Name, "-"+intent) && rl.DomainCount > 0 {
				out[rl.Name] = intent
			}
		}
	}
	return out, nil
}

func findCanary(r *http.Request, api *r53r.Client, group string, blocking map[string]string) (CanaryView, error) {
	var rules []types.FirewallRule
	in := &r53r.ListFirewallRulesInput{FirewallRuleGroupId: aws.String(group)}
	for {
		out, err := api.ListFirewallRules(r.Context(), in)
		if err != nil {
			return CanaryView{}, apiErr(http.StatusBadGateway, CodeUpstream, "", "listing the rules of rule group %s: %v", group, err)
		}
		rules = append(rules, out.FirewallRules...)
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	// An NXDOMAIN is the plainest answer to recognize: prefer its rules.
	for _, rl := range sortedByIntent(rules, blocking) {
		intent, ok := blocking[aws.ToString(rl.Name)]
		if !ok {
			continue
		}
		out, err := api.ListFirewallDomains(r.Context(), &r53r.ListFirewallDomainsInput{FirewallDomainListId: rl.FirewallDomainListId, MaxResults: aws.Int32(canaryListPage)})
		if err != nil {
			return CanaryView{}, apiErr(http.StatusBadGateway, CodeUpstream, "", "listing the domains of list %s: %v", aws.ToString(rl.FirewallDomainListId), err)
		}
		entry := pickEntry(out.Domains)
		if entry == "" {
			continue
		}
		v := CanaryView{Name: canaryName(entry), Entry: entry, Rule: aws.ToString(rl.Name), Action: string(rl.Action), Intent: intent,
			BlockResponse: string(rl.BlockResponse), Override: strings.TrimSuffix(aws.ToString(rl.BlockOverrideDomain), ".")}
		return v, nil
	}
	return CanaryView{}, apiErr(http.StatusNotFound, CodeNotFound, "", "no rule of rule group %s that blocks holds a domain yet: sync the device first", group)
}

// intentRank orders what a test name should show, plainest first.
var intentRank = map[string]int{"nxdomain": 0, "nodata": 1, "garden": 2}

// sortedByIntent orders the rules that block by intent, then priority.
func sortedByIntent(rules []types.FirewallRule, blocking map[string]string) []types.FirewallRule {
	out := append([]types.FirewallRule(nil), rules...)
	sort.SliceStable(out, func(i, j int) bool {
		ri, rj := intentRank[blocking[aws.ToString(out[i].Name)]], intentRank[blocking[aws.ToString(out[j].Name)]]
		if ri != rj {
			return ri < rj
		}
		return aws.ToInt32(out[i].Priority) < aws.ToInt32(out[j].Priority)
	})
	return out
}

// pickEntry prefers an exact name (dig it as it is) to a wildcard.
func pickEntry(domains []string) string {
	wild := ""
	for _, d := range domains {
		if !strings.HasPrefix(d, "*") {
			return d
		}
		if wild == "" {
			wild = d
		}
	}
	return wild
}

// canaryName is a name entry matches: itself, or a made-up label under a
// wildcard (which matches subdomains only).
func canaryName(entry string) string {
	entry = strings.TrimSuffix(entry, ".")
	if rest, ok := strings.CutPrefix(entry, "*."); ok {
		return "rpzfw-canary." + rest
	}
	return entry
}
