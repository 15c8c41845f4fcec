package querylog

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/emulator"
	"github.com/rpzfw/rpzfw/internal/fwsync"
	"github.com/rpzfw/rpzfw/internal/policy"
	"github.com/rpzfw/rpzfw/internal/store"
	"github.com/rpzfw/rpzfw/internal/store/sqlstore"
)

// feedZone is the test policy's feed: a wildcard block, a carve-out by
// PASSTHRU, and a walled garden.
const feedZone = `$ORIGIN feed.test.
$TTL 300
@ SOA ns.feed.test. admin.feed.test. 1 3600 600 86400 300
@ NS ns.feed.test.
*.bad.example CNAME .
pass.bad.example CNAME rpz-passthru.
garden.example CNAME walled.example.
`

// testPlan compiles the test policy: allow list, block list, the feed.
func testPlan(t *testing.T, monitor bool) *compile.Plan {
	t.Helper()
	path := filepath.Join(t.TempDir(), "feed.rpz")
	if err := os.WriteFile(path, []byte(feedZone), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := policy.ParseZoneArg(path)
	if err != nil {
		t.Fatal(err)
	}
	src.Name = "feed"
	pol := policy.Policy{
		Allow:   policy.ListSpec{Domains: []string{"ok.bad.example"}},
		Block:   policy.ListSpec{Domains: []string{"blocked.example"}},
		Sources: []policy.SourceSpec{src},
	}
	b := compile.NewBuilder()
	if err := pol.Load(t.Context(), b, nil); err != nil {
		t.Fatal(err)
	}
	p, err := b.Compile(compile.Settings{MonitorOnly: monitor})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// deployed is a plan as if synced: list "list-N" holds rule N's domains.
func deployed(p *compile.Plan) (*fwsync.State, map[string][]string) {
	st := &fwsync.State{Lists: map[string]*fwsync.ListRecord{}}
	doms := map[string][]string{}
	for i, r := range p.Rules {
		id := fmt.Sprintf("list-%d", i+1)
		st.Lists[id] = &fwsync.ListRecord{ID: id, Count: len(r.Domains)}
		doms[id] = r.Domains
	}
	return st, doms
}

// listOf is the list holding domain in deployed's layout.
func listOf(t *testing.T, p *compile.Plan, domain string) string {
	t.Helper()
	for i, r := range p.Rules {
		for _, d := range r.Domains {
			if d == domain {
				return fmt.Sprintf("list-%d", i+1)
			}
		}
	}
	t.Fatalf("no rule holds %s", domain)
	return ""
}

func openStore(t *testing.T) *sqlstore.DB {
	t.Helper()
	s, err := sqlstore.Open(t.Context(), filepath.Join(t.TempDir(), "rpzfw.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// testDevice makes an organization, a policy and a device with log upload
// on queue, rule group rg, associated with vpcs.
func testDevice(t *testing.T, s store.Store, org, nick, rg, queue string, vpcs ...string) store.Device {
	t.Helper()
	ctx := t.Context()
	o, err := s.OrgByName(ctx, org)
	if err != nil {
		if o, err = s.CreateOrg(ctx, org); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreatePolicy(ctx, store.Policy{OrgID: o.ID, Name: "p", Doc: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	d, err := s.CreateDevice(ctx, store.Device{OrgID: o.ID, Nickname: nick, Provider: "aws-dns-firewall", Policy: "p", Region: "us-east-1",
		RuleGroupID: rg, LogEnabled: true, LogQueueURL: queue})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutStatus(ctx, store.Status{DeviceID: d.ID, State: store.StateInSync, VPCs: vpcs}); err != nil {
		t.Fatal(err)
	}
	return d
}

// logLine is a query log line as the emulator writes it.
func logLine(at time.Time, vpc, name, src, rg, action, list string) string {
	rec := emulator.LogRecord{Version: "1.100000", AccountID: "123456789012", Region: "us-east-1", VpcID: vpc,
		QueryTimestamp: at.UTC().Format(time.RFC3339), QueryName: name, QueryType: "A", QueryClass: "IN", Rcode: "NOERROR",
		Answers: []emulator.LogAnswer{}, SrcAddr: src, SrcPort: "5353", Transport: "UDP", SrcIDs: map[string]string{"instance": "i-0abc"},
		FirewallRuleGroupID: rg, FirewallRuleAction: action, FirewallDomainListID: list}
	if action == store.ActionBlock {
		rec.Rcode = "NXDOMAIN"
	}
	b, _ := json.Marshal(rec)
	return string(b)
}
