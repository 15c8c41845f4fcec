package test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/miekg/dns"

	"github.com/rpzfw/rpzfw/internal/awsclient"
	"github.com/rpzfw/rpzfw/internal/emulator"
)

// e2eEmu is one "rpzfw emulator" process: one VPC with one rule group
// associated, its DNS, and its query logs written every second to a moto
// bucket that notifies a moto queue. Every query the test sends it goes
// through ask, which keeps the ledger the reports are checked against.
type e2eEmu struct {
	API, DNS, VPC, Bucket, Queue, Group string
	moto                                string
	cmd                                 *exec.Cmd
	mu                                  sync.Mutex
	asked                               map[string]map[string]int // name -> rcode -> queries
}

var emuReadyRe = regexp.MustCompile(`API: (\S+)\s+DNS: (\S+)`)

// startEmuProcess runs "rpzfw emulator" for vpc, logging to a new bucket
// (and its queue) on moto, with a rule group associated with the VPC.
func startEmuProcess(t *testing.T, moto, vpc string, settle time.Duration) *e2eEmu {
	t.Helper()
	bin, err := rpzfwBinary()
	if err != nil {
		t.Fatal(err)
	}
	e := &e2eEmu{VPC: vpc, Bucket: vpc + "-logs", moto: moto, asked: map[string]map[string]int{}}
	e.Queue = logBucket(t, moto, e.Bucket)
	e.cmd = exec.Command(bin, "emulator", "--api", "127.0.0.1:0", "--dns", "127.0.0.1:0", "--vpc-id", vpc,
		"--settle", settle.String(), "--s3-endpoint", moto, "--log-bucket", e.Bucket, "--log-flush", "1s")
	e.cmd.Env = append(os.Environ(), "AWS_EC2_METADATA_DISABLED=true", "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing")
	out := &lockedBuffer{}
	e.cmd.Stderr = out
	stdout, err := e.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = e.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = e.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = e.cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("rpzfw emulator (%s) output:\n%s", vpc, out.String())
		}
	})
	ready := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := emuReadyRe.FindStringSubmatch(sc.Text()); m != nil {
				ready <- m
			}
		}
	}()
	select {
	case m := <-ready:
		e.API, e.DNS = m[1], m[2]
	case <-exited:
		t.Fatalf("rpzfw emulator exited before it was ready:\n%s", out.String())
	case <-time.After(time.Minute):
		t.Fatalf("rpzfw emulator did not get ready:\n%s", out.String())
	}
	e.Group = e.ruleGroup(t)
	return e
}

