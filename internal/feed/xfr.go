package feed

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/rpzfw/rpzfw/internal/policy"
)

// serialNewer reports whether a is newer than b in RFC 1982 arithmetic.
func serialNewer(a, b uint32) bool { return a != b && int32(a-b) > 0 }

// fetchZone transfers the zone: IXFR from the stored serial when there is
// one, else (or when the primary cannot answer incrementally) AXFR.
func (m *Manager) fetchZone(ctx context.Context, s policy.SourceSpec, st Status) (fetched, error) {
	var errs []string
	for _, primary := range s.Primaries {
		if _, err := os.Stat(m.path(s.Name, ".good")); err == nil && s.IXFR && st.Serial != 0 {
			f, err := m.ixfr(ctx, s, primary, st)
			if err == nil {
				return f, nil
			}
			if errors.Is(err, errAuth) {
				errs = append(errs, fmt.Sprintf("%s: %v", primary, err))
				continue
			}
			m.log().Info("IXFR not possible; falling back to AXFR", "source", s.Name, "primary", primary, "why", err)
		}
		f, err := axfr(ctx, s, primary)
		if err == nil {
			if st.Serial != 0 && !serialNewer(f.serial, st.Serial) && f.serial != st.Serial {
				return fetched{}, fmt.Errorf("%s: the primary's serial %d is older than ours (%d): refusing to go back", primary, f.serial, st.Serial)
			}
			if f.serial == st.Serial && st.Held == nil {
				return fetched{transfer: "unchanged", refresh: f.refresh, retry: f.retry}, nil
			}
			return f, nil
		}
		errs = append(errs, fmt.Sprintf("%s: %v", primary, err))
	}
	return fetched{}, fmt.Errorf("zone transfer of %s failed: %s", s.Zone, strings.Join(errs, "; "))
}

var errAuth = errors.New("the primary refused our TSIG key (NOTAUTH): check the key name, algorithm and secret")

func newTransfer(s policy.SourceSpec, m *dns.Msg) *dns.Transfer {
	t := &dns.Transfer{DialTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 10 * time.Second}
	if s.TSIG != nil {
		name := dns.Fqdn(s.TSIG.Name)
		t.TsigSecret = map[string]string{name: s.TSIG.Secret.Reveal()}
		m.SetTsig(name, s.TSIG.AlgorithmName(), 300, time.Now().Unix())
	}
	return t
}

// receive reads a whole transfer, until ctx ends or it grows past the
// source's max_size.
func receive(ctx context.Context, s policy.SourceSpec, m *dns.Msg, primary string) ([]dns.RR, int64, error) {
	t := newTransfer(s, m)
	// Dial here so that ctx can end the transfer: closing the connection
	// stops the reader goroutine whatever the primary does.
	d := net.Dialer{Timeout: t.DialTimeout}
	conn, err := d.DialContext(ctx, "tcp", primary)
	if err != nil {
		return nil, 0, err
	}
	t.Conn = &dns.Conn{Conn: conn}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	ch, err := t.In(m, primary)
	if err != nil {
		return nil, 0, ctxOr(ctx, classify(err))
	}
	// Drain the channel on an early return, so the reader goroutine (which
	// stops once the connection is closed) is not left blocked on a send.
	defer func() {
		conn.Close()
		for range ch {
		}
	}()
	max := maxSize(s)
	var rrs []dns.RR
	var size int64
	for env := range ch {
		if env.Error != nil {
			return nil, 0, ctxOr(ctx, classify(env.Error))
		}
		for _, rr := range env.RR {
			size += int64(dns.Len(rr))
		}
		if size > max {
			return nil, 0, fmt.Errorf("the transfer is larger than max_size (%d bytes)", max)
		}
		rrs = append(rrs, env.RR...)
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
	}
	if len(rrs) == 0 {
		return nil, 0, fmt.Errorf("empty transfer")
	}
	return rrs, size, nil
}

// ctxOr returns ctx's error when ctx has ended (the read failed because
// the connection was closed for it), else err.
func ctxOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

func classify(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "NOTAUTH"), strings.Contains(msg, "rcode: 9"), strings.Contains(msg, "bad authentication"), strings.Contains(msg, "bad signature"), strings.Contains(msg, "BADSIG"), strings.Contains(msg, "BADKEY"), strings.Contains(msg, "signature"):
		return fmt.Errorf("%w (%s)", errAuth, msg)
	}
	return err
}

func soaTimes(soa *dns.SOA) (time.Duration, time.Duration) {
	return time.Duration(soa.Refresh) * time.Second, time.Duration(soa.Retry) * time.Second
}

