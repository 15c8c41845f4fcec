package api

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/policydoc"
	"github.com/rpzfw/rpzfw/internal/store"
)

// zoneFile writes an RPZ zone with the given records after its SOA and NS
// (line 5 on), and returns its path.
func zoneFile(t *testing.T, dir string, serial int, records ...string) string {
	t.Helper()
	body := fmt.Sprintf("$TTL 300\n$ORIGIN rpz.test.\n@ SOA localhost. hostmaster.invalid. %d 3600 600 86400 60\n@ NS localhost.\n%s\n", serial, strings.Join(records, "\n"))
	path := filepath.Join(dir, "feed.rpz")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// withFeeds gives the API real feed managers reading files under root.
func withFeeds(t *testing.T, root string) envOption {
	return func(c *Config) {
		opts := policydoc.Options{FileRoots: []string{root}}
		c.PolicyOptions = opts
		c.Policies = device.NewPolicies(device.PoliciesConfig{DataDir: t.TempDir(), Keyring: c.Keyring, Options: opts})
	}
}

func feedPolicy(name, path, refresh string) map[string]any {
	return map[string]any{
		"name": name, "max_shrink": "50%",
		"allow_list": []string{"ok.evil.example"},
		"block_list": []string{"listed.example", "*.listed-wild.example"},
		"sources":    []any{map[string]any{"name": "feed", "kind": "file", "path": path, "format": "rpz", "refresh": refresh}},
	}
}

func TestExplainPolicy(t *testing.T) {
	root := t.TempDir()
	e := newEnv(t, withFeeds(t, root))
	path := zoneFile(t, root, 1, "evil.example CNAME .", "*.ads.example CNAME *.", "drop.example CNAME rpz-drop.")
	e.must(201, "POST", "/api/v1/policies", e.admin, feedPolicy("fp", path, "1h"))
	tests := []struct {
		name, decidedBy string
		line            int
		bind, outcome   string
		ruleFrom        string
		ruleLine        int
	}{
		{"evil.example", "feed", 5, "NXDOMAIN", "NXDOMAIN", "feed", 5},
		{"x.ads.example.", "feed", 6, "NODATA", "NODATA", "feed", 6},
		{"LISTED.example", "block-list", 0, "NXDOMAIN", "NXDOMAIN", "block-list", 0},
		{"ok.evil.example", "allow-list", 0, "PASSTHRU", "PASS", "allow-list", 0},
		{"fine.example", "", 0, "no rewrite", "PASS", "", 0},
		{"drop.example", "", 0, "no rewrite", "PASS", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got ExplainResult
			e.must(200, "POST", "/api/v1/policies/fp/explain", e.viewer, map[string]string{"name": tc.name}).json(t, &got)
			if got.DecidedBy != tc.decidedBy || (tc.line != 0 && got.Line != tc.line) {
				t.Errorf("decided by %q line %d, want %q line %d: %+v", got.DecidedBy, got.Line, tc.decidedBy, tc.line, got)
			}
			if !strings.HasPrefix(got.Bind, tc.bind) || got.Outcome != tc.outcome || !got.Agree {
				t.Errorf("bind %q outcome %q agree %v, want %q %q", got.Bind, got.Outcome, got.Agree, tc.bind, tc.outcome)
			}
			if len(got.Steps) != 3 || got.Settings.MaxDomains == 0 {
				t.Errorf("steps %+v settings %+v: want the three sources and the settings used", got.Steps, got.Settings)
			}
			switch {
			case tc.ruleFrom == "" && got.Rule != nil && !got.Rule.CarveOut:
				t.Errorf("rule %+v, want none", got.Rule)
			case tc.ruleFrom != "" && (got.Rule == nil || got.Rule.Source != tc.ruleFrom || tc.ruleLine != 0 && got.Rule.Line != tc.ruleLine):
				t.Errorf("rule %+v, want one from %s line %d", got.Rule, tc.ruleFrom, tc.ruleLine)
			}
			if !strings.Contains(got.Text, "DNS Firewall:") {
				t.Errorf("text %q lacks what rpzfw explain prints", got.Text)
			}
		})
	}
	var drop ExplainResult
	e.must(200, "POST", "/api/v1/policies/fp/explain", e.admin, map[string]string{"name": "drop.example"}).json(t, &drop)
	if drop.Removed == nil || drop.Removed.Source != "feed" || drop.Removed.Line != 7 {
		t.Errorf("drop.example: removed %+v, want the DROP record of feed line 7", drop.Removed)
	}
}

