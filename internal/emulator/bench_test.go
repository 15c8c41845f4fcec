package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// unsigned sends an API call with a syntactically valid SigV4 header; the
// emulator does not verify signatures by default.
func unsigned(b testing.TB, h http.Handler, op string, body any) map[string]any {
	raw, _ := json.Marshal(body)
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(raw)))
	req.Header.Set("X-Amz-Target", "Route53Resolver."+op)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDBENCH/20261127/us-east-1/route53resolver/aws4_request, SignedHeaders=host, Signature=00")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		b.Fatalf("%s: %d %s", op, rec.Code, rec.Body.String())
	}
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return out
}

// benchEmulator holds a rule group with n domains (a tenth of them
// wildcards) associated with the VPC, or no rule group when n is 0.
func benchEmulator(b testing.TB, n int) (*Emulator, string) {
	e, err := New(Config{Settle: time.Nanosecond, Quotas: Quotas{Domains: 10 * n, DomainLists: 10, RulesPerGroup: 10, RuleGroups: 10}})
	if err != nil {
		b.Fatal(err)
	}
	if n == 0 {
		return e, ""
	}
	l := unsigned(b, e, "CreateFirewallDomainList", map[string]any{"CreatorRequestId": "l", "Name": "bench"})["FirewallDomainList"].(map[string]any)["Id"].(string)
	for start := 0; start < n; start += MaxDomainsPerUpdate {
		var ds []string
		for i := start; i < min(n, start+MaxDomainsPerUpdate); i++ {
			ds = append(ds, benchDomain(i))
		}
		time.Sleep(time.Microsecond) // let the list settle
		unsigned(b, e, "UpdateFirewallDomains", map[string]any{"FirewallDomainListId": l, "Operation": "ADD", "Domains": ds})
	}
	g := unsigned(b, e, "CreateFirewallRuleGroup", map[string]any{"CreatorRequestId": "g", "Name": "bench"})["FirewallRuleGroup"].(map[string]any)["Id"].(string)
	unsigned(b, e, "CreateFirewallRule", map[string]any{"CreatorRequestId": "r", "FirewallRuleGroupId": g, "FirewallDomainListId": l, "Priority": 1, "Action": "BLOCK", "BlockResponse": "NXDOMAIN", "Name": "r"})
	unsigned(b, e, "AssociateFirewallRuleGroup", map[string]any{"CreatorRequestId": "a", "FirewallRuleGroupId": g, "VpcId": e.VPCID(), "Priority": 101, "Name": "a"})
	return e, l
}

func benchDomain(i int) string {
	if i%10 == 0 {
		return fmt.Sprintf("*.wild%d.bench.example", i)
	}
	return fmt.Sprintf("host%d.bench.example", i)
}

// benchQueries is the same mix for every run: half policy names (exact and
// under wildcards), half clean names.
func benchQueries() []*dns.Msg {
	var qs []*dns.Msg
	for i := range 1000 {
		var name string
		switch i % 4 {
		case 0:
			name = fmt.Sprintf("host%d.bench.example", i*97+1)
		case 1:
			name = fmt.Sprintf("x.wild%d.bench.example", (i*97)/10*10)
		default:
			name = fmt.Sprintf("www%d.clean.example", i)
		}
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), dns.TypeA)
		qs = append(qs, m)
	}
	return qs
}

// BenchmarkDataPlane measures queries per second over UDP on loopback,
// with a 100,000-domain rule group and with none, on the same queries.
func BenchmarkDataPlane(b *testing.B) {
	for _, n := range []int{0, 100000} {
		b.Run(fmt.Sprintf("domains=%d", n), func(b *testing.B) {
			e, _ := benchEmulator(b, n)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			dp := e.NewDataPlane(DNSConfig{})
			if err := dp.ListenAndServe(ctx, "127.0.0.1:0"); err != nil {
				b.Fatal(err)
			}
			qs := benchQueries()
			dp.current() // build the index before timing
			var next atomic.Int64
			b.ResetTimer()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				c, err := dns.Dial("udp", dp.Addr())
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				for pb.Next() {
					q := qs[next.Add(1)%int64(len(qs))]
					if err := c.WriteMsg(q); err != nil {
						b.Error(err)
						return
					}
					if _, err := c.ReadMsg(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
		})
	}
}

// BenchmarkUpdate1000On100k is the time to accept one 1000-domain
// UpdateFirewallDomains (ADD, then REMOVE of the same names) on a list of
// 100,000 domains, through the HTTP handler.
func BenchmarkUpdate1000On100k(b *testing.B) {
	e, l := benchEmulator(b, 100000)
	var ds []string
	for i := range MaxDomainsPerUpdate {
		ds = append(ds, fmt.Sprintf("new%d.bench.example", i))
	}
	add := map[string]any{"FirewallDomainListId": l, "Operation": "ADD", "Domains": ds}
	remove := map[string]any{"FirewallDomainListId": l, "Operation": "REMOVE", "Domains": ds}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		time.Sleep(time.Microsecond) // settle (excluded from nothing: it is tiny)
		if i%2 == 0 {
			unsigned(b, e, "UpdateFirewallDomains", add)
		} else {
			unsigned(b, e, "UpdateFirewallDomains", remove)
		}
	}
}

// BenchmarkIndexRebuild100k is what the first query after a change pays.
func BenchmarkIndexRebuild100k(b *testing.B) {
	e, _ := benchEmulator(b, 100000)
	dp := e.NewDataPlane(DNSConfig{})
	for b.Loop() {
		e.mu.Lock()
		e.version++
		e.mu.Unlock()
		dp.current()
	}
}
