package device

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/rpzfw/rpzfw/internal/policy"
)

// ListenNotify answers DNS NOTIFY on addr (UDP) for the zone-transfer
// sources of every loaded policy, as feed.Manager.ListenNotify does for
// one: a NOTIFY from a primary of a source (TSIG-signed by the source's
// key, unless the source says notify_unsigned) refreshes that source at
// once; when its copy changed, the policy is read again at its next Load
// and Watch's onChange hears of it. It returns the bound address.
//
// TSIG keys are found by name; should two policies name different keys
// alike, a NOTIFY signed with either is accepted for the zones of that
// name, and the reply is signed with the first.
func (p *Policies) ListenNotify(ctx context.Context, addr string) (string, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return "", fmt.Errorf("listening for NOTIFY on %s: %w", addr, err)
	}
	srv := &dns.Server{PacketConn: pc, TsigProvider: notifyKeys{p}, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		p.answerNotify(ctx, w, r)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	go func() { <-ctx.Done(); _ = srv.Shutdown() }()
	return pc.LocalAddr().String(), nil
}

// notifyTarget is a source a NOTIFY asks to refresh.
type notifyTarget struct {
	e      *entry
	source string
}

func (p *Policies) answerNotify(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) {
	reply := new(dns.Msg)
	reply.SetReply(r)
	targets, err := p.notifyTargets(w, r)
	if err != nil {
		reply.Rcode = dns.RcodeRefused
		p.log.Warn("refused a NOTIFY", "from", w.RemoteAddr().String(), "why", err)
	} else {
		reply.Authoritative = true
	}
	if t := r.IsTsig(); t != nil && w.TsigStatus() == nil {
		reply.SetTsig(t.Hdr.Name, t.Algorithm, 300, time.Now().Unix())
	}
	// Counted before the answer goes: whoever got the answer may already
	// be waiting for the fetches it started (a shutdown, a test's end).
	p.refreshes.Add(len(targets))
	_ = w.WriteMsg(reply)
	for _, t := range targets {
		go func() {
			defer p.refreshes.Done()
			p.refreshNow(ctx, t)
		}()
	}
}

// notifyTargets finds the sources the NOTIFY r is for, checking that it
// comes from their primary with their key.
func (p *Policies) notifyTargets(w dns.ResponseWriter, r *dns.Msg) ([]notifyTarget, error) {
	if r.Opcode != dns.OpcodeNotify || len(r.Question) != 1 || r.Question[0].Qtype != dns.TypeSOA {
		return nil, fmt.Errorf("not a NOTIFY for an SOA")
	}
	zone := strings.ToLower(r.Question[0].Name)
	host, _, _ := net.SplitHostPort(w.RemoteAddr().String())
	var out []notifyTarget
	var refusal error
	for _, e := range p.loadedEntries() {
		mgr := e.current.Load()
		for _, s := range mgr.Policy.Sources {
			if s.Kind != policy.KindZoneTransfer || dns.Fqdn(strings.ToLower(s.Zone)) != zone {
				continue
			}
			if err := notifyAllowed(s, host, r, w.TsigStatus()); err != nil {
				refusal = err
				continue
			}
			out = append(out, notifyTarget{e: e, source: s.Name})
		}
	}
	if len(out) == 0 {
		if refusal == nil {
			refusal = fmt.Errorf("no source transfers %s", zone)
		}
		return nil, refusal
	}
	return out, nil
}

// notifyAllowed checks a NOTIFY from host against source s.
func notifyAllowed(s policy.SourceSpec, host string, r *dns.Msg, tsigStatus error) error {
	ip := net.ParseIP(host)
	primary := false
	for _, pr := range s.Primaries {
		ph, _, _ := net.SplitHostPort(pr)
		if pip := net.ParseIP(ph); pip != nil && ip != nil && pip.Equal(ip) {
			primary = true
		}
	}
	if !primary {
		return fmt.Errorf("%s is not a primary of %s", host, s.Zone)
	}
	if s.TSIG == nil {
		return nil
	}
	t := r.IsTsig()
	if t == nil && s.NotifyUnsigned {
		return nil // only asks for a refresh; the transfer itself is signed
	}
	if t == nil || tsigStatus != nil || !strings.EqualFold(t.Hdr.Name, dns.Fqdn(s.TSIG.Name)) {
		return fmt.Errorf("NOTIFY for %s without a valid TSIG signature by %s (sign it on the primary, or set notify_unsigned: true on the source)", s.Zone, s.TSIG.Name)
	}
	return nil
}

// refreshNow fetches a source a NOTIFY named and reports a change.
func (p *Policies) refreshNow(ctx context.Context, t notifyTarget) {
	mgr := t.e.current.Load()
	changed, err := mgr.Refresh(ctx, t.source)
	if err != nil || !changed {
		return
	}
	t.e.stale.Store(true)
	p.mu.Lock()
	onChange := p.onChange
	p.mu.Unlock()
	if onChange != nil {
		onChange(t.e.key.OrgID, t.e.key.Name)
	}
}

func (p *Policies) loadedEntries() []*entry {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*entry, 0, len(p.entries))
	for _, e := range p.entries {
		if e.current.Load() != nil {
			out = append(out, e)
		}
	}
	return out
}

// notifyKeys finds TSIG secrets by key name among the loaded policies'
// sources (dns.TsigProvider).
type notifyKeys struct{ p *Policies }

func (k notifyKeys) secrets(name string) []string {
	var out []string
	for _, e := range k.p.loadedEntries() {
		for _, s := range e.current.Load().Policy.Sources {
			if s.TSIG != nil && strings.EqualFold(dns.Fqdn(s.TSIG.Name), name) {
				out = append(out, s.TSIG.Secret.Reveal())
			}
		}
	}
	return out
}

func (k notifyKeys) Generate(msg []byte, t *dns.TSIG) ([]byte, error) {
	secrets := k.secrets(t.Hdr.Name)
	if len(secrets) == 0 {
		return nil, dns.ErrSecret
	}
	return tsigMAC(secrets[0], msg, t)
}

func (k notifyKeys) Verify(msg []byte, t *dns.TSIG) error {
	want, err := hex.DecodeString(t.MAC)
	if err != nil {
		return err
	}
	for _, secret := range k.secrets(t.Hdr.Name) {
		if mac, err := tsigMAC(secret, msg, t); err == nil && hmac.Equal(mac, want) {
			return nil
		}
	}
	return dns.ErrSig
}

// tsigMAC is the HMAC of msg under a base64 secret with t's algorithm.
func tsigMAC(secret string, msg []byte, t *dns.TSIG) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(secret)
	if err != nil {
		return nil, err
	}
	var h func() hash.Hash
	switch dns.CanonicalName(t.Algorithm) {
	case dns.HmacMD5:
		h = md5.New
	case dns.HmacSHA1:
		h = sha1.New
	case dns.HmacSHA224:
		h = sha256.New224
	case dns.HmacSHA256:
		h = sha256.New
	case dns.HmacSHA384:
		h = sha512.New384
	case dns.HmacSHA512:
		h = sha512.New
	default:
		return nil, dns.ErrKeyAlg
	}
	m := hmac.New(h, raw)
	m.Write(msg)
	return m.Sum(nil), nil
}