// ruleGroup makes a rule group through the emulator's API and associates
// it with the emulator's VPC, as a user does before adding a device.
func (e *e2eEmu) ruleGroup(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	opts := awsclient.Options{Region: "us-east-1", Endpoint: e.API}
	cfg, err := awsclient.Config(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	api := awsclient.Resolver(cfg, opts)
	g, err := api.CreateFirewallRuleGroup(ctx, &r53r.CreateFirewallRuleGroupInput{CreatorRequestId: aws.String(e.VPC), Name: aws.String(e.VPC)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.AssociateFirewallRuleGroup(ctx, &r53r.AssociateFirewallRuleGroupInput{CreatorRequestId: aws.String(e.VPC),
		FirewallRuleGroupId: g.FirewallRuleGroup.Id, VpcId: aws.String(e.VPC), Priority: aws.Int32(101), Name: aws.String(e.VPC)}); err != nil {
		t.Fatal(err)
	}
	return aws.ToString(g.FirewallRuleGroup.Id)
}

// ask queries the emulator's DNS for name (A, UDP) and returns the rcode.
// The emulator logs a query before it answers, so every answered query is
// one log line: the ledger counts them.
func (e *e2eEmu) ask(t *testing.T, name string) string {
	t.Helper()
	c := &dns.Client{Timeout: 5 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	r, _, err := c.Exchange(m, e.DNS)
	if err != nil {
		// The query may or may not have been logged: the ledger can no
		// longer be exact.
		t.Fatalf("asking %s for %s: %v", e.DNS, name, err)
	}
	rc := dns.RcodeToString[r.Rcode]
	e.mu.Lock()
	if e.asked[name] == nil {
		e.asked[name] = map[string]int{}
	}
	e.asked[name][rc]++
	e.mu.Unlock()
	return rc
}

// waitAnswer asks until name gets want and returns when it first did.
func (e *e2eEmu) waitAnswer(t *testing.T, name, want string) time.Time {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	got := ""
	for time.Now().Before(deadline) {
		if got = e.ask(t, name); got == want {
			return time.Now()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s at %s: %s, want %s", name, e.VPC, got, want)
	return time.Time{}
}

// tally is what the ledger says the reports must count.
type tally struct {
	resolutions, blocked, alerted int64
	byFeed                        map[string][2]int64 // feed -> blocked, alerted
	byName                        map[string]int64    // hits by query name
}

// tally adds up the queries asked so far: NXDOMAIN answers are blocks
// (every other name resolves), and the names of alert are alerts (their
// feed is feedOf's answer, "" for none). A monitor-only device alerts
// wherever it would have blocked.
func (e *e2eEmu) tally(monitor bool, alert map[string]bool, feedOf func(string) string) tally {
	e.mu.Lock()
	defer e.mu.Unlock()
	tl := tally{byFeed: map[string][2]int64{}, byName: map[string]int64{}}
	for name, byRcode := range e.asked {
		for rc, n := range byRcode {
			tl.resolutions += int64(n)
			hit := rc == "NXDOMAIN" || alert[name]
			if !hit {
				continue
			}
			f := tl.byFeed[feedOf(name)]
			if rc == "NXDOMAIN" && !monitor {
				tl.blocked += int64(n)
				f[0] += int64(n)
			} else {
				tl.alerted += int64(n)
				f[1] += int64(n)
			}
			tl.byFeed[feedOf(name)] = f
			tl.byName[name] += int64(n)
		}
	}
	return tl
}

// inFlight counts the queue's messages received and not yet deleted.
func (e *e2eEmu) inFlight(t *testing.T) (visible, inFlight string) {
	t.Helper()
	out, err := motoSQS(e.moto).GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: &e.Queue,
		AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Attributes["ApproximateNumberOfMessages"], out.Attributes["ApproximateNumberOfMessagesNotVisible"]
}

// bulkObject is a query log object of n resolutions no rule matched, in
// the VPC, as Resolver would write it.
func (e *e2eEmu) bulkObject(t *testing.T, n int) []byte {
	t.Helper()
	line, err := json.Marshal(emulator.LogRecord{Version: "1.100000", AccountID: emulator.DefaultAccount, Region: "us-east-1", VpcID: e.VPC,
		QueryTimestamp: time.Now().UTC().Format(time.RFC3339), QueryName: "bulk.example.", QueryType: "A", QueryClass: "IN", Rcode: "NOERROR",
		Answers: []emulator.LogAnswer{}, SrcAddr: "10.0.0.7", SrcPort: "53", Transport: "UDP", SrcIDs: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	line = append(line, '\n')
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	chunk := bytes.Repeat(line, 1000)
	for range n / 1000 {
		zw.Write(chunk)
	}
	zw.Write(bytes.Repeat(line, n%1000))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// putObject puts a query log object in the VPC's bucket, which notifies
// the queue.
func (e *e2eEmu) putObject(t *testing.T, tag string, body []byte) {
	t.Helper()
	now := time.Now().UTC()
	key := fmt.Sprintf("AWSLogs/%s/vpcdnsquerylogs/%s/%s/%s_vpcdnsquerylogs_%s_%s_%s.log.gz", emulator.DefaultAccount, e.VPC,
		now.Format("2006/01/02"), e.VPC, emulator.DefaultAccount, now.Format("20060102T1504Z"), tag)
	if _, err := motoS3(e.moto).PutObject(context.Background(), &s3.PutObjectInput{Bucket: &e.Bucket, Key: &key, Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
}

// landings records when each new object of a bucket is first listed,
// listing every 5 ms from when it is made: the moment a log object lands,
// to within a listing.
type landings struct {
	mu      sync.Mutex
	first   map[string]time.Time
	checked map[string]bool
	stop    chan struct{}
	done    chan struct{}
}

func (e *e2eEmu) watchLandings(t *testing.T) *landings {
	t.Helper()
	c := motoS3(e.moto)
	list := func() ([]string, error) {
		out, err := c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: &e.Bucket})
		if err != nil {
			return nil, err
		}
		keys := make([]string, 0, len(out.Contents))
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		return keys, nil
	}
	before, err := list()
	if err != nil {
		t.Fatal(err)
	}
	l := &landings{first: map[string]time.Time{}, checked: map[string]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	for _, k := range before {
		l.checked[k] = true // there before: not a candidate
	}
	go func() {
		defer close(l.done)
		for {
			select {
			case <-l.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			keys, err := list()
			now := time.Now()
			if err != nil {
				continue // the next listing tells
			}
			l.mu.Lock()
			for _, k := range keys {
				if _, ok := l.first[k]; !ok {
					l.first[k] = now
				}
			}
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *landings) close() { close(l.stop); <-l.done }

// blockLanded waits for the object holding name's blocked (NXDOMAIN)
// query and returns when it was first listed.
func (e *e2eEmu) blockLanded(t *testing.T, l *landings, name string) time.Time {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		l.mu.Lock()
		var fresh []string
		for k := range l.first {
			if !l.checked[k] {
				fresh = append(fresh, k)
				l.checked[k] = true
			}
		}
		l.mu.Unlock()
		for _, k := range fresh {
			if e.objectBlocks(t, k, name) {
				l.mu.Lock()
				defer l.mu.Unlock()
				return l.first[k]
			}
		}
	}
	t.Fatalf("no log object in %s holds the block of %s", e.Bucket, name)
	return time.Time{}
}

// objectBlocks says whether the object holds a line of name answered
// NXDOMAIN.
func (e *e2eEmu) objectBlocks(t *testing.T, key, name string) bool {
	t.Helper()
	out, err := motoS3(e.moto).GetObject(context.Background(), &s3.GetObjectInput{Bucket: &e.Bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	zr, err := gzip.NewReader(out.Body)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		line := sc.Bytes()
		if bytes.Contains(line, []byte(`"query_name":"`+dns.Fqdn(name)+`"`)) && bytes.Contains(line, []byte(`"rcode":"NXDOMAIN"`)) {
			return true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return false
}

// startPrimaryNotifying is a BIND 9 primary of rpzZone that sends
// TSIG-signed NOTIFY to every port (one per rpzfw instance).
func startPrimaryNotifying(t *testing.T, records string, ports ...int) *primary {
	t.Helper()
	dir := t.TempDir()
	zone := "$TTL 300\n@ SOA ns.invalid. hostmaster.invalid. 10 3600 600 86400 60\n@ NS ns.invalid.\n" + records
	if err := os.WriteFile(filepath.Join(dir, "rpz.zone"), []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	var targets strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&targets, "127.0.0.1 port %d key %s; ", p, tsigName)
	}
	port := freePort(t)
	conf := fmt.Sprintf(`key %q { algorithm hmac-sha256; secret %q; };
options { directory %q; pid-file none; listen-on port %d { 127.0.0.1; }; listen-on-v6 { none; }; recursion no; notify-source 127.0.0.1; };
controls { };
zone %q { type primary; file "rpz.zone"; allow-transfer { key %s; }; allow-update { key %s; }; ixfr-from-differences yes;
	notify explicit; notify-delay 0; also-notify { %s}; };
`, tsigName, tsigSecret, dir, port, rpzZone, tsigName, tsigName, targets.String())
	confFile := filepath.Join(dir, "named.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &primary{addr: fmt.Sprintf("127.0.0.1:%d", port)}
	p.stop = launchNamed(t, confFile, func(line string) bool { return strings.HasSuffix(line, " running") })
	return p
}

// nsupdateTCP sends one large signed update over TCP (nsupdate -v): a
// thousand records do not fit a UDP message.
func (p *primary) nsupdateTCP(t *testing.T, updates []string) {
	t.Helper()
	bin, err := exec.LookPath("nsupdate")
	if err != nil {
		t.Fatalf("nsupdate (Debian bind9-dnsutils or dnsutils) is needed for this test")
	}
	host, port, _ := strings.Cut(p.addr, ":")
	script := fmt.Sprintf("server %s %s\nzone %s\n%s\nsend\n", host, port, rpzZone, strings.Join(updates, "\n"))
	cmd := exec.Command(bin, "-v", "-y", "hmac-sha256:"+tsigName+":"+tsigSecret)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nsupdate: %v: %s", err, out)
	}
}

// e2eSummary and e2eTop are the reports API's answers the test reads.
type e2eSummary struct {
	Resolutions int64 `json:"resolutions"`
	Blocked     int64 `json:"blocked"`
	Alerted     int64 `json:"alerted"`
}

type e2eTop struct {
	Rows []struct {
		Value   string `json:"value"`
		Blocked int64  `json:"blocked"`
		Alerted int64  `json:"alerted"`
	} `json:"rows"`
}

type e2eHits struct {
	Hits []struct {
		Device    string `json:"device"`
		QueryName string `json:"query_name"`
		Action    string `json:"action"`
		Kind      string `json:"kind"`
		Feed      string `json:"feed"`
	} `json:"hits"`
	Next string `json:"next"`
}

// reportsMatch compares the reports of a device with the ledger's tally
// and returns what differs ("" when nothing does).
func reportsMatch(s *served, device string, want tally) string {
	var sum e2eSummary
	s.must(200, "GET", "/api/v1/reports/summary?from=-1h&device="+device, nil, &sum)
	var diffs []string
	if sum.Resolutions != want.resolutions || sum.Blocked != want.blocked || sum.Alerted != want.alerted {
		diffs = append(diffs, fmt.Sprintf("summary %+v, want resolutions %d blocked %d alerted %d", sum, want.resolutions, want.blocked, want.alerted))
	}
	var top e2eTop
	s.must(200, "GET", "/api/v1/reports/top?by=feed&limit=100&from=-1h&device="+device, nil, &top)
	got := map[string][2]int64{}
	for _, r := range top.Rows {
		got[r.Value] = [2]int64{r.Blocked, r.Alerted}
	}
	if !sameFeeds(got, want.byFeed) {
		diffs = append(diffs, fmt.Sprintf("by feed %v, want %v", got, want.byFeed))
	}
	return strings.Join(diffs, "; ")
}

func sameFeeds(a, b map[string][2]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// hitsOf reads every hit of a device in the last hour through the API,
// by query name.
func hitsOf(s *served, device string) map[string][]string {
	out := map[string][]string{}
	before := ""
	for {
		var page e2eHits
		s.must(200, "GET", "/api/v1/reports/hits?limit=1000&from=-1h&device="+device+before, nil, &page)
		for _, h := range page.Hits {
			out[strings.TrimSuffix(h.QueryName, ".")] = append(out[strings.TrimSuffix(h.QueryName, ".")], h.Kind+"/"+h.Feed)
		}
		if page.Next == "" {
			return out
		}
		before = "&before=" + page.Next
	}
}

// waitUntil polls cond every 100ms until it holds, for up to limit.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out after %s waiting for %s", limit, what)
}

// lastSyncBy is the instance of a device's newest finished sync run.
func lastSyncBy(s *served, device string) (instance, hash string) {
	var page struct {
		Syncs []struct {
			Instance string `json:"instance"`
			Result   string `json:"result"`
			PlanHash string `json:"plan_hash"`
		} `json:"syncs"`
	}
	s.must(200, "GET", "/api/v1/devices/"+device+"/syncs", nil, &page)
	for _, r := range page.Syncs {
		if r.Result != "" {
			return r.Instance, r.PlanHash
		}
	}
	return "", ""
}

// stats is the median and maximum of samples.
func stats(samples []time.Duration) (median, most time.Duration) {
	s := append([]time.Duration(nil), samples...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2], s[len(s)-1]
}

// portalShows checks that the portal's reports pages say what the ledgers
// say: each device's blocked and alerted tiles, and every feed that caused
// a hit. It logs in as the user the first instance made on its first start.
func (env *e2e) portalShows(t *testing.T, s *served) {
	t.Helper()
	password := readTrimmed(t, filepath.Join(env.serve["alpha"].DataDir, "admin.password"))
	code, portal := s.portalLogin("admin", password)
	if code != http.StatusSeeOther {
		t.Fatalf("portal login: %d, want 303", code)
	}
	edge, watch := env.tallies()
	for dev, want := range map[string]tally{"edge": edge, "watch": watch} {
		body := s.page(portal, "/ui/reports?device="+dev+"&range=1h")
		for id, n := range map[string]int64{"tile-blocked": want.blocked, "tile-alerted": want.alerted} {
			tile := fmt.Sprintf(`id="%s">%d<`, id, n)
			if !strings.Contains(body, tile) {
				t.Errorf("the portal's reports of %s lack %s", dev, tile)
			}
		}
		for feed := range want.byFeed {
			if feed != "" && !strings.Contains(body, ">"+feed+"<") {
				t.Errorf("the portal's reports of %s do not name feed %q", dev, feed)
			}
		}
	}
}

// hold makes every API call to the emulator that starts from now on wait
// an hour: a sync in progress stops at its next call, in the middle, for
// as long as the test needs, whatever the machine's speed. release puts
// the faults back as they were; a call already held stays held (its
// client is gone by then).
func (e *e2eEmu) hold(t *testing.T) (release func()) {
	t.Helper()
	var was emulator.Faults
	e.faults(t, http.MethodGet, nil, &was)
	held := was
	held.Ops = map[string]emulator.OpFault{"*": {Latency: emulator.Duration(time.Hour)}}
	e.faults(t, http.MethodPut, held, nil)
	return func() { e.faults(t, http.MethodPut, was, nil) }
}

// faults reads or sets the emulator's faults through its admin endpoint.
func (e *e2eEmu) faults(t *testing.T, method string, in, out any) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.API+"/_emulator/faults", body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s the emulator's faults: %v", method, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		t.Fatalf("%s the emulator's faults: %d %s", method, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("the emulator's faults: %v: %s", err, b)
		}
	}
}
