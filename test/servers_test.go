package test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// upstreamA is what the stub upstream answers for every A query, so that a
// name BIND did not rewrite is easy to recognise.
const upstreamA = "192.0.2.1"

// startUpstream runs a DNS server on loopback that answers every name with
// A 192.0.2.1 (and NODATA for other types). BIND forwards to it, so tests
// need no network.
func startUpstream(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening for the stub upstream: %v", err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		if q := r.Question[0]; q.Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(upstreamA)})
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

// named is a running BIND 9 resolver with response policy zones.
type named struct {
	addr string
	mu   sync.Mutex
	// rewrites maps a query name to BIND's logged policy and zone, e.g.
	// "PASSTHRU" via "rpz2".
	rewrites map[string]rewrite
}

type rewrite struct{ policy, zone string }

var rewriteLine = regexp.MustCompile(`\((\S+)\): rpz QNAME (\S+) rewrite \S+ via (\S+)`)

// freePort finds a port for a server that cannot be handed a socket.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.LocalAddr().(*net.UDPAddr).Port
}

// launchNamed starts named in the foreground with confFile and feeds each
// line it logs to onLine until onLine reports it ready. The returned stop
// ends it and waits for it to exit; Cleanup stops it too.
func launchNamed(t testing.TB, confFile string, onLine func(line string) (ready bool)) (stop func()) {
	t.Helper()
	bin, err := exec.LookPath("named")
	if err != nil {
		bin = "/usr/sbin/named"
		if _, statErr := os.Stat(bin); statErr != nil {
			t.Fatalf("BIND 9 is needed for this test and named was not found: install the Debian package bind9 (.ci/run does)")
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-g", "-c", confFile, "-n", "1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting named: %v", err)
	}
	done := make(chan struct{})
	ready := make(chan struct{})
	var tail []string
	var mu sync.Mutex
	go func() {
		var once sync.Once
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			mu.Lock()
			if tail = append(tail, line); len(tail) > 40 {
				tail = tail[1:]
			}
			mu.Unlock()
			if onLine(line) {
				once.Do(func() { close(ready) })
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(done) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("named did not start within 30s; its last output:\n%s", strings.Join(tail, "\n"))
	}
	return stop
}

// startNamed writes the zones (name -> text, in precedence order) and a
// configuration that loads them as response-policy zones with
// qname-wait-recurse no, starts named in the foreground, and waits until it
// answers.
func startNamed(t *testing.T, zoneNames []string, zoneText map[string]string, upstream string) *named {
	t.Helper()
	dir := t.TempDir()
	host, port, _ := net.SplitHostPort(upstream)
	var zones, policy strings.Builder
	for _, z := range zoneNames {
		file := filepath.Join(dir, z+".zone")
		if err := os.WriteFile(file, []byte(zoneText[z]), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&zones, "zone %q { type primary; file %q; };\n", z, file)
		fmt.Fprintf(&policy, "zone %q; ", z)
	}
	myPort := freePort(t)
	conf := fmt.Sprintf(`options {
	directory %q;
	pid-file none;
	listen-on port %d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion yes;
	allow-query { any; };
	allow-recursion { any; };
	forwarders { %s port %s; };
	forward only;
	dnssec-validation no;
	notify no;
	response-policy { %s } qname-wait-recurse no;
};
controls { };
%s`, dir, myPort, host, port, policy.String(), zones.String())
	confFile := filepath.Join(dir, "named.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	n := &named{addr: fmt.Sprintf("127.0.0.1:%d", myPort), rewrites: map[string]rewrite{}}
	// named says "running" before its policy zones are loaded; rewrites
	// start only after each zone's "reload done".
	running, loaded := false, 0
	launchNamed(t, confFile, func(line string) bool {
		running = running || strings.HasSuffix(line, " running")
		if strings.Contains(line, "reload done: success") {
			loaded++
		}
		if m := rewriteLine.FindStringSubmatch(line); m != nil {
			zone := m[3][strings.LastIndexByte(strings.TrimSuffix(m[3], "."), '.')+1:]
			n.mu.Lock()
			n.rewrites[strings.ToLower(m[1])] = rewrite{policy: m[2], zone: zone}
			n.mu.Unlock()
		}
		return running && loaded >= len(zoneNames)
	})
	return n
}

// answer is what BIND's response says, in the spelling of
// dnsfw.Verdict.Outcome: NXDOMAIN, NODATA, "CNAME target" or PASS.
func (n *named) answer(t *testing.T, c *dns.Client, q string) string {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(q), dns.TypeA)
	m.RecursionDesired = true
	var r *dns.Msg
	var err error
	for try := 0; try < 3; try++ {
		if r, _, err = c.Exchange(m, n.addr); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("querying BIND for %s: %v", q, err)
	}
	switch {
	case r.Rcode == dns.RcodeNameError:
		return "NXDOMAIN"
	case r.Rcode != dns.RcodeSuccess:
		return "RCODE " + dns.RcodeToString[r.Rcode]
	case len(r.Answer) == 0:
		return "NODATA"
	}
	if cn, ok := r.Answer[0].(*dns.CNAME); ok {
		return "CNAME " + strings.TrimSuffix(cn.Target, ".")
	}
	if a, ok := r.Answer[0].(*dns.A); ok && a.A.String() == upstreamA {
		return "PASS"
	}
	return "UNEXPECTED " + r.Answer[0].String()
}

// rewriteOf returns what BIND logged for q.
func (n *named) rewriteOf(q string) (rewrite, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	rw, ok := n.rewrites[q]
	return rw, ok
}

// startChainUpstream answers A 198.51.100.7 for every name, except
// cname.test, which is a CNAME to tracker.test.
func startChainUpstream(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		q := r.Question[0]
		name := q.Name
		if strings.EqualFold(name, "cname.test.") {
			m.Answer = append(m.Answer, &dns.CNAME{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60}, Target: "tracker.test."})
			name = "tracker.test."
		}
		if q.Qtype == dns.TypeA {
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP("198.51.100.7")})
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}
