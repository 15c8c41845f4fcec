package emulator

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/rpzfw/rpzfw/internal/dnsfw"
)

// Synthetic answers, when there is no upstream: every name resolves, so
// blocked and passed names are easy to tell apart.
var (
	SyntheticA    = net.ParseIP("192.0.2.1")
	SyntheticAAAA = net.ParseIP("2001:db8::1")
)

// DNSConfig configures the data plane.
type DNSConfig struct {
	// Account and Region own the rule groups applied to the VPC
	// (defaults: the emulator's defaults).
	Account, Region string
	// Upstream is a DNS server to forward passed queries to; empty answers
	// them synthetically.
	Upstream string
}

// ruleMeta is what the data plane needs about a rule beyond matching.
type ruleMeta struct {
	groupID, listID, redirect string
}

type vpcView struct {
	version uint64
	matcher *dnsfw.Matcher
	meta    []ruleMeta // by matcher rule index
}

// DataPlane answers DNS queries as the VPC's Route 53 Resolver would, with
// the associated rule groups applied.
type DataPlane struct {
	e        *Emulator
	cfg      DNSConfig
	client   *dns.Client
	mu       sync.Mutex
	view     *vpcView
	servers  []*dns.Server
	listener string
}

// NewDataPlane makes the data plane for the emulator's VPC.
func (e *Emulator) NewDataPlane(cfg DNSConfig) *DataPlane {
	if cfg.Account == "" {
		cfg.Account = e.defAccount
	}
	if cfg.Region == "" {
		cfg.Region = e.defRegion
	}
	return &DataPlane{e: e, cfg: cfg, client: &dns.Client{Timeout: 3 * time.Second}}
}

// current returns the rules as they stand, rebuilding the index when the
// control plane changed anything since the last query.
func (d *DataPlane) current() *vpcView {
	d.e.mu.Lock()
	version := d.e.version
	d.mu.Lock()
	v := d.view
	d.mu.Unlock()
	if v != nil && v.version == version {
		d.e.mu.Unlock()
		return v
	}
	v = d.build(version)
	d.e.mu.Unlock()
	d.mu.Lock()
	d.view = v
	d.mu.Unlock()
	return v
}

// build indexes the VPC's rules: associations by priority, then rules by
// priority, flattened into one first-match order. Caller holds e.mu.
func (d *DataPlane) build(version uint64) *vpcView {
	a := d.e.account(d.cfg.Account, d.cfg.Region)
	var assocs []*association
	for _, as := range a.Assocs {
		if as.VPCID == d.e.vpc {
			assocs = append(assocs, as)
		}
	}
	slices.SortFunc(assocs, func(x, y *association) int { return cmp.Compare(x.Priority, y.Priority) })
	v := &vpcView{version: version}
	var rules []dnsfw.Rule
	for _, as := range assocs {
		g, ok := a.Groups[as.RuleGroupID]
		if !ok {
			continue
		}
		for _, r := range g.Rules {
			l, ok := a.Lists[r.DomainListID]
			if !ok {
				continue // a threat protection rule: no domains to match
			}
			rules = append(rules, dnsfw.Rule{
				Name: r.Name, Priority: len(rules), Action: r.Action,
				BlockResponse: nonEmpty(r.BlockResponse), BlockOverrideDomain: nonEmpty(r.OverrideDomain),
				BlockOverrideDnsType: nonEmpty(r.OverrideDNSType), BlockOverrideTtl: r.OverrideTTL,
				Domains: l.sortedDomains(), Qtype: qtypeName(r.Qtype),
			})
			v.meta = append(v.meta, ruleMeta{groupID: g.ID, listID: l.ID, redirect: r.RedirectionAction})
		}
	}
	v.matcher = dnsfw.NewMatcher(rules)
	return v
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// qtypeName spells "TYPE28" as "AAAA" so rules and queries compare.
func qtypeName(t string) string {
	if n, ok := strings.CutPrefix(strings.ToUpper(t), "TYPE"); ok {
		if v, err := strconv.Atoi(n); err == nil {
			if name, known := dns.TypeToString[uint16(v)]; known {
				return name
			}
		}
	}
	return strings.ToUpper(t)
}

// Verdict evaluates one query name and type against the VPC's rules, the
// way ServeDNS does, for tests and tools.
func (d *DataPlane) Verdict(qname, qtype string) dnsfw.Verdict {
	return d.current().matcher.MatchType(qname, qtype)
}

// ServeDNS answers one query.
func (d *DataPlane) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(r)
	m.RecursionAvailable = true
	if len(r.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	qtype := dns.TypeToString[q.Qtype]
	v := d.current()
	verdict := v.matcher.MatchType(q.Name, qtype)
	var meta *ruleMeta
	if verdict.Matched {
		meta = &v.meta[verdict.Rule]
	}
	if verdict.Matched && verdict.Action == dnsfw.ActionBlock {
		d.block(m, q, verdict)
	} else {
		d.resolve(m, q)
		// INSPECT_REDIRECTION_DOMAIN (the default) checks every name the
		// answer redirects to; an ALLOW with TRUST_REDIRECTION_DOMAIN
		// trusts the chain.
		trusted := meta != nil && verdict.Action == dnsfw.ActionAllow && meta.redirect == "TRUST_REDIRECTION_DOMAIN"
		if !trusted {
			for _, rr := range m.Answer {
				cn, ok := rr.(*dns.CNAME)
				if !ok {
					continue
				}
				cv := v.matcher.MatchType(cn.Target, qtype)
				if cv.Matched && cv.Action == dnsfw.ActionBlock {
					verdict, meta = cv, &v.meta[cv.Rule]
					m.Answer, m.Ns, m.Rcode = nil, nil, dns.RcodeSuccess
					d.block(m, q, verdict)
					break
				}
			}
		}
	}
	// Logged before the reply goes out, so a client that has its answer
	// knows the record is pending and a flush after it will carry it.
	if d.e.logs != nil {
		d.e.logs.add(d.record(w, q, m, verdict, meta))
	}
	_ = w.WriteMsg(m)
}

func (d *DataPlane) block(m *dns.Msg, q dns.Question, v dnsfw.Verdict) {
	switch v.BlockResponse {
	case dnsfw.BlockNXDomain:
		m.Rcode = dns.RcodeNameError
	case dnsfw.BlockNoData:
	case dnsfw.BlockOverride:
		target := dns.Fqdn(v.BlockOverrideDomain)
		m.Answer = append(m.Answer, &dns.CNAME{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: uint32(v.BlockOverrideTTL)}, Target: target})
		// Follow the override when the upstream can resolve it.
		follow := new(dns.Msg)
		d.resolve(follow, dns.Question{Name: target, Qtype: q.Qtype, Qclass: q.Qclass})
		if follow.Rcode == dns.RcodeSuccess {
			m.Answer = append(m.Answer, follow.Answer...)
		}
	}
}