func TestExplainErrors(t *testing.T) {
	root := t.TempDir()
	e := newEnv(t, withFeeds(t, root))
	path := zoneFile(t, root, 1, "evil.example CNAME .")
	e.must(201, "POST", "/api/v1/policies", e.admin, feedPolicy("fp", path, "1h"))
	e.must(201, "POST", "/api/v1/policies", e.admin, blockPolicy("other"))
	if _, err := e.store.CreateDevice(t.Context(), store.Device{OrgID: e.orgA.ID, Nickname: "elsewhere", Provider: "aws-dns-firewall", Policy: "other",
		Region: "eu-west-1", RuleGroupID: "rslvr-frg-0123456789abcdef0", PriorityBand: "1000-9000", CredKind: store.CredAmbient, MaxPolicySize: 10}); err != nil {
		t.Fatal(err)
	}
	e.wantError(422, CodeInvalid, "name", "POST", "/api/v1/policies/fp/explain", e.viewer, map[string]string{"name": ""})
	e.wantError(422, CodeInvalid, "name", "POST", "/api/v1/policies/fp/explain", e.viewer, map[string]string{"name": "not a name"})
	e.wantError(400, CodeUnknownField, "colour", "POST", "/api/v1/policies/fp/explain", e.viewer, map[string]string{"name": "a.example", "colour": "red"})
	e.wantError(422, CodeInvalid, "device", "POST", "/api/v1/policies/fp/explain", e.viewer, map[string]string{"name": "a.example", "device": "elsewhere"})
	e.wantError(404, CodeNotFound, "", "POST", "/api/v1/policies/nope/explain", e.viewer, map[string]string{"name": "a.example"})
	e.wantError(404, CodeNotFound, "", "POST", "/api/v1/policies/fp/explain", e.adminB, map[string]string{"name": "a.example"})
	e.wantError(401, CodeUnauthorized, "", "POST", "/api/v1/policies/fp/explain", "", map[string]string{"name": "a.example"})
	var got ExplainResult
	e.must(200, "POST", "/api/v1/policies/other/explain", e.viewer, map[string]string{"name": "bad.example", "device": "elsewhere"}).json(t, &got)
	if got.Settings.Device != "elsewhere" || got.Settings.MaxDomains != 10 || got.DecidedBy != "block-list" {
		t.Errorf("with a device: %+v, want its settings and the block list deciding", got)
	}

	bare := newEnv(t)
	bare.must(201, "POST", "/api/v1/policies", bare.admin, blockPolicy("b"))
	bare.wantError(http.StatusServiceUnavailable, CodeNotReady, "", "POST", "/api/v1/policies/b/explain", bare.viewer, map[string]string{"name": "a.example"})
}

func TestPolicyStatusAndAccept(t *testing.T) {
	root := t.TempDir()
	e := newEnv(t, withFeeds(t, root))
	var recs []string
	for i := range 10 {
		recs = append(recs, fmt.Sprintf("n%d.example CNAME .", i))
	}
	recs = append(recs, "drop.example CNAME rpz-drop.")
	path := zoneFile(t, root, 1, recs...)
	e.must(201, "POST", "/api/v1/policies", e.admin, feedPolicy("fp", path, "1h"))
	var st PolicyStatus
	e.must(200, "GET", "/api/v1/policies/fp/status", e.viewer, nil).json(t, &st)
	names := []string{}
	for _, s := range st.Sources {
		names = append(names, s.Name)
	}
	if strings.Join(names, ",") != "allow-list,block-list,feed" {
		t.Fatalf("sources %v, want the lists then the feed, in precedence order", names)
	}
	f := st.Sources[2]
	if f.Records != 11 || f.Transfer != "file" || f.LastSuccess == nil || f.Held != nil {
		t.Errorf("feed status %+v, want 11 records, fetched, none held", f)
	}
	if st.Records != 14 || st.Domains != 13 || st.Removed["drop"] != 1 {
		t.Errorf("records %d domains %d removed %v: want 14 records, 13 installable (10 feed and 2 list blocks, 1 allow), the DROP removed", st.Records, st.Domains, st.Removed)
	}
	e.wantError(409, CodeConflict, "", "POST", "/api/v1/policies/fp/sources/feed/accept", e.admin, nil)
	e.wantError(404, CodeNotFound, "", "POST", "/api/v1/policies/fp/sources/nope/accept", e.admin, nil)

	// The feed shrinks past max_shrink: a changed source is fetched again
	// and the shrink is held, not used.
	zoneFile(t, root, 2, "n0.example CNAME .")
	e.must(200, "PUT", "/api/v1/policies/fp", e.admin, feedPolicy("fp", path, "2h"))
	e.must(200, "GET", "/api/v1/policies/fp/status", e.viewer, nil).json(t, &st)
	f = st.Sources[2]
	if f.Held == nil || f.Held.Records != 1 || f.Records != 11 {
		t.Fatalf("after a shrink: %+v, want 11 records kept and 1 held", f)
	}
	e.wantError(403, CodeForbidden, "", "POST", "/api/v1/policies/fp/sources/feed/accept", e.viewer, nil)
	before := e.changed.Load()
	var acc SourceStatus
	e.must(200, "POST", "/api/v1/policies/fp/sources/feed/accept", e.admin, nil).json(t, &acc)
	if acc.Held != nil || acc.Records != 1 {
		t.Errorf("accepted: %+v, want 1 record, none held", acc)
	}
	if e.changed.Load() == before {
		t.Error("accepting did not wake the scheduler")
	}
	e.must(200, "GET", "/api/v1/policies/fp/status", e.viewer, nil).json(t, &st)
	if st.Domains != 4 {
		t.Errorf("after accepting: %d domains, want 4 (the list entries and n0)", st.Domains)
	}
}

