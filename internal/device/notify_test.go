package device

import (
	"context"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/rpzfw/rpzfw/internal/policydoc"
	"github.com/rpzfw/rpzfw/internal/store"
)

// One listener answers NOTIFY for every loaded policy: from a primary,
// signed with the source's key, it is accepted; anything else is refused.
func TestListenNotify(t *testing.T) {
	const secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMw=="
	keys := testKeyring(t)
	ps := NewPolicies(PoliciesConfig{DataDir: t.TempDir(), Keyring: keys})
	ctx, cancel := context.WithCancel(context.Background())
	// The accepted NOTIFY starts a fetch that writes into the feed cache:
	// it must end before the test's directory is removed.
	defer ps.Wait()
	defer cancel()
	addr, err := ps.ListenNotify(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	doc := `{"sources": [{"name": "z", "kind": "zone-transfer", "zone": "rpz.test", "primaries": ["127.0.0.1:1"],
		"tsig": {"name": "xfr-key", "algorithm": "hmac-sha256", "secret": "` + secret + `"}}]}`
	c, err := policydoc.Check("p", []byte(doc), policydoc.Secrets{}, policydoc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := policydoc.Seal(keys, c.Secrets)
	if err != nil {
		t.Fatal(err)
	}
	// The primary does not answer, so the policy has no copy yet; it is
	// loaded all the same and listens.
	if _, err := ps.Load(ctx, store.Policy{OrgID: 1, Name: "p", Doc: c.Doc, Secrets: sealed, Version: 1}); err == nil {
		t.Fatal("a policy without a copy of its source loaded")
	}
	send := func(zone, key, keySecret string) int {
		t.Helper()
		m := new(dns.Msg)
		m.SetNotify(dns.Fqdn(zone))
		cl := &dns.Client{Timeout: 5 * time.Second}
		if key != "" {
			m.SetTsig(dns.Fqdn(key), dns.HmacSHA256, 300, time.Now().Unix())
			cl.TsigSecret = map[string]string{dns.Fqdn(key): keySecret}
		}
		r, _, err := cl.Exchange(m, addr)
		if err != nil {
			t.Fatalf("NOTIFY %s: %v", zone, err)
		}
		return r.Rcode
	}
	for _, tc := range []struct {
		name, zone, key, secret string
		want                    int
	}{
		{"signed by the source's key", "rpz.test", "xfr-key", secret, dns.RcodeSuccess},
		{"unsigned", "rpz.test", "", "", dns.RcodeRefused},
		{"another zone", "other.test", "xfr-key", secret, dns.RcodeRefused},
	} {
		if got := send(tc.zone, tc.key, tc.secret); got != tc.want {
			t.Errorf("%s: rcode %s, want %s", tc.name, dns.RcodeToString[got], dns.RcodeToString[tc.want])
		}
	}
}
