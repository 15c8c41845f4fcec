package test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/dnsfw"
	"github.com/rpzfw/rpzfw/internal/feed"
	"github.com/rpzfw/rpzfw/internal/policy"
	"github.com/rpzfw/rpzfw/internal/secret"
)

const (
	tsigName   = "rpzfw-xfr"
	tsigSecret = "9x0M3j6yO2c0cXbW3yTq7v0WJ9w2mN8cY3rVq6p1tQ4="
	rpzZone    = "rpz.test"
)

// primary is a BIND 9 primary serving an RPZ zone to TSIG-signed
// transfers, with ixfr-from-differences, dynamic updates and NOTIFY.
type primary struct {
	addr string
	stop func()
}

func startPrimary(t testing.TB, records string, notifyPort int) *primary {
	t.Helper()
	dir := t.TempDir()
	zone := "$TTL 300\n@ SOA ns.invalid. hostmaster.invalid. 10 60 30 86400 60\n@ NS ns.invalid.\n" + records
	if err := os.WriteFile(filepath.Join(dir, "rpz.zone"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	notify := "notify no;"
	if notifyPort > 0 {
		notify = fmt.Sprintf("notify explicit; notify-delay 0; also-notify { 127.0.0.1 port %d key %s; };", notifyPort, tsigName)
	}
	conf := fmt.Sprintf(`key %q { algorithm hmac-sha256; secret %q; };
options {
	directory %q;
	pid-file none;
	listen-on port %d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion no;
	notify-source 127.0.0.1;
};
controls { };
zone %q {
	type primary;
	file "rpz.zone";
	allow-transfer { key %s; };
	allow-update { key %s; };
	ixfr-from-differences yes;
	%s
};
`, tsigName, tsigSecret, dir, port, rpzZone, tsigName, tsigName, notify)
	confFile := filepath.Join(dir, "named.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &primary{addr: fmt.Sprintf("127.0.0.1:%d", port)}
	p.stop = launchNamed(t, confFile, func(line string) bool { return strings.HasSuffix(line, " running") })
	return p
}

// nsupdate changes the zone with the real nsupdate tool, signed with the
// TSIG key.
func (p *primary) nsupdate(t testing.TB, updates ...string) {
	t.Helper()
	bin, err := exec.LookPath("nsupdate")
	if err != nil {
		t.Fatalf("nsupdate (Debian bind9-dnsutils or dnsutils) is needed for this test")
	}
	host, port, _ := strings.Cut(p.addr, ":")
	script := fmt.Sprintf("server %s %s\nzone %s\n%s\nsend\n", host, port, rpzZone, strings.Join(updates, "\n"))
	cmd := exec.Command(bin, "-y", "hmac-sha256:"+tsigName+":"+tsigSecret)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nsupdate: %v: %s", err, out)
	}
}

func xfrPolicy(addr, key string) policy.Policy {
	return policy.Policy{MaxShrink: 0.5, Sources: []policy.SourceSpec{{
		Name: "vendor", Kind: policy.KindZoneTransfer, Format: "rpz", Zone: rpzZone, Primaries: []string{addr}, IXFR: true,
		TSIG: &policy.TSIG{Name: tsigName, Algorithm: "hmac-sha256", Secret: secret.String(key)},
	}}}
}

func planOf(t testing.TB, m *feed.Manager) *compile.Plan {
	t.Helper()
	b := compile.NewBuilder()
	if err := m.Policy.Load(context.Background(), b, m); err != nil {
		t.Fatal(err)
	}
	p, err := b.Compile(compile.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestZoneTransferFromBIND(t *testing.T) {
	ctx := context.Background()
	var recs strings.Builder
	for i := range 200 {
		fmt.Fprintf(&recs, "bad%d.test CNAME .\n", i)
	}
	recs.WriteString("old.test CNAME .\n*.wild.example CNAME rpz-passthru.\n")
	p := startPrimary(t, recs.String(), 0)
	m, err := feed.NewManager(t.TempDir(), xfrPolicy(p.addr, tsigSecret))
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := m.Refresh(ctx, "vendor"); err != nil || !changed {
		t.Fatalf("AXFR: %v %v", changed, err)
	}
	st := m.Status("vendor")
	if st.Transfer != "AXFR" || st.Serial != 10 || st.Records != 202 || st.Refresh != time.Minute || st.Retry != 30*time.Second {
		t.Fatalf("after AXFR: %+v", st)
	}
	axfrBytes := st.Bytes
	// Nothing changed: IXFR answers with the SOA alone.
	if changed, err := m.Refresh(ctx, "vendor"); err != nil || changed || m.Status("vendor").Transfer != "unchanged" {
		t.Fatalf("unchanged: %v %v %+v", changed, err, m.Status("vendor"))
	}
	// Adds, a delete and a wildcard with nsupdate; then IXFR.
	p.nsupdate(t, "update add new.evil.test.rpz.test. 300 CNAME .", "update delete old.test.rpz.test. CNAME", "update add *.wild.evil.rpz.test. 300 CNAME .")
	if changed, err := m.Refresh(ctx, "vendor"); err != nil || !changed {
		t.Fatalf("IXFR: %v %v", changed, err)
	}
	st = m.Status("vendor")
	if st.Transfer != "IXFR" || st.Serial <= 10 || st.Records != 203 || st.Bytes >= axfrBytes/10 {
		t.Fatalf("after IXFR: %+v (AXFR was %d bytes)", st, axfrBytes)
	}
	mt := dnsfw.NewMatcher(planOf(t, m).Rules)
	for q, want := range map[string]string{"new.evil.test": "NXDOMAIN", "old.test": "PASS", "x.wild.evil": "NXDOMAIN", "bad7.test": "NXDOMAIN", "a.wild.example": "ALERT"} {
		if got := mt.Match(q).Outcome(true); got != want {
			t.Errorf("after IXFR %s = %s, want %s", q, got, want)
		}
	}
	// The IXFR result equals a fresh AXFR of the same zone.
	fresh, _ := feed.NewManager(t.TempDir(), xfrPolicy(p.addr, tsigSecret))
	if _, err := fresh.Refresh(ctx, "vendor"); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(planOf(t, m))
	b, _ := json.Marshal(planOf(t, fresh))
	if string(a) != string(b) {
		t.Fatalf("IXFR and AXFR disagree:\n%s\n%s", a, b)
	}

	// A wrong key: a clear error, and the last good copy stays.
	bad, _ := feed.NewManager(m.Dir, xfrPolicy(p.addr, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="))
	if _, err := bad.Refresh(ctx, "vendor"); err == nil || !strings.Contains(err.Error(), "TSIG") {
		t.Fatalf("wrong key: %v", err)
	}
	if got := planOf(t, bad).DomainCount; got != planOf(t, fresh).DomainCount {
		t.Fatalf("the last good copy was lost after a refused transfer: %d domains", got)
	}

	// The primary goes away: an error, the last good copy stays.
	p.stop()
	if _, err := m.Refresh(ctx, "vendor"); err == nil {
		t.Fatal("a transfer from a stopped primary must fail")
	}
	if st := m.Status("vendor"); st.LastError == "" || st.Records != 203 || planOf(t, m).DomainCount == 0 {
		t.Fatalf("after the primary went away: %+v", st)
	}
}

// TestNotifyTriggersRefresh: BIND sends a TSIG-signed NOTIFY after an
// update; the listener refreshes the zone at once.
func TestNotifyTriggersRefresh(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	notifyPort := freePort(t)
	p := startPrimary(t, "first.test CNAME .\n", notifyPort)
	m, _ := feed.NewManager(t.TempDir(), xfrPolicy(p.addr, tsigSecret))
	if _, err := m.ListenNotify(ctx, fmt.Sprintf("127.0.0.1:%d", notifyPort)); err != nil {
		t.Fatal(err)
	}
	changes := make(chan string, 10)
	go m.Watch(ctx, func(name string) { changes <- name })
	// Generous bounds: a first transfer that fails on a loaded machine is
	// tried again after the zone's SOA retry (30 s), and the NOTIFY
	// answers at once when it works; only a broken path takes a minute.
	select {
	case <-changes: // the first fetch
	case <-time.After(time.Minute):
		t.Fatalf("no first fetch (status %+v)", m.Status("vendor"))
	}
	start := time.Now()
	p.nsupdate(t, "update add second.test.rpz.test. 300 CNAME .")
	select {
	case <-changes:
	case <-time.After(time.Minute):
		t.Fatalf("no refresh after the NOTIFY (status %+v)", m.Status("vendor"))
	}
	took := time.Since(start)
	if got := dnsfw.NewMatcher(planOf(t, m).Rules).Match("second.test").Outcome(true); got != "NXDOMAIN" {
		t.Fatalf("second.test = %s after the NOTIFY", got)
	}
	t.Logf("nsupdate to refreshed copy: %s (%s)", took, m.Status("vendor").Transfer)
}

// TestIXFRFallsBackToAXFR: when the primary's journal does not reach our
// serial it sends the whole zone, which is used as is.
func TestIXFRFallsBackToAXFR(t *testing.T) {
	ctx := context.Background()
	p := startPrimary(t, "a.test CNAME .\nb.test CNAME .\n", 0)
	m, _ := feed.NewManager(t.TempDir(), xfrPolicy(p.addr, tsigSecret))
	if _, err := m.Refresh(ctx, "vendor"); err != nil {
		t.Fatal(err)
	}
	p.nsupdate(t, "update add c.test.rpz.test. 300 CNAME .")
	// Pretend our copy is from serial 5, which the journal never had.
	st := m.Status("vendor")
	st.Serial = 5
	writeStatus(t, m, st)
	if changed, err := m.Refresh(ctx, "vendor"); err != nil || !changed {
		t.Fatalf("%v %v", changed, err)
	}
	if st := m.Status("vendor"); !strings.Contains(st.Transfer, "AXFR") || st.Records != 3 {
		t.Fatalf("fallback: %+v", st)
	}
}

func writeStatus(t *testing.T, m *feed.Manager, st feed.Status) {
	t.Helper()
	b := fmt.Sprintf(`{"name":%q,"kind":%q,"serial":%d,"records":%d}`, st.Name, st.Kind, st.Serial, st.Records)
	if err := os.WriteFile(filepath.Join(m.Dir, st.Name+".status.json"), []byte(b), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestNotifyRefusedWithoutTSIG: a NOTIFY that is not signed with the
// source's key, or names a zone no source transfers, is refused.
func TestNotifyRefusedWithoutTSIG(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m, _ := feed.NewManager(t.TempDir(), xfrPolicy("127.0.0.1:53", tsigSecret))
	addr, err := m.ListenNotify(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	for _, zone := range []string{rpzZone, "other.test"} {
		msg := new(dns.Msg)
		msg.SetNotify(dns.Fqdn(zone))
		r, err := dns.Exchange(msg, addr)
		if err != nil {
			t.Fatal(err)
		}
		if r.Rcode != dns.RcodeRefused {
			t.Errorf("unsigned NOTIFY for %s: %s, want REFUSED", zone, dns.RcodeToString[r.Rcode])
		}
	}
	// Signed, but from an address that is not a primary of the zone.
	other, _ := feed.NewManager(t.TempDir(), xfrPolicy("192.0.2.53:53", tsigSecret))
	otherAddr, err := other.ListenNotify(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	signed := new(dns.Msg)
	signed.SetNotify(dns.Fqdn(rpzZone))
	signed.SetTsig(dns.Fqdn(tsigName), dns.HmacSHA256, 300, time.Now().Unix())
	sc := &dns.Client{TsigSecret: map[string]string{dns.Fqdn(tsigName): tsigSecret}}
	if r, _, err := sc.Exchange(signed, otherAddr); err != nil || r.Rcode != dns.RcodeRefused {
		t.Fatalf("NOTIFY from a non-primary: %v %v", err, r)
	}
	// Signed with the right key, from a primary, it is accepted.
	msg := new(dns.Msg)
	msg.SetNotify(dns.Fqdn(rpzZone))
	msg.SetTsig(dns.Fqdn(tsigName), dns.HmacSHA256, 300, time.Now().Unix())
	c := &dns.Client{TsigSecret: map[string]string{dns.Fqdn(tsigName): tsigSecret}}
	r, _, err := c.Exchange(msg, addr)
	if err != nil || r.Rcode != dns.RcodeSuccess || !r.Authoritative {
		t.Fatalf("signed NOTIFY: %v %v", err, r)
	}
}
