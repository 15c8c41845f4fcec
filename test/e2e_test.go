package test

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/secret"
)

// The end-to-end test's world. The feed (zone rpz.test on BIND):
// f0-f9.feed.example and *.wild.example blocked, pass.wild.example a
// PASSTHRU, keep*.stay.example blocked throughout, gone*.feed.example
// removed by the large change. The user's lists: blocked.example and
// *.user.example blocked, ok.wild.example allowed.
const (
	e2eSettle = 2 * time.Second
	e2eKeep   = 300
	e2eGone   = 200
	e2eNew    = 2500 // three ADD calls of at most 1000, a settle apart: a sync with a middle (and one update message)
	// e2eBulk lines per log object: reading one takes far longer than the
	// moment between its being taken and the kill.
	e2eBulk = 500_000
)

var (
	e2eBlockList = []string{"blocked.example", "*.user.example"}
	e2eAllowList = []string{"ok.wild.example"}
	// e2eTraffic is the mix sent to both devices, with how often.
	e2eTraffic = []struct {
		name string
		n    int
		edge string // the blocking device's answer
	}{
		{"f1.feed.example", 3, "NXDOMAIN"}, {"x.wild.example", 2, "NXDOMAIN"}, {"pass.wild.example", 1, "NOERROR"},
		{"blocked.example", 2, "NXDOMAIN"}, {"a.user.example", 1, "NXDOMAIN"}, {"ok.wild.example", 1, "NOERROR"},
		{"clean1.example", 4, "NOERROR"}, {"clean2.example", 1, "NOERROR"},
	}
	// e2eKinds is each traffic hit's kind and feed, on the blocking
	// device (edge) and the monitor-only one (watch).
	e2eKinds = map[string][2]string{
		"f1.feed.example": {"block/vendor", "monitor/vendor"}, "x.wild.example": {"block/vendor", "monitor/vendor"},
		"pass.wild.example": {"passthru/vendor", "passthru/vendor"}, "blocked.example": {"block/block-list", "monitor/block-list"},
		"a.user.example": {"block/block-list", "monitor/block-list"}, "ok.wild.example": {"allow_list/allow-list", "allow_list/allow-list"},
	}
)

func e2eFeed() string {
	var b strings.Builder
	for i := range 10 {
		fmt.Fprintf(&b, "f%d.feed.example CNAME .\n", i)
	}
	b.WriteString("*.wild.example CNAME .\npass.wild.example CNAME rpz-passthru.\n")
	for i := range e2eKeep {
		fmt.Fprintf(&b, "keep%d.stay.example CNAME .\n", i)
	}
	for i := range e2eGone {
		fmt.Fprintf(&b, "gone%d.feed.example CNAME .\n", i)
	}
	return b.String()
}

// feedOf is the source the reports name for a hit on name.
func feedOf(name string) string {
	switch {
	case name == "blocked.example" || strings.HasSuffix(name, ".user.example"):
		return "block-list"
	case name == "ok.wild.example":
		return "allow-list"
	}
	return "vendor"
}

// e2e is the whole loop on one machine: BIND, moto's S3 and SQS, two
// emulator processes (one VPC each), two rpzfw serve instances on one
// PostgreSQL database.
type e2e struct {
	prim        *primary
	edge, watch *e2eEmu
	serve       map[string]*served // by instance name
}

