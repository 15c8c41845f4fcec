package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/dnsfw"
	"github.com/rpzfw/rpzfw/internal/feed"
	"github.com/rpzfw/rpzfw/internal/store"
)

// PolicyFeeds read a stored policy through the service's feed managers:
// the last good copies the syncs compile (device.Policies does it).
type PolicyFeeds interface {
	// FeedStatus is each source's state, in precedence order.
	FeedStatus(ctx context.Context, p store.Policy) ([]feed.Status, error)
	// AcceptHeld makes a source's held update current.
	AcceptHeld(ctx context.Context, p store.Policy, source string) error
	// Plan compiles p for s.
	Plan(ctx context.Context, p store.Policy, s compile.Settings) (*compile.Plan, error)
	// Explain says why name gets its outcome under p compiled for s.
	Explain(ctx context.Context, p store.Policy, s compile.Settings, name string) (compile.Explanation, *compile.Plan, error)
}

// feeds is Config.Policies, or a 503 when the server has none (an API
// built without the service's feed managers).
func (s *Server) feeds() (PolicyFeeds, error) {
	if s.cfg.Policies == nil {
		return nil, apiErr(http.StatusServiceUnavailable, CodeNotReady, "", "this server does not read policy sources (no feed managers)")
	}
	return s.cfg.Policies, nil
}

// explainInput is the body of POST /api/v1/policies/{name}/explain.
type explainInput struct {
	Name   string `json:"name" doc:"The query name to explain."`
	Device string `json:"device,omitempty" doc:"Compile with this device's settings (mode, maximum size); default: the first device using the policy, else the defaults."`
}

// CompileSettings says which settings a policy is compiled with.
type CompileSettings struct {
	Device      string `json:"device,omitempty" doc:"The device whose settings were used; empty: the defaults."`
	MonitorOnly bool   `json:"monitor_only"`
	MaxDomains  int    `json:"max_domains"`
}

// ExplainStep is what one source says about the name.
type ExplainStep struct {
	Source  string `json:"source"`
	Match   bool   `json:"match"`
	Line    int    `json:"line,omitempty"`
	Says    string `json:"says"`
	Decides bool   `json:"decides"`
}

// ExplainRemoval is a record BIND would have used that DNS Firewall
// cannot express.
type ExplainRemoval struct {
	Source string `json:"source"`
	Line   int    `json:"line"`
	Entry  string `json:"entry"`
	Says   string `json:"says"`
	Reason string `json:"reason"`
	Why    string `json:"why"`
}

// ExplainRule is the rule of the plan that enforces the outcome.
type ExplainRule struct {
	Name     string `json:"name"`
	Priority int    `json:"priority"`
	Action   string `json:"action" doc:"ALLOW, ALERT, or BLOCK with its response (NXDOMAIN, NODATA, OVERRIDE CNAME ...)."`
	Entry    string `json:"entry" doc:"The domain list entry that matches."`
	Source   string `json:"source,omitempty" doc:"Where the entry comes from; empty for a carve-out."`
	Line     int    `json:"line,omitempty"`
	CarveOut bool   `json:"carve_out" doc:"An ALLOW entry no record asked for: it undoes a broader entry where the policy says no rewrite."`
}

// ExplainResult is the answer of POST /api/v1/policies/{name}/explain.
type ExplainResult struct {
	Name     string          `json:"name"`
	Settings CompileSettings `json:"settings"`
	Steps    []ExplainStep   `json:"steps" doc:"Each source in precedence order and what it says."`
	// DecidedBy is the source that decides, "" when none matches.
	DecidedBy string          `json:"decided_by" doc:"The deciding source; empty when no source matches."`
	Line      int             `json:"line,omitempty" doc:"The deciding record's line."`
	Bind      string          `json:"bind" doc:"What BIND would answer with this policy (NXDOMAIN, no rewrite, ...)."`
	Removed   *ExplainRemoval `json:"removed,omitempty"`
	Rule      *ExplainRule    `json:"rule,omitempty" doc:"The enforcing rule; absent when no rule matches and the query resolves normally."`
	Outcome   string          `json:"outcome" doc:"What a client sees from the device."`
	Agree     bool            `json:"agree" doc:"False when the plan differs from the policy for this name (only truncation does that)."`
	Text      string          `json:"text" doc:"The explanation as rpzfw explain prints it."`
}

