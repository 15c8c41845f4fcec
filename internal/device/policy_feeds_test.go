package device

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/policydoc"
	"github.com/rpzfw/rpzfw/internal/secret"
	"github.com/rpzfw/rpzfw/internal/store"
)

// feedPolicy writes a feed of n records (n0.example, ...) under root and
// returns a policy of it, checked as the API checks it (not stored).
func feedPolicy(tb testing.TB, root string, version int64, n int, refresh string) store.Policy {
	tb.Helper()
	var b strings.Builder
	b.WriteString("$ORIGIN rpz.test.\n@ SOA ns. admin. 1 3600 600 86400 60\n@ NS ns.\n")
	for i := range n {
		fmt.Fprintf(&b, "n%d.example CNAME .\n", i)
	}
	path := filepath.Join(root, "feed.rpz")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	doc := fmt.Sprintf(`{"name":"p","max_shrink":"50%%","block_list":["listed.example"],"sources":[{"name":"feed","kind":"file","path":%q,"refresh":%q}]}`, path, refresh)
	c, err := policydoc.Check("", []byte(doc), policydoc.Secrets{}, policydoc.Options{FileRoots: []string{root}})
	if err != nil {
		tb.Fatal(err)
	}
	return store.Policy{OrgID: 1, Name: "p", Doc: c.Doc, Version: version}
}

func newTestPolicies(t *testing.T, root string) *Policies {
	t.Helper()
	keys, err := secret.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	return NewPolicies(PoliciesConfig{DataDir: t.TempDir(), Keyring: keys, Options: policydoc.Options{FileRoots: []string{root}}})
}

func TestPolicyFeedsStatusAcceptExplain(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	p := newTestPolicies(t, root)
	var changed atomic.Int64
	p.mu.Lock()
	p.onChange = func(int64, string) { changed.Add(1) }
	p.mu.Unlock()

	sp := feedPolicy(t, root, 1, 10, "1h")
	sts, err := p.FeedStatus(ctx, sp)
	if err != nil || len(sts) != 1 || sts[0].Records != 10 || sts[0].Held != nil {
		t.Fatalf("status %+v %v, want the feed's 10 records", sts, err)
	}
	tests := []struct {
		name, decider string
		line          int
		rule          bool
	}{
		{"n3.example", "feed", 7, true},
		{"listed.example", "block-list", 0, true},
		{"other.example", "", 0, false},
	}
	for _, tc := range tests {
		e, plan, err := p.Explain(ctx, sp, compile.Settings{}, tc.name)
		if err != nil {
			t.Fatalf("explain %s: %v", tc.name, err)
		}
		got := ""
		if e.Decision.Source >= 0 {
			got = plan.Sources[e.Decision.Source]
		}
		if got != tc.decider || tc.line != 0 && e.Decision.Line != tc.line || (e.Rule != nil) != tc.rule || !e.Agree {
			t.Errorf("explain %s: decided by %q line %d, rule %v, agree %v; want %q line %d, rule %v", tc.name, got, e.Decision.Line, e.Rule != nil, e.Agree, tc.decider, tc.line, tc.rule)
		}
	}

	// A shrink past max_shrink is held; accepting it makes it current and
	// says the policy changed.
	if err := p.AcceptHeld(ctx, sp, "feed"); err == nil {
		t.Error("accepting with nothing held did not fail")
	}
	sp = feedPolicy(t, root, 2, 2, "2h")
	if sts, err = p.FeedStatus(ctx, sp); err != nil || sts[0].Held == nil || sts[0].Held.Records != 2 || sts[0].Records != 10 {
		t.Fatalf("after a shrink: %+v %v, want 10 kept and 2 held", sts, err)
	}
	if err := p.AcceptHeld(ctx, sp, "feed"); err != nil {
		t.Fatal(err)
	}
	if sts, _ = p.FeedStatus(ctx, sp); sts[0].Held != nil || sts[0].Records != 2 || changed.Load() != 1 {
		t.Errorf("after accepting: %+v, %d changes, want 2 records and one change", sts, changed.Load())
	}
	plan, err := p.Plan(ctx, sp, compile.Settings{})
	if err != nil || plan.DomainCount != 3 {
		t.Errorf("the plan after accepting: %v %v, want 3 domains (2 feed, 1 list)", plan, err)
	}
}

// BenchmarkExplain100k explains one name of a policy with a 100,000
// record feed: each explain reads the last good copy into a reference and
// compiles, as rpzfw explain does.
func BenchmarkExplain100k(b *testing.B) {
	root := b.TempDir()
	keys, err := secret.New(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	p := NewPolicies(PoliciesConfig{DataDir: b.TempDir(), Keyring: keys, Options: policydoc.Options{FileRoots: []string{root}}})
	sp := feedPolicy(b, root, 1, 100_000, "1h")
	ctx := context.Background()
	if _, err := p.FeedStatus(ctx, sp); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := p.Explain(ctx, sp, compile.Settings{MaxDomains: 200_000}, "n99.example"); err != nil {
			b.Fatal(err)
		}
	}
}