func newE2E(t *testing.T) *e2e {
	t.Helper()
	start := time.Now()
	step := func(what string) { t.Logf("e2e: %s at %s", what, time.Since(start).Round(time.Millisecond)) }
	if _, err := rpzfwBinary(); err != nil {
		t.Fatal(err)
	}
	step("rpzfw built")
	moto := startMoto(t)
	dsn := postgresSchema(t)
	notifyA, notifyB := freePort(t), freePort(t)
	env := &e2e{prim: startPrimaryNotifying(t, e2eFeed(), notifyA, notifyB)}
	env.edge = startEmuProcess(t, moto, "vpc-edge", e2eSettle)
	env.watch = startEmuProcess(t, moto, "vpc-watch", e2eSettle)
	step("moto, BIND and the emulators up")
	key, err := secret.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keyEnv := []string{secret.KeyEnv + "=" + secret.EncodeKey(key)}
	flags := []string{"--database", dsn, "--sandbox=false", "--poll", "200ms", "--lease-ttl", "3s"}
	alpha := append(flags, "--instance", "alpha", "--notify-listen", fmt.Sprintf("127.0.0.1:%d", notifyA))
	dirA := t.TempDir()
	a := startServeEnv(t, dirA, keyEnv, alpha...)
	a.must(201, "POST", "/api/v1/policies", map[string]any{"name": "corp", "block_list": e2eBlockList, "allow_list": e2eAllowList,
		"sources": []map[string]any{{"name": "vendor", "kind": "zone-transfer", "zone": rpzZone, "primaries": []string{env.prim.addr}, "ixfr": true,
			"tsig": map[string]string{"name": tsigName, "algorithm": "hmac-sha256", "secret": tsigSecret}}}}, nil)
	for nick, e := range map[string]*e2eEmu{"edge": env.edge, "watch": env.watch} {
		a.must(201, "POST", "/api/v1/devices", map[string]any{
			"nickname": nick, "policy": "corp", "region": "us-east-1", "rule_group_id": e.Group, "endpoint_url": e.API,
			"monitor_only": nick == "watch", "log_upload": map[string]any{"enabled": true, "sqs_queue_url": e.Queue},
			"credentials": map[string]any{"type": "access_key", "access_key_id": "AKIAEMULATOR0000TEST", "secret_access_key": "emulator-secret-key-0000"},
		}, nil)
	}
	for _, nick := range []string{"edge", "watch"} {
		a.waitDevice(nick, "in_sync", func(d deviceView) bool { return d.Status.State == "in_sync" })
	}
	step("both devices in sync")
	// The log consumers read the devices and the VPCs their first sync
	// found when they start, then every 10 s: a resolution read in between
	// would count for no device. Both instances start now, with the VPCs
	// known.
	a.stop()
	a = startServeEnv(t, dirA, keyEnv, alpha...)
	b := startServeEnv(t, t.TempDir(), keyEnv, append(flags, "--instance", "beta", "--notify-listen", fmt.Sprintf("127.0.0.1:%d", notifyB))...)
	b.Token = a.Token
	env.serve = map[string]*served{"alpha": a, "beta": b}
	step("both instances up")
	return env
}

// any is an instance still running.
func (env *e2e) any() *served {
	for _, name := range []string{"alpha", "beta"} {
		if s := env.serve[name]; s.cmd.ProcessState == nil {
			return s
		}
	}
	return nil
}

// TestE2E is the whole loop: a BIND primary's feed (TSIG, IXFR, signed
// NOTIFY) through two rpzfw instances on PostgreSQL to two emulated
// firewalls, one blocking and one monitor-only; their query logs through
// moto's S3 and SQS into the reports, checked against every query sent;
// the time from an nsupdate to the firewall blocking the name, and from
// its log object to its hit in the reports; and a kill -9 of one instance
// in the middle of a sync and of a log object.
func TestE2E(t *testing.T) {
	start := time.Now()
	env := newE2E(t)
	t.Logf("e2e: set up in %s", time.Since(start).Round(time.Millisecond))
	env.traffic(t)
	t.Logf("e2e: the traffic counted at %s", time.Since(start).Round(time.Millisecond))
	samples := 1
	if v, err := strconv.Atoi(os.Getenv("RPZFW_E2E_SAMPLES")); err == nil && v > 0 {
		samples = v
	}
	env.measure(t, samples)
	env.killMidway(t)
	t.Logf("e2e: took %s", time.Since(start).Round(time.Millisecond))
}

// tallies are what the reports of each device must say, from the ledgers.
func (env *e2e) tallies() (edge, watch tally) {
	alertEdge := map[string]bool{"pass.wild.example": true, "ok.wild.example": true}
	alertWatch := map[string]bool{}
	for name := range e2eKinds {
		alertWatch[name] = true
	}
	return env.edge.tally(false, alertEdge, feedOf), env.watch.tally(true, alertWatch, feedOf)
}

