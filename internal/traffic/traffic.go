// Package traffic sends a realistic mix of DNS queries to a resolver: mostly
// clean names, some that a policy hits, from several loopback source
// addresses, so that query logs and reports have something to show.
package traffic

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/miekg/dns"
)

// Config says what to send.
type Config struct {
	// Server is the resolver's address (host:port).
	Server string
	// Queries is how many to send; Rate caps them per second (0: no cap).
	Queries int
	Rate    float64
	// HitShare is the share (0..1) of queries aimed at policy names.
	HitShare float64
	// Hits are policy entries to aim at ("*.x" gets a random label).
	Hits []string
	// Sources is how many loopback addresses (127.0.0.2, ...) send.
	Sources int
	Seed    uint64
}

// Result counts answers by response code.
type Result struct {
	Sent, Hits, Errors int
	ByRcode            map[string]int
	Took               time.Duration
}

var cleanDomains = []string{"example.com", "example.net", "example.org", "cdn.example.com", "api.example.net", "mail.example.org", "static.example.com", "updates.example.net"}

// Run sends the queries and waits for every answer.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Sources <= 0 {
		cfg.Sources = 4
	}
	if cfg.Queries <= 0 {
		return Result{}, fmt.Errorf("traffic: nothing to send (queries must be positive)")
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 7))
	res := Result{ByRcode: map[string]int{}}
	var mu sync.Mutex
	conns := make([]*dns.Conn, cfg.Sources)
	for i := range conns {
		laddr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%250))}
		raddr, err := net.ResolveUDPAddr("udp", cfg.Server)
		if err != nil {
			return res, fmt.Errorf("traffic: resolver address %q: %w", cfg.Server, err)
		}
		c, err := net.DialUDP("udp", laddr, raddr)
		if err != nil {
			// Only Linux answers on all of 127/8 by default: elsewhere
			// every query comes from the system's choice of address.
			if c, err = net.DialUDP("udp", nil, raddr); err != nil {
				return res, fmt.Errorf("traffic: sending to %s: %w", cfg.Server, err)
			}
		}
		conns[i] = &dns.Conn{Conn: c}
		defer c.Close()
	}
	var interval time.Duration
	if cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) / cfg.Rate)
	}
	start := time.Now()
	for i := 0; i < cfg.Queries; i++ {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		name, hit := cleanName(rng), false
		if len(cfg.Hits) > 0 && rng.Float64() < cfg.HitShare {
			name, hit = hitName(rng, cfg.Hits[rng.IntN(len(cfg.Hits))]), true
		}
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), qtypeOf(rng))
		c := conns[i%len(conns)]
		_ = c.SetDeadline(time.Now().Add(3 * time.Second))
		err := c.WriteMsg(m)
		var r *dns.Msg
		if err == nil {
			r, err = c.ReadMsg()
		}
		mu.Lock()
		res.Sent++
		if hit {
			res.Hits++
		}
		if err != nil {
			res.Errors++
		} else {
			res.ByRcode[dns.RcodeToString[r.Rcode]]++
		}
		mu.Unlock()
		if interval > 0 {
			if wait := time.Until(start.Add(time.Duration(i+1) * interval)); wait > 0 {
				time.Sleep(wait)
			}
		}
	}
	res.Took = time.Since(start)
	return res, nil
}

// qtypeMix is a resolver's usual mix: mostly A, then AAAA (dual-stack
// clients ask both), HTTPS (browsers), then a little of the rest.
var qtypeMix = []struct {
	qtype  uint16
	weight int
}{{dns.TypeA, 55}, {dns.TypeAAAA, 25}, {dns.TypeHTTPS, 10}, {dns.TypeTXT, 4}, {dns.TypeMX, 3}, {dns.TypePTR, 3}}

func qtypeOf(rng *rand.Rand) uint16 {
	total := 0
	for _, q := range qtypeMix {
		total += q.weight
	}
	n := rng.IntN(total)
	for _, q := range qtypeMix {
		if n < q.weight {
			return q.qtype
		}
		n -= q.weight
	}
	return dns.TypeA
}

func cleanName(rng *rand.Rand) string {
	d := cleanDomains[rng.IntN(len(cleanDomains))]
	if rng.IntN(2) == 0 {
		return fmt.Sprintf("host%d.%s", rng.IntN(50), d)
	}
	return d
}

func hitName(rng *rand.Rand, entry string) string {
	entry = strings.TrimSuffix(entry, ".")
	switch {
	case entry == "*":
		return fmt.Sprintf("anything%d.example", rng.IntN(1000))
	case strings.HasPrefix(entry, "*."):
		return fmt.Sprintf("h%d.%s", rng.IntN(1000), entry[2:])
	}
	return entry
}

// DomainLister is the slice of the Route 53 Resolver API HitsFromAPI uses.
type DomainLister interface {
	ListFirewallDomainLists(ctx context.Context, in *r53r.ListFirewallDomainListsInput, opts ...func(*r53r.Options)) (*r53r.ListFirewallDomainListsOutput, error)
	ListFirewallDomains(ctx context.Context, in *r53r.ListFirewallDomainsInput, opts ...func(*r53r.Options)) (*r53r.ListFirewallDomainsOutput, error)
}

// HitsFromAPI collects up to limit entries from every domain list the API
// holds, to aim queries at.
func HitsFromAPI(ctx context.Context, c DomainLister, limit int) ([]string, error) {
	var hits []string
	lists := r53r.NewListFirewallDomainListsPaginator(c, &r53r.ListFirewallDomainListsInput{})
	for lists.HasMorePages() && len(hits) < limit {
		page, err := lists.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing domain lists: %w", err)
		}
		for _, l := range page.FirewallDomainLists {
			out, err := c.ListFirewallDomains(ctx, &r53r.ListFirewallDomainsInput{FirewallDomainListId: l.Id, MaxResults: aws.Int32(1000)})
			if err != nil {
				return nil, fmt.Errorf("listing domains of %s: %w", aws.ToString(l.Id), err)
			}
			for _, d := range out.Domains {
				if len(hits) < limit {
					hits = append(hits, d)
				}
			}
		}
	}
	return hits, nil
}