// happyPolicyFeeds answers the policy source routes with 2xx, for
// TestEveryRouteHappyPath (e must have been made withFeeds); the edits it
// makes are counted apart from the test's own.
func happyPolicyFeeds(t *testing.T, e *env, root string) {
	t.Helper()
	counted := e.actions.OnChanged
	var mine int
	e.actions.OnChanged = func() { mine++ }
	defer func() { e.actions.OnChanged = counted }()
	path := zoneFile(t, root, 1, "a.example CNAME .", "b.example CNAME .", "c.example CNAME .")
	e.must(201, "POST", "/api/v1/policies", e.admin, feedPolicy("feeds", path, "1h"))
	e.must(200, "GET", "/api/v1/policies/feeds/status", e.viewer, nil)
	e.must(200, "POST", "/api/v1/policies/feeds/explain", e.viewer, map[string]string{"name": "a.example"})
	zoneFile(t, root, 2, "a.example CNAME .")
	e.must(200, "PUT", "/api/v1/policies/feeds", e.admin, feedPolicy("feeds", path, "2h"))
	e.must(200, "GET", "/api/v1/policies/feeds/status", e.viewer, nil)
	e.must(200, "POST", "/api/v1/policies/feeds/sources/feed/accept", e.admin, nil)
	e.must(204, "DELETE", "/api/v1/policies/feeds", e.admin, nil)
	if mine != 4 {
		t.Errorf("Changed called %d times for the feeds policy, want 4", mine)
	}
}

func TestPolicyStatusOfAListFile(t *testing.T) {
	root := t.TempDir()
	e := newEnv(t, withFeeds(t, root))
	list := filepath.Join(root, "block.txt")
	if err := os.WriteFile(list, []byte("a.example\nb.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.must(201, "POST", "/api/v1/policies", e.admin, map[string]any{"name": "lf", "block_list": map[string]string{"file": list}})
	var st PolicyStatus
	e.must(200, "GET", "/api/v1/policies/lf/status", e.viewer, nil).json(t, &st)
	if len(st.Sources) != 1 || st.Sources[0].File != list || st.Sources[0].Records != 0 || st.Domains != 2 {
		t.Errorf("status %+v, want the block list from %s (not counted) and 2 domains", st, list)
	}
}

// FuzzQueryName: a name to explain is refused with a field error or
// comes back normalized (no trailing dot but an escaped one, no space,
// lower case).
func FuzzQueryName(f *testing.F) {
	for _, s := range []string{"www.example.com", "WWW.Example.COM.", " _srv.example ", "", "not a name", strings.Repeat("a.", 200), "a..b", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		name, err := queryName(raw)
		if err != nil {
			var ae *Error
			if !errors.As(err, &ae) || ae.Field != "name" || ae.Status != 422 {
				t.Fatalf("%q: %v, want a 422 on name", raw, err)
			}
			return
		}
		if name == "" || name != strings.TrimSpace(name) || strings.HasSuffix(name, ".") && !strings.HasSuffix(name, `\.`) || name != strings.ToLower(name) {
			t.Fatalf("%q became %q", raw, name)
		}
	})
}
