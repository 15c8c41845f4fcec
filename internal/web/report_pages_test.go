package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/api"
	"github.com/rpzfw/rpzfw/internal/emulator"
	"github.com/rpzfw/rpzfw/internal/querylog"
	"github.com/rpzfw/rpzfw/internal/store"
)

// logRecord is a Route 53 Resolver query log record; with rg, action and
// list it is a firewall hit.
func logRecord(at time.Time, account, vpc, name, client, rg, action, list string) emulator.LogRecord {
	rec := emulator.LogRecord{Version: "1.100000", AccountID: account, Region: "us-east-1", VpcID: vpc,
		QueryTimestamp: at.UTC().Format(time.RFC3339), QueryName: name, QueryType: "A", QueryClass: "IN", Rcode: "NOERROR",
		Answers: []emulator.LogAnswer{}, SrcAddr: client, SrcPort: "53001", Transport: "UDP", SrcIDs: map[string]string{"instance": "i-0123456789abcdef0"},
		FirewallRuleGroupID: rg, FirewallRuleAction: action, FirewallDomainListID: list}
	if action == store.ActionBlock {
		rec.Rcode = "NXDOMAIN"
	}
	return rec
}

// ingestQueryLog puts recs, as one gzipped object of queue, through the
// log pipeline's own ingest code (querylog.Ingester): the rows reports
// read are made as the service makes them.
func ingestQueryLog(t *testing.T, st store.Store, queue, key string, recs []emulator.LogRecord) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	enc := json.NewEncoder(zw)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	in, err := querylog.NewIngester(ctx, st, queue, nil)
	if err != nil {
		t.Fatal(err)
	}
	fresh, stats, err := in.Ingest(ctx, querylog.ObjectRef{Bucket: "dns-logs", Key: key, ETag: "etag-" + key}, bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil || !fresh || stats.Lines != int64(len(recs)) || stats.BadLines != 0 {
		t.Fatalf("ingesting %s: fresh %v stats %+v err %v", key, fresh, stats, err)
	}
}

const (
	testQueueURL = "http://127.0.0.1:1/123456789012/rpzfw-logs"
	testRule     = "rpzfw-1-nxdomain"
)

// withHits turns log upload on for org a's device edge and ingests:
// 3 blocks of bad.example (2 clients), 1 of worse.example, 1 alert, and
// 4 resolutions no rule matched, a few minutes ago.
func withHits(t *testing.T, e *env) { withHitsOf(t, e, "a", "edge", "BLOCK") }

// withHitsOf is withHits for device nick of org, its hits of the feed's
// rule with action.
func withHitsOf(t *testing.T, e *env, org, nick, action string) {
	t.Helper()
	ctx := context.Background()
	d, err := e.st.GetDevice(ctx, e.orgs[org].ID, nick)
	if err != nil {
		t.Fatal(err)
	}
	d.LogEnabled, d.LogQueueURL = true, testQueueURL
	if _, err := e.st.UpdateDevice(ctx, d); err != nil {
		t.Fatal(err)
	}
	st, err := e.st.GetStatus(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	st.VPCs = []string{"vpc-0a"}
	if err := e.st.PutStatus(ctx, st); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-5 * time.Minute)
	rg := d.RuleGroupID
	dep := store.Deployment{PlanHash: "h1", Fingerprint: "f1",
		Lists: []store.DeployedList{{ListID: "rslvr-fdl-0001", Rule: testRule}, {ListID: "rslvr-fdl-0002", Rule: "rpzfw-2-alert"}},
		Entries: []store.PlanEntry{{Domain: "bad.example", Rule: testRule, Source: "feed", Line: 7}, {Domain: "worse.example", Rule: testRule, Source: "block-list", Line: 2},
			{Domain: "watch.example", Rule: "rpzfw-2-alert", Source: "allow-list", Line: 1}}}
	if err := e.st.RecordDeployment(ctx, d.ID, at.Add(-time.Hour), dep); err != nil {
		t.Fatal(err)
	}
	recs := []emulator.LogRecord{
		logRecord(at, "123456789012", "vpc-0a", "bad.example.", "10.0.0.5", rg, action, "rslvr-fdl-0001"),
		logRecord(at, "123456789012", "vpc-0a", "bad.example.", "10.0.0.5", rg, action, "rslvr-fdl-0001"),
		logRecord(at, "123456789012", "vpc-0a", "bad.example.", "10.0.0.6", rg, action, "rslvr-fdl-0001"),
		logRecord(at, "123456789012", "vpc-0a", "worse.example.", "10.0.0.6", rg, action, "rslvr-fdl-0001"),
		logRecord(at, "123456789012", "vpc-0a", "watch.example.", "10.0.0.7", rg, "ALERT", "rslvr-fdl-0002"),
	}
	for _, n := range []string{"a.example.", "b.example.", "c.example.", "d.example."} {
		recs = append(recs, logRecord(at, "123456789012", "vpc-0a", n, "10.0.0.8", "", "", ""))
	}
	ingestQueryLog(t, e.st, testQueueURL, "AWSLogs/123456789012/vpcdnsquerylogs/vpc-0a/"+nick+".log.gz", recs)
}

