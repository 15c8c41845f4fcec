package device

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/policy"
	"github.com/rpzfw/rpzfw/internal/policydoc"
	"github.com/rpzfw/rpzfw/internal/store"
)

const sampleZone = `$ORIGIN rpz.test.
@ SOA ns. admin. 1 3600 600 86400 60
@ NS ns.
bad.example CNAME .
*.bad.example CNAME .
nodata.example CNAME *.
garden.example CNAME walled.test.
_srv.example CNAME .
drop.example CNAME rpz-drop.
`

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func loadInline(t *testing.T, allowBlockAll bool, block ...string) *Loaded {
	t.Helper()
	p := policy.Policy{Name: "t", Block: policy.ListSpec{Domains: block}, AllowBlockAll: allowBlockAll}
	l, err := LoadPolicy(context.Background(), p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// The hash is stable across loads and changes with anything a rule group
// would hold differently.
func TestPlanHash(t *testing.T) {
	a := loadInline(t, false, "a.example", "b.example")
	b := loadInline(t, false, "b.example", "a.example")
	pa, _ := a.Compile(compile.Settings{})
	pb, _ := b.Compile(compile.Settings{})
	if PlanHash(pa) != PlanHash(pb) || len(PlanHash(pa)) != 64 {
		t.Fatalf("same plan, hashes %s and %s", PlanHash(pa), PlanHash(pb))
	}
	mon, _ := a.Compile(compile.Settings{MonitorOnly: true})
	more, _ := loadInline(t, false, "a.example", "b.example", "c.example").Compile(compile.Settings{})
	for name, p := range map[string]*compile.Plan{"monitor-only": mon, "another domain": more} {
		if PlanHash(p) == PlanHash(pa) {
			t.Errorf("%s: the hash did not change", name)
		}
	}
	if again, _ := a.Compile(compile.Settings{}); again != pa {
		t.Error("the same settings compiled again instead of reusing the plan")
	}
}

func TestCompileRefusesBlockAllUnlessAllowed(t *testing.T) {
	_, err := loadInline(t, false, "*").Compile(compile.Settings{})
	if !errors.Is(err, compile.ErrBlockAll) {
		t.Fatalf("want ErrBlockAll, got %v", err)
	}
	if _, err := loadInline(t, true, "*").Compile(compile.Settings{}); err != nil {
		t.Fatalf("allowed: %v", err)
	}
	l := loadInline(t, false, "a.example")
	if _, err := l.CompileFunc(compile.Settings{})(0); err != nil {
		t.Fatalf("compile func: %v", err)
	}
	if _, err := l.Compile(compile.Settings{MaxRules: -1}); !errors.Is(err, ErrPolicy) {
		t.Fatalf("bad settings: want ErrPolicy, got %v", err)
	}
}

func TestLoadErrorsAreClassified(t *testing.T) {
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.rpz", "$ORIGIN x.\nthis is not a zone\n")
	_, err := LoadPolicy(context.Background(), policy.Policy{Name: "p", Sources: []policy.SourceSpec{{Name: "s", Kind: policy.KindFile, Path: bad}}}, nil, nil)
	if !errors.Is(err, ErrPolicy) {
		t.Errorf("a zone that does not parse: want ErrPolicy, got %v", err)
	}
	_, err = LoadPolicy(context.Background(), policy.Policy{Name: "p", Sources: []policy.SourceSpec{{Name: "s", Kind: policy.KindHTTPS, URL: "https://x.test/z"}}}, failingOpener{}, nil)
	if !errors.Is(err, ErrFeedUnavailable) || errors.Is(err, ErrPolicy) {
		t.Errorf("a source without a good copy: want ErrFeedUnavailable only, got %v", err)
	}
}

type failingOpener struct{}

func (failingOpener) Open(context.Context, policy.SourceSpec) (io.ReadCloser, error) {
	return nil, errors.New("source s has no good copy yet: it was never fetched")
}

func TestPlanSummary(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "zone.rpz", sampleZone)
	p := policy.Policy{Name: "p", Block: policy.ListSpec{Domains: []string{"x.example", "y.example", "z.example"}},
		Sources: []policy.SourceSpec{{Name: "feed", Kind: policy.KindFile, Path: filepath.Join(dir, "zone.rpz")}}}
	l, err := LoadPolicy(context.Background(), p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := l.Compile(compile.Settings{MaxDomains: 4})
	if err != nil {
		t.Fatal(err)
	}
	b, err := PlanSummary(plan)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if strings.Join(keys, ",") != "domain_count,max_domains,monitor_only,removed,removed_by_source,rules,sources,truncated,truncated_by_source" {
		t.Errorf("fields: %v", keys)
	}
	s := Summarize(plan)
	if s.Truncated == 0 || s.TruncatedBySource["feed"] == 0 || s.DomainCount > 4 {
		t.Errorf("truncation: %+v", s)
	}
	if s.Removed["drop"] != 1 || s.RemovedBySource["feed"]["invalid-name"] != 1 {
		t.Errorf("removed: %+v", s.Removed)
	}
	if len(s.Rules) == 0 || s.Rules[0].DomainCount == 0 || !strings.Contains(string(b), `"block_response":"NXDOMAIN"`) {
		t.Errorf("rules: %s", b)
	}
}

func storedPolicy(t *testing.T, dir, name string, version int64, doc string) store.Policy {
	t.Helper()
	c, err := policydoc.Check(name, []byte(doc), policydoc.Secrets{}, policydoc.Options{BaseDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return store.Policy{OrgID: 1, Name: name, Doc: c.Doc, Version: version}
}

func domains(t *testing.T, l *Loaded) []string {
	t.Helper()
	p, err := l.Compile(compile.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range p.Rules {
		out = append(out, r.Domains...)
	}
	slices.Sort(out)
	return out
}

// A policy is read once, again when its version changes, and again after
// Watch saw one of its sources change.
func TestPoliciesReloadOnVersionAndFeedChange(t *testing.T) {
	dir := t.TempDir()
	zone := writeFile(t, dir, "zone.rpz", sampleZone)
	ps := NewPolicies(PoliciesConfig{DataDir: t.TempDir(), Options: policydoc.Options{BaseDir: dir}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	doc := `{"sources": [{"name": "feed", "kind": "file", "path": "zone.rpz", "refresh": "1s"}]}`
	sp := storedPolicy(t, dir, "p", 1, doc)
	l1, err := ps.Load(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	if l2, _ := ps.Load(ctx, sp); l2 != l1 {
		t.Error("an unchanged policy was read again")
	}
	sp2 := storedPolicy(t, dir, "p", 2, `{"block_list": ["extra.example"], "sources": [{"name": "feed", "kind": "file", "path": "zone.rpz", "refresh": "1s"}]}`)
	l3, err := ps.Load(ctx, sp2)
	if err != nil || l3 == l1 || !slices.Contains(domains(t, l3), "extra.example") {
		t.Fatalf("new version: %v %v", err, domains(t, l3))
	}

	changed := make(chan string, 10)
	go ps.Watch(ctx, func(org int64, name string) { changed <- name })
	// Replaced whole, as a feed's file would be: a reader never sees half.
	tmp := writeFile(t, dir, "zone.tmp", sampleZone+"new.example CNAME .\n")
	if err := os.Rename(tmp, zone); err != nil {
		t.Fatal(err)
	}
	select {
	case name := <-changed:
		if name != "p" {
			t.Fatalf("changed %q", name)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Watch did not see the file change")
	}
	l4, err := ps.Load(ctx, sp2)
	if err != nil || l4 == l3 || !slices.Contains(domains(t, l4), "new.example") {
		t.Fatalf("after the feed changed: %v %v", err, domains(t, l4))
	}
	ps.Forget(func(int64, string) bool { return false })
	if len(ps.entries) != 0 {
		t.Error("Forget kept a policy")
	}
}