// traffic sends the mix to both devices and waits until the reports count
// it exactly, by device and by feed, with each hit's kind and feed.
func (env *e2e) traffic(t *testing.T) {
	for _, q := range e2eTraffic {
		for range q.n {
			if got := env.edge.ask(t, q.name); got != q.edge {
				t.Fatalf("edge answers %s with %s, want %s", q.name, got, q.edge)
			}
			if got := env.watch.ask(t, q.name); got != "NOERROR" {
				t.Fatalf("the monitor-only device answers %s with %s", q.name, got)
			}
		}
	}
	s := env.any()
	env.waitReports(t, s, 0, 2*time.Minute)
	env.portalShows(t, s)
	for i, dev := range []string{"edge", "watch"} {
		hits := hitsOf(s, dev)
		for _, q := range e2eTraffic {
			kinds, isHit := e2eKinds[q.name]
			got := hits[q.name]
			if !isHit {
				if len(got) != 0 {
					t.Errorf("%s: hits of the clean name %s: %v", dev, q.name, got)
				}
				continue
			}
			if len(got) != q.n {
				t.Errorf("%s: %d hits of %s, want %d (%v)", dev, len(got), q.name, q.n, got)
			}
			for _, k := range got {
				if k != kinds[i] {
					t.Errorf("%s: a hit of %s is %s, want %s", dev, q.name, k, kinds[i])
				}
			}
		}
	}
}