func TestReportsPage(t *testing.T) {
	e := newEnv(t, Limits{})
	withHits(t, e)
	c := e.client(t)
	if code, _ := e.login(t, c, "victor", testPassword); code != http.StatusOK {
		t.Fatalf("login: %d", code)
	}
	code, body, _ := get(t, c, e.srv.URL+"/ui/reports?device=edge&range=1h")
	if code != http.StatusOK {
		t.Fatalf("reports: %d %s", code, body)
	}
	for _, want := range []string{
		"<title>Reports: edge · rpzfw</title>", `id="tile-resolutions">9<`, `id="tile-blocked">4<`, `id="tile-alerted">1<`,
		`<label for="range">`, `<label for="from">From (UTC)</label>`, `id="timeline-data"`,
		"lower bound", `/ui/assets/vendor/uplot/uPlot.iife.min.js`, `id="timeline-table"`, `<td data-label="Blocked" class="n">4</td>`, `id="top-domain"`, ">bad.example.<", ">10.0.0.5<",
		"name=bad.example", "what=domain", "rule=" + testRule,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the reports page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, " style=") {
		t.Error("the page holds an inline script or style, which the CSP refuses")
	}
	// The timeline's JSON must parse as it stands in the page.
	i := strings.Index(body, `id="timeline-data">`)
	raw := body[i+len(`id="timeline-data">`):]
	raw = raw[:strings.Index(raw, "</script>")]
	var tl api.ReportTimeline
	if err := json.Unmarshal([]byte(raw), &tl); err != nil || len(tl.Points) == 0 {
		t.Fatalf("timeline data %q: %v", raw, err)
	}
	var blocked, alerted, passed int64
	for _, p := range tl.Points {
		blocked, alerted, passed = blocked+p.Blocked, alerted+p.Alerted, passed+p.Passed
	}
	if blocked != 4 || alerted != 1 || passed != 4 {
		t.Errorf("timeline sums: blocked %d alerted %d passed %d, want 4, 1, 4", blocked, alerted, passed)
	}

	code, body, _ = get(t, c, e.srv.URL+"/ui/reports?range=custom&from=yesterday")
	if code != http.StatusBadRequest || !strings.Contains(body, `id="from-error"`) || !strings.Contains(body, "yesterday") {
		t.Errorf("a bad custom range: %d, want 400 with the error by the field", code)
	}
	code, body, _ = get(t, c, e.srv.URL+"/ui/reports?device=nope")
	if code != http.StatusBadRequest || !strings.Contains(body, `no device named`) {
		t.Errorf("an unknown device: %d, want 400 with the API's message", code)
	}
}

