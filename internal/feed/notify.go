package feed

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/rpzfw/rpzfw/internal/policy"
)

// ListenNotify answers DNS NOTIFY on addr (UDP) from the configured
// primaries of zone-transfer sources, TSIG-checked when the source has a
// key, and asks Watch to refresh that source. It returns the bound address.
func (m *Manager) ListenNotify(ctx context.Context, addr string) (string, error) {
	secrets := map[string]string{}
	for _, s := range m.Policy.Sources {
		if s.TSIG != nil {
			secrets[dns.Fqdn(s.TSIG.Name)] = s.TSIG.Secret.Reveal()
		}
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return "", fmt.Errorf("listening for NOTIFY on %s: %w", addr, err)
	}
	srv := &dns.Server{PacketConn: pc, TsigSecret: secrets, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		reply := new(dns.Msg)
		reply.SetReply(r)
		name, err := m.acceptNotify(w, r)
		if err != nil {
			reply.Rcode = dns.RcodeRefused
			m.log().Warn("refused a NOTIFY", "from", w.RemoteAddr().String(), "why", err)
		} else {
			reply.Authoritative = true
		}
		if t := r.IsTsig(); t != nil && w.TsigStatus() == nil {
			reply.SetTsig(t.Hdr.Name, t.Algorithm, 300, time.Now().Unix())
		}
		if err == nil {
			// Queued before the answer goes out: a primary that has its
			// answer has its refresh.
			select {
			case m.trigger <- name:
			default: // a refresh is already queued
			}
		}
		_ = w.WriteMsg(reply)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	go func() { <-ctx.Done(); _ = srv.Shutdown() }()
	return pc.LocalAddr().String(), nil
}

func (m *Manager) acceptNotify(w dns.ResponseWriter, r *dns.Msg) (string, error) {
	if r.Opcode != dns.OpcodeNotify || len(r.Question) != 1 || r.Question[0].Qtype != dns.TypeSOA {
		return "", fmt.Errorf("not a NOTIFY for an SOA")
	}
	zone := strings.ToLower(r.Question[0].Name)
	host, _, _ := net.SplitHostPort(w.RemoteAddr().String())
	for _, s := range m.Policy.Sources {
		if s.Kind != policy.KindZoneTransfer || dns.Fqdn(strings.ToLower(s.Zone)) != zone {
			continue
		}
		if !fromPrimary(s, host) {
			return "", fmt.Errorf("%s is not a primary of %s", host, zone)
		}
		if s.TSIG != nil {
			t := r.IsTsig()
			switch {
			case t == nil && s.NotifyUnsigned:
				// Allowed from a primary's address: a NOTIFY only asks for a
				// refresh, and the transfer itself is signed.
			case t == nil || w.TsigStatus() != nil || !strings.EqualFold(t.Hdr.Name, dns.Fqdn(s.TSIG.Name)):
				return "", fmt.Errorf("NOTIFY for %s without a valid TSIG signature by %s (sign it on the primary, or set notify_unsigned: true on the source)", zone, s.TSIG.Name)
			}
		}
		return s.Name, nil
	}
	return "", fmt.Errorf("no source transfers %s", zone)
}

func fromPrimary(s policy.SourceSpec, host string) bool {
	ip := net.ParseIP(host)
	for _, p := range s.Primaries {
		ph, _, _ := net.SplitHostPort(p)
		if pip := net.ParseIP(ph); pip != nil && ip != nil && pip.Equal(ip) {
			return true
		}
	}
	return false
}

// Watch keeps sources fresh until ctx ends: each on its refresh interval
// (a zone's SOA refresh, or its retry after a failure), and at once on a
// NOTIFY. onChange is called after a source's current copy changed.
func (m *Manager) Watch(ctx context.Context, onChange func(name string)) {
	next := map[string]time.Time{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		now := m.Now()
		for _, s := range m.Policy.Sources {
			if due, ok := next[s.Name]; ok && now.Before(due) {
				continue
			}
			changed, err := m.Refresh(ctx, s.Name)
			next[s.Name] = now.Add(m.interval(s, err != nil))
			if changed && onChange != nil {
				onChange(s.Name)
			}
		}
		select {
		case <-ctx.Done():
			return
		case name := <-m.trigger:
			changed, err := m.Refresh(ctx, name)
			if s, serr := m.source(name); serr == nil {
				next[name] = m.Now().Add(m.interval(s, err != nil))
			}
			if changed && onChange != nil {
				onChange(name)
			}
		case <-tick.C:
		}
	}
}

// interval is how long until a source is fetched again.
func (m *Manager) interval(s policy.SourceSpec, failed bool) time.Duration {
	st := m.Status(s.Name)
	switch {
	case s.Refresh > 0 && !failed:
		return s.Refresh
	case s.Kind == policy.KindZoneTransfer && failed && st.Retry > 0:
		return st.Retry
	case s.Kind == policy.KindZoneTransfer && st.Refresh > 0:
		return st.Refresh
	case s.Kind == policy.KindFile:
		return time.Minute
	case failed:
		return 5 * time.Minute
	}
	return time.Hour
}