func (s *Server) explainPolicy(w http.ResponseWriter, r *http.Request, c caller) error {
	pf, err := s.feeds()
	if err != nil {
		return err
	}
	p, err := s.policy(r, c)
	if err != nil {
		return err
	}
	raw, err := readBody(w, r)
	if err != nil {
		return err
	}
	var in explainInput
	if err := decodeJSON(raw, &in); err != nil {
		return err
	}
	name, err := queryName(in.Name)
	if err != nil {
		return err
	}
	set, cs, err := s.settingsFor(r.Context(), c, p.Name, in.Device)
	if err != nil {
		return err
	}
	e, plan, err := pf.Explain(r.Context(), p, set, name)
	if err != nil {
		return policyReadError(p.Name, err)
	}
	out, err := explainView(e, plan, cs)
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

// queryName checks a name to explain as "rpzfw explain" does: query
// names may hold what entries cannot (an underscore); only what is not a
// name at all is refused.
func queryName(raw string) (string, error) {
	name := dnsfw.NormalizeDomain(strings.TrimSpace(raw))
	if name == "" {
		return "", apiErr(http.StatusUnprocessableEntity, CodeInvalid, "name", "give the query name to explain, such as www.example.com")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c >= 0x7f {
			return "", apiErr(http.StatusUnprocessableEntity, CodeInvalid, "name", "%q is not a query name: it holds a space, a control character or a byte outside ASCII (write an IDN as punycode, xn--...)", raw)
		}
	}
	if strings.HasPrefix(name, ".") || strings.Contains(name, "..") || strings.HasSuffix(name, ".") && !strings.HasSuffix(name, `\.`) {
		return "", apiErr(http.StatusUnprocessableEntity, CodeInvalid, "name", "%q is not a query name: it has an empty label", raw)
	}
	if err := dnsfw.ValidateDomain(name); err != nil && (len(name) > 253 || strings.ContainsAny(name, "/@")) {
		return "", apiErr(http.StatusUnprocessableEntity, CodeInvalid, "name", "%q is not a query name: %v", raw, err)
	}
	return name, nil
}

// settingsFor returns the compile settings of the device named nick
// (which must use the policy), else of the first device (by nickname)
// that uses it, else the defaults.
func (s *Server) settingsFor(ctx context.Context, c caller, policy, nick string) (compile.Settings, CompileSettings, error) {
	devs, err := s.cfg.Store.ListDevices(ctx, c.org())
	if err != nil {
		return compile.Settings{}, CompileSettings{}, fmt.Errorf("listing devices: %w", err)
	}
	slices.SortFunc(devs, func(a, b store.Device) int { return strings.Compare(a.Nickname, b.Nickname) })
	for _, d := range devs {
		if nick != "" && d.Nickname != nick || d.Policy != policy {
			continue
		}
		set := device.Settings(d)
		return set, CompileSettings{Device: d.Nickname, MonitorOnly: set.MonitorOnly, MaxDomains: max(set.MaxDomains, 0)}, nil
	}
	if nick != "" {
		return compile.Settings{}, CompileSettings{}, apiErr(http.StatusUnprocessableEntity, CodeInvalid, "device", "no device named %q uses policy %q", nick, policy)
	}
	return compile.Settings{}, CompileSettings{MaxDomains: compile.DefaultMaxDomains}, nil
}

// policyReadError says why a policy could not be read: a source without a
// good copy or a policy that does not compile is the client's to fix.
func policyReadError(name string, err error) error {
	if errors.Is(err, device.ErrFeedUnavailable) || errors.Is(err, device.ErrPolicy) {
		return apiErr(http.StatusConflict, CodeNotCompiled, "", "policy %q cannot be read now: %v", name, err)
	}
	return fmt.Errorf("reading policy %q: %w", name, err)
}

func explainView(e compile.Explanation, p *compile.Plan, cs CompileSettings) (ExplainResult, error) {
	d := e.Decision
	out := ExplainResult{Name: d.Name, Settings: cs, Bind: d.Describe, Agree: e.Agree, Outcome: e.Verdict.Outcome(false)}
	if cs.MaxDomains == 0 {
		out.Settings.MaxDomains = p.Settings.MaxDomains
	}
	for i, st := range d.Steps {
		out.Steps = append(out.Steps, ExplainStep{Source: st.Source, Match: st.Match, Line: st.Line, Says: st.Says, Decides: i == d.Source})
	}
	if d.Source >= 0 && d.Source < len(d.Steps) {
		out.DecidedBy, out.Line = d.Steps[d.Source].Source, d.Line
	}
	if rm := d.Removed; rm != nil && rm.Source >= 0 && rm.Source < len(p.Sources) {
		out.Removed = &ExplainRemoval{Source: p.Sources[rm.Source], Line: rm.Line, Entry: rm.Entry, Says: rm.Says, Reason: rm.Reason, Why: rm.Why}
	}
	if e.Rule != nil {
		action := e.Rule.Action
		if e.Rule.BlockResponse != nil {
			action += " " + *e.Rule.BlockResponse
		}
		if e.Rule.BlockOverrideDomain != nil {
			action += " CNAME " + *e.Rule.BlockOverrideDomain
		}
		rule := &ExplainRule{Name: e.Rule.Name, Priority: e.Rule.Priority, Action: action, Entry: e.Verdict.Entry}
		if o := e.Origin; o != nil {
			if o.Source < 0 {
				rule.CarveOut = true
			} else if o.Source < len(p.Sources) {
				rule.Source, rule.Line = p.Sources[o.Source], o.Line
			}
		}
		out.Rule = rule
	}
	var b strings.Builder
	if err := e.Write(&b, p.Sources); err != nil {
		return out, fmt.Errorf("writing an explanation: %w", err)
	}
	out.Text = b.String()
	return out, nil
}