func axfr(ctx context.Context, s policy.SourceSpec, primary string) (fetched, error) {
	m := new(dns.Msg)
	m.SetAxfr(dns.Fqdn(s.Zone))
	rrs, size, err := receive(ctx, s, m, primary)
	if err != nil {
		return fetched{}, fmt.Errorf("AXFR: %w", err)
	}
	soa, ok := rrs[0].(*dns.SOA)
	if !ok {
		return fetched{}, fmt.Errorf("AXFR: the transfer does not start with the SOA")
	}
	if last, ok := rrs[len(rrs)-1].(*dns.SOA); !ok || last.Serial != soa.Serial {
		return fetched{}, fmt.Errorf("AXFR: the transfer does not end with the SOA: incomplete")
	}
	refresh, retry := soaTimes(soa)
	return fetched{body: zoneText(s.Zone, rrs[:len(rrs)-1]), serial: soa.Serial, transfer: "AXFR", bytes: size, refresh: refresh, retry: retry}, nil
}

// ixfr asks for the changes since our serial and applies them to the
// stored copy.
func (m *Manager) ixfr(ctx context.Context, s policy.SourceSpec, primary string, st Status) (fetched, error) {
	q := new(dns.Msg)
	q.SetIxfr(dns.Fqdn(s.Zone), st.Serial, ".", ".")
	rrs, size, err := receive(ctx, s, q, primary)
	if err != nil {
		return fetched{}, err
	}
	soa, ok := rrs[0].(*dns.SOA)
	if !ok {
		return fetched{}, fmt.Errorf("IXFR: the answer does not start with the SOA")
	}
	refresh, retry := soaTimes(soa)
	if len(rrs) == 1 {
		if soa.Serial == st.Serial {
			return fetched{transfer: "unchanged", refresh: refresh, retry: retry}, nil
		}
		return fetched{}, fmt.Errorf("IXFR: only the SOA (serial %d) came back", soa.Serial)
	}
	if _, incremental := rrs[1].(*dns.SOA); !incremental {
		// The primary sent the whole zone instead (RFC 1995 allows it,
		// e.g. when its journal no longer reaches our serial).
		if last, ok := rrs[len(rrs)-1].(*dns.SOA); !ok || last.Serial != soa.Serial {
			return fetched{}, fmt.Errorf("IXFR: full-zone answer is incomplete")
		}
		return fetched{body: zoneText(s.Zone, rrs[:len(rrs)-1]), serial: soa.Serial, transfer: "AXFR (via IXFR)", bytes: size, refresh: refresh, retry: retry}, nil
	}
	zone, err := m.loadLines(s)
	if err != nil {
		return fetched{}, err
	}
	// Difference sequences: SOA(old) deletions SOA(new) additions ..., then
	// the final SOA.
	body := rrs[1 : len(rrs)-1]
	for i := 0; i < len(body); {
		from, ok := body[i].(*dns.SOA)
		if !ok {
			return fetched{}, fmt.Errorf("IXFR: malformed difference sequence")
		}
		i++
		for ; i < len(body); i++ {
			if _, isSOA := body[i].(*dns.SOA); isSOA {
				break
			}
			delete(zone, lineKey(body[i].String()))
		}
		if i >= len(body) {
			return fetched{}, fmt.Errorf("IXFR: a difference sequence from serial %d has no end", from.Serial)
		}
		i++ // the new SOA
		for ; i < len(body); i++ {
			if _, isSOA := body[i].(*dns.SOA); isSOA {
				break
			}
			line := body[i].String()
			zone[lineKey(line)] = line
		}
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "$ORIGIN %s\n%s\n", dns.Fqdn(s.Zone), soa.String())
	for _, line := range zone {
		out.WriteString(line)
		out.WriteByte('\n')
	}
	return fetched{body: out.Bytes(), serial: soa.Serial, transfer: "IXFR", bytes: size, refresh: refresh, retry: retry}, nil
}

// lineKey identifies a record line ("owner TTL class type rdata", as
// dns.RR.String writes it and as the stored copy holds it) regardless of
// its TTL, as IXFR deletions do.
func lineKey(line string) string {
	f := strings.SplitN(line, "\t", 3)
	if len(f) < 3 {
		return line
	}
	return strings.ToLower(f[0]) + "\t" + f[2]
}

// loadLines reads the stored copy, which zoneText wrote one record a line,
// without parsing it: an IXFR on a large zone then costs a read, not a
// parse. The SOA is left out; the transfer brings the new one.
func (m *Manager) loadLines(s policy.SourceSpec) (map[string]string, error) {
	f, err := os.Open(m.path(s.Name, ".good"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "$") || strings.Contains(line, "\tSOA\t") {
			continue
		}
		out[lineKey(line)] = line
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the stored copy: %w", err)
	}
	return out, nil
}

// zoneText writes records as a zone file, SOA first.
func zoneText(zone string, rrs []dns.RR) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "$ORIGIN %s\n", dns.Fqdn(zone))
	for _, rr := range rrs {
		if _, ok := rr.(*dns.SOA); ok {
			b.WriteString(rr.String())
			b.WriteByte('\n')
		}
	}
	for _, rr := range rrs {
		if _, ok := rr.(*dns.SOA); !ok {
			b.WriteString(rr.String())
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}