// waitReports waits until both devices' reports equal the ledgers (the
// blocking device's resolutions plus extra lines not sent as queries).
func (env *e2e) waitReports(t *testing.T, s *served, extra int64, limit time.Duration) {
	t.Helper()
	var diff string
	deadline := time.Now().Add(limit)
	for {
		edge, watch := env.tallies()
		edge.resolutions += extra
		diff = reportsMatch(s, "edge", edge)
		if d := reportsMatch(s, "watch", watch); d != "" {
			diff += " watch: " + d
		}
		if diff == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reports never matched the queries sent: %s", diff)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// measure adds a name at the primary with nsupdate and times how long
// until the blocking device's DNS blocks it, and how long from the log
// object holding that block landing in S3 until the hit is in the reports.
func (env *e2e) measure(t *testing.T, samples int) {
	var toFirewall, toReport []time.Duration
	for k := range samples {
		name := fmt.Sprintf("m%d.measure.example", k)
		s := env.any()
		// From a firewall at rest: the previous sample's sync is over.
		for _, dev := range []string{"edge", "watch"} {
			s.waitDevice(dev, "in_sync", func(d deviceView) bool { return d.Status.State == "in_sync" })
		}
		lands := env.edge.watchLandings(t)
		start := time.Now()
		env.prim.nsupdate(t, "update add "+name+"."+rpzZone+". 300 CNAME .")
		blocked := env.edge.waitAnswer(t, name, "NXDOMAIN")
		landed := env.edge.blockLanded(t, lands, name)
		var reported time.Time
		// The failure bound covers one redelivery: a message whose receive
		// was lost comes back after SQS's 60 s visibility timeout.
		for deadline := time.Now().Add(3 * time.Minute); reported.IsZero(); time.Sleep(10 * time.Millisecond) {
			var page e2eHits
			// Polled faster than a token may ask: a 429 is a poll skipped.
			switch code := s.call("GET", "/api/v1/reports/hits?device=edge&from=-1h&name="+name, s.Token, nil, &page); code {
			case http.StatusOK:
			case http.StatusTooManyRequests:
				time.Sleep(50 * time.Millisecond)
				continue
			default:
				t.Fatalf("reading the hits of %s: status %d", name, code)
			}
			if len(page.Hits) == 1 {
				reported = time.Now()
			} else if time.Now().After(deadline) {
				t.Fatalf("the hit of %s never reached the reports: %+v", name, page.Hits)
			}
		}
		lands.close()
		toFirewall, toReport = append(toFirewall, blocked.Sub(start)), append(toReport, reported.Sub(landed))
		t.Logf("e2e-sample feed_to_firewall=%s log_to_report=%s", blocked.Sub(start).Round(time.Millisecond), reported.Sub(landed).Round(time.Millisecond))
	}
	fm, fx := stats(toFirewall)
	rm, rx := stats(toReport)
	t.Logf("e2e-measure samples=%d feed_to_firewall_median=%s max=%s log_to_report_median=%s max=%s (emulator settle %s)",
		samples, fm.Round(time.Millisecond), fx.Round(time.Millisecond), rm.Round(time.Millisecond), rx.Round(time.Millisecond), e2eSettle)
}

// outcome is a watched name's answer before and after the large change.
type outcome struct{ old, new string }

// watched are the names asked during the large change, with the answer
// each may have: the old one or the new one.
func watched() map[string]outcome {
	w := map[string]outcome{
		"f1.feed.example": {"NXDOMAIN", "NXDOMAIN"}, "x.wild.example": {"NXDOMAIN", "NXDOMAIN"},
		"blocked.example": {"NXDOMAIN", "NXDOMAIN"}, "a.user.example": {"NXDOMAIN", "NXDOMAIN"},
		"clean1.example": {"NOERROR", "NOERROR"}, "pass.wild.example": {"NOERROR", "NOERROR"},
	}
	for i := range e2eKeep {
		w[fmt.Sprintf("keep%d.stay.example", i)] = outcome{"NXDOMAIN", "NXDOMAIN"}
	}
	for i := range e2eGone {
		w[fmt.Sprintf("gone%d.feed.example", i)] = outcome{"NXDOMAIN", "NOERROR"}
	}
	for i := range e2eNew {
		w[fmt.Sprintf("new%d.burst.example", i)] = outcome{"NOERROR", "NXDOMAIN"}
	}
	return w
}

// round asks every watched name once, fails on an answer that is neither
// the old nor the new one, and says how many have the new one where it
// differs from the old.
func (env *e2e) round(t *testing.T, w map[string]outcome) (changed, changing int) {
	t.Helper()
	for name, o := range w {
		got := env.edge.ask(t, name)
		if got != o.old && got != o.new {
			t.Fatalf("%s answered %s during the change: neither its old (%s) nor its new (%s) outcome", name, got, o.old, o.new)
		}
		if o.old != o.new {
			changing++
			if got == o.new {
				changed++
			}
		}
	}
	return changed, changing
}

// killMidway kills (-9) the instance that syncs the blocking device while
// it is in the middle of a sync of a large feed change and both instances
// are each in the middle of a log object; the survivor must finish both,
// with every watched name answering its old or new outcome throughout,
// and the reports counting every line once.
func (env *e2e) killMidway(t *testing.T) {
	s := env.any()
	waitUntil(t, time.Minute, "the blocking device's queue to drain", func() bool {
		v, f := env.edge.inFlight(t)
		return v == "0" && f == "0"
	})
	holder, _ := lastSyncBy(s, "edge")
	victim := env.serve[holder]
	if victim == nil {
		t.Fatalf("the last sync of edge names instance %q", holder)
	}
	oldHash := s.waitDevice("edge", "in_sync", func(d deviceView) bool { return d.Status.State == "in_sync" }).Status.PlanHash
	bulk := env.edge.bulkObject(t, e2eBulk)

	w := env.halfChanged(t)
	// The sync stops at its next call until the kill, so it is still in
	// the middle however long the logs take to settle below.
	release := env.edge.hold(t)
	env.quiet(t, s)
	env.bulkInFlight(t, bulk)
	// Still syncing, and neither large object stored: the kill is in the
	// middle of both.
	var d deviceView
	s.must(200, "GET", "/api/v1/devices/edge", nil, &d)
	var sum e2eSummary
	s.must(200, "GET", "/api/v1/reports/summary?from=-1h&device=edge", nil, &sum)
	if d.Status.State != "syncing" || sum.Resolutions >= e2eBulk {
		t.Fatalf("not in the middle of both at the kill: device %+v, %d resolutions stored", d.Status, sum.Resolutions)
	}
	victim.kill()
	release()
	killed := time.Now()
	survivor := env.any()
	env.finishAfterKill(t, survivor, w, oldHash)
	t.Logf("e2e: killed %s", holder)
	t.Logf("e2e: the survivor finished the sync %s after the kill", time.Since(killed).Round(time.Millisecond))
	env.waitReports(t, survivor, 2*e2eBulk, 3*time.Minute)
	t.Logf("e2e: every log line counted once %s after the kill", time.Since(killed).Round(time.Millisecond))
	for _, e := range []*e2eEmu{env.edge, env.watch} {
		if v, f := e.inFlight(t); v != "0" || f != "0" {
			t.Errorf("%s: %s messages waiting and %s in flight after everything was counted", e.Queue, v, f)
		}
	}
	env.checkHitsByName(t, survivor)
}

// halfChanged removes e2eGone names from the feed and adds e2eNew in one
// update, and asks the watched names until some have their new outcome
// and some not: the sync is half done.
func (env *e2e) halfChanged(t *testing.T) map[string]outcome {
	t.Helper()
	var updates []string
	for i := range e2eGone {
		updates = append(updates, fmt.Sprintf("update delete gone%d.feed.example.%s. CNAME", i, rpzZone))
	}
	for i := range e2eNew {
		updates = append(updates, fmt.Sprintf("update add new%d.burst.example.%s. 300 CNAME .", i, rpzZone))
	}
	env.prim.nsupdateTCP(t, updates)
	w := watched()
	for deadline := time.Now().Add(2 * time.Minute); ; {
		changed, changing := env.round(t, w)
		if changed > 0 && changed < changing {
			t.Logf("e2e: %d of %d names changed: the sync is half done", changed, changing)
			return w
		}
		if changed == changing || time.Now().After(deadline) {
			t.Fatalf("never saw the change half done (%d of %d names changed)", changed, changing)
		}
	}
}

// quiet waits until every query asked of the blocking device is stored
// and its queue is empty, so that the next messages are ours alone.
func (env *e2e) quiet(t *testing.T, s *served) {
	t.Helper()
	var last string
	// As in measure, the bound covers one redelivery after the visibility
	// timeout.
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		edge, _ := env.tallies()
		var sum e2eSummary
		s.must(200, "GET", "/api/v1/reports/summary?from=-1h&device=edge", nil, &sum)
		v, f := env.edge.inFlight(t)
		if sum.Resolutions == edge.resolutions && v == "0" && f == "0" {
			return
		}
		last = fmt.Sprintf("%d resolutions stored of %d asked, %s messages waiting, %s in flight", sum.Resolutions, edge.resolutions, v, f)
		if time.Now().After(deadline) {
			var health map[string]any
			s.must(200, "GET", "/api/v1/devices/edge/logs", nil, &health)
			t.Fatalf("the queries asked were never all stored: %s; log health %v", last, health)
		}
	}
}

// bulkInFlight puts two large log objects in the blocking device's bucket,
// the second once the first is taken: the instance that took the first
// reads it and polls no more meanwhile, so the other takes the second.
func (env *e2e) bulkInFlight(t *testing.T, body []byte) {
	t.Helper()
	for i, want := range []string{"1", "2"} {
		env.edge.putObject(t, fmt.Sprintf("bulk%d", i), body)
		waitUntil(t, 30*time.Second, want+" large log objects taken", func() bool {
			_, f := env.edge.inFlight(t)
			return f == want
		})
	}
}

// finishAfterKill asks the watched names until the survivor has synced
// the blocking device to a new plan and every name has its new outcome.
func (env *e2e) finishAfterKill(t *testing.T, survivor *served, w map[string]outcome, oldHash string) {
	t.Helper()
	name := ""
	for n, s := range env.serve {
		if s == survivor {
			name = n
		}
	}
	for deadline := time.Now().Add(2 * time.Minute); ; {
		changed, changing := env.round(t, w)
		var d deviceView
		survivor.must(200, "GET", "/api/v1/devices/edge", nil, &d)
		if by, _ := lastSyncBy(survivor, "edge"); changed == changing && d.Status.State == "in_sync" && d.Status.PlanHash != oldHash && by == name {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the survivor did not finish the sync: %d of %d names changed, device %+v", changed, changing, d)
		}
	}
	survivor.waitDevice("watch", "in_sync", func(d deviceView) bool { return d.Status.State == "in_sync" })
}

// checkHitsByName compares every name's hits with the queries that were
// blocked or alerted, on both devices.
func (env *e2e) checkHitsByName(t *testing.T, s *served) {
	t.Helper()
	edge, watch := env.tallies()
	for dev, want := range map[string]tally{"edge": edge, "watch": watch} {
		got := hitsOf(s, dev)
		bad := 0
		for name, n := range want.byName {
			if int64(len(got[name])) != n {
				if bad++; bad <= 10 {
					t.Errorf("%s: %d hits of %s, want %d", dev, len(got[name]), name, n)
				}
			}
		}
		for name, kinds := range got {
			if want.byName[name] == 0 {
				t.Errorf("%s: hits of %s, which was never blocked or alerted", dev, name)
			}
			for _, k := range kinds {
				if _, feed, _ := strings.Cut(k, "/"); feed != feedOf(name) {
					if bad++; bad <= 10 {
						t.Errorf("%s: a hit of %s is attributed to %q, want %q", dev, name, feed, feedOf(name))
					}
				}
			}
		}
	}
}