// resolve fills m with the upstream's answer, or a synthetic one.
func (d *DataPlane) resolve(m *dns.Msg, q dns.Question) {
	if d.cfg.Upstream == "" {
		hdr := dns.RR_Header{Name: q.Name, Rrtype: q.Qtype, Class: dns.ClassINET, Ttl: 60}
		switch q.Qtype {
		case dns.TypeA:
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: SyntheticA})
		case dns.TypeAAAA:
			m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: SyntheticAAAA})
		}
		return
	}
	up := new(dns.Msg)
	up.SetQuestion(q.Name, q.Qtype)
	up.RecursionDesired = true
	resp, _, err := d.client.Exchange(up, d.cfg.Upstream)
	if err != nil {
		m.Rcode = dns.RcodeServerFailure
		return
	}
	m.Rcode = resp.Rcode
	m.Answer = append(m.Answer, resp.Answer...)
	m.Ns = append(m.Ns, resp.Ns...)
}

// ListenAndServe serves UDP and TCP on addr until ctx ends. It returns once
// both listeners are up; Addr then reports the bound address.
func (d *DataPlane) ListenAndServe(ctx context.Context, addr string) error {
	var pc net.PacketConn
	var ln net.Listener
	// TCP on the same port as UDP; with port 0 the TCP port may be taken,
	// so try a few UDP ports.
	for attempt := 0; ; attempt++ {
		var err error
		pc, err = net.ListenPacket("udp", addr)
		if err != nil {
			return fmt.Errorf("listening for DNS on udp %s: %w", addr, err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		if !strings.HasSuffix(addr, ":0") || attempt == 10 {
			return fmt.Errorf("listening for DNS on tcp %s: %w", pc.LocalAddr(), err)
		}
	}
	udp := &dns.Server{PacketConn: pc, Handler: d}
	tcp := &dns.Server{Listener: ln, Handler: d}
	d.mu.Lock()
	d.servers = []*dns.Server{udp, tcp}
	d.listener = pc.LocalAddr().String()
	d.mu.Unlock()
	go func() { _ = udp.ActivateAndServe() }()
	go func() { _ = tcp.ActivateAndServe() }()
	go func() {
		<-ctx.Done()
		_ = udp.Shutdown()
		_ = tcp.Shutdown()
	}()
	return nil
}

// Addr is the address the data plane listens on.
func (d *DataPlane) Addr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.listener
}