func TestHitSearchAndCSV(t *testing.T) {
	e := newEnv(t, Limits{})
	withHits(t, e)
	c := e.client(t)
	if code, _ := e.login(t, c, "victor", testPassword); code != http.StatusOK {
		t.Fatalf("login: %d", code)
	}
	tests := []struct {
		query    string
		wantRows int
		want     string
	}{
		{"device=edge&range=1h", 5, "bad.example."},
		{"device=edge&range=1h&name=bad.example", 3, "feed line 7"},
		{"device=edge&range=1h&client=10.0.0.6", 2, "worse.example."},
		{"range=1h&action=ALERT", 1, "watch.example."},
		{"range=1h&rule=" + testRule, 4, "worse.example."},
		{"range=1h&rule=no-such-rule", 0, `id="no-hits"`},
		{"range=1h&name=none.example", 0, `id="no-hits"`},
	}
	for _, tc := range tests {
		code, body, _ := get(t, c, e.srv.URL+"/ui/reports/hits?"+tc.query)
		rows := strings.Count(body, "<time datetime=")
		if code != http.StatusOK || rows != tc.wantRows || !strings.Contains(body, tc.want) {
			t.Errorf("hits?%s: %d, %d rows, want %d with %q", tc.query, code, rows, tc.wantRows, tc.want)
		}
	}
	if code, body, _ := get(t, c, e.srv.URL+"/ui/reports/hits?action=PASS"); code != http.StatusBadRequest || !strings.Contains(body, "BLOCK or ALERT") {
		t.Errorf("a bad action: %d", code)
	}

	for _, tc := range []struct{ what, head, row string }{
		{"hits", "at,device,query_name", "bad.example."},
		{"domain", "domain,blocked,alerted,total", "bad.example.,3,0,3"},
		{"client", "client,blocked,alerted,total", "10.0.0.6,2,0,2"},
	} {
		resp, err := c.Get(e.srv.URL + "/ui/reports/csv?" + url.Values{"what": {tc.what}, "device": {"edge"}, "range": {"1h"}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		resp.Body.Close()
		csv := b.String()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") ||
			!strings.Contains(resp.Header.Get("Content-Disposition"), "rpzfw-"+tc.what+"-edge.csv") ||
			!strings.HasPrefix(csv, "# ") || !strings.Contains(csv, tc.head) || !strings.Contains(csv, tc.row) {
			t.Errorf("CSV %s: %d %q %q:\n%s", tc.what, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Disposition"), csv)
		}
	}
	if code, _, _ := get(t, c, e.srv.URL+"/ui/reports/csv?what=passwords"); code != http.StatusBadRequest {
		t.Errorf("an unknown download: %d, want 400", code)
	}
	anon := e.client(t)
	if code, _, h := get(t, anon, e.srv.URL+"/ui/reports/csv?what=hits"); code != http.StatusSeeOther || h.Get("Location") != "/ui/login" {
		t.Errorf("CSV without a session: %d %q, want the login page", code, h.Get("Location"))
	}
}

// TestMonitorOnlyReports: a monitor-only device's alerts of blocking
// rules are what would have been blocked, and the pages say so.
func TestMonitorOnlyReports(t *testing.T) {
	e := newEnv(t, Limits{})
	withHitsOf(t, e, "b", "other", "ALERT")
	c := e.client(t)
	if code, _ := e.login(t, c, "bob", testPassword); code != http.StatusOK {
		t.Fatalf("login: %d", code)
	}
	_, body, _ := get(t, c, e.srv.URL+"/ui/reports?device=other&range=1h")
	for _, want := range []string{`id="tile-alerted">5<`, "would have been blocked (alerted)", "Top domains that would have been blocked", "monitor-only mode"} {
		if !strings.Contains(body, want) {
			t.Errorf("the monitor-only report lacks %q", want)
		}
	}
	_, body, _ = get(t, c, e.srv.URL+"/ui/reports/hits?device=other&range=1h&name=bad.example")
	if n := strings.Count(body, `class="small would">would have been blocked<`); n != 3 {
		t.Errorf("%d hits marked would have been blocked, want 3", n)
	}
	_, body, _ = get(t, c, e.srv.URL+"/ui/reports?range=1h")
	if !strings.Contains(body, "Some devices are in monitor-only mode") {
		t.Error("the all-devices report does not say some devices only monitor")
	}
}

// TestHitSearchPages: past a page of hits, "older hits" continues where
// the page ended, and every hit is shown once.
func TestHitSearchPages(t *testing.T) {
	e := newEnv(t, Limits{})
	withHits(t, e)
	d, err := e.st.GetDevice(context.Background(), e.orgs["a"].ID, "edge")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-10 * time.Minute)
	var recs []emulator.LogRecord
	for i := range hitsPageSize + 5 {
		recs = append(recs, logRecord(at.Add(time.Duration(i)*time.Second), "123456789012", "vpc-0a", fmt.Sprintf("p%d.paged.example.", i), "10.0.1.1", d.RuleGroupID, "BLOCK", "rslvr-fdl-0001"))
	}
	ingestQueryLog(t, e.st, testQueueURL, "AWSLogs/paged.log.gz", recs)
	c := e.client(t)
	if code, _ := e.login(t, c, "victor", testPassword); code != http.StatusOK {
		t.Fatalf("login: %d", code)
	}
	seen := map[string]int{}
	next := "/ui/reports/hits?" + url.Values{"range": {"1h"}, "name": {"*.paged.example"}}.Encode()
	nextRe := regexp.MustCompile(`href="(/ui/reports/hits\?[^"]+)" rel="next"`)
	for pages := 0; next != ""; pages++ {
		if pages > 3 {
			t.Fatal("more pages than hits")
		}
		code, body, _ := get(t, c, e.srv.URL+next)
		if code != http.StatusOK {
			t.Fatalf("%s: %d", next, code)
		}
		for _, m := range regexp.MustCompile(`p\d+\.paged\.example\.`).FindAllString(body, -1) {
			seen[m]++
		}
		next = ""
		if m := nextRe.FindStringSubmatch(body); m != nil {
			next = html.UnescapeString(m[1])
		}
		if pages > 0 && !strings.Contains(body, ">Newest<") {
			t.Error("a later page has no link back to the newest hits")
		}
	}
	if len(seen) != hitsPageSize+5 {
		t.Errorf("%d distinct hits over the pages, want %d", len(seen), hitsPageSize+5)
	}
	for n, k := range seen {
		if k != 1 {
			t.Errorf("%s shown %d times", n, k)
		}
	}
}
