package api

import (
	"context"
	"encoding/csv"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/report"
	"github.com/rpzfw/rpzfw/internal/store"
)

// ingestHits stores n hits of device d in the minutes before the env's
// clock (one a minute), with their counts and rollups, and 10 resolutions
// without a hit.
func (e *env) ingestHits(d store.Device, n int, source string) {
	e.t.Helper()
	ctx := context.Background()
	now := e.clock.Now()
	var hits []store.Hit
	var counts []store.Count
	var rolls []store.Rollup
	for i := range n {
		at := now.Add(-time.Duration(i+1) * time.Minute)
		h := store.Hit{OrgID: d.OrgID, DeviceID: d.ID, At: at, QueryName: "h" + strconv.Itoa(i%3) + ".bad.example.", QueryType: "A", Rcode: "NXDOMAIN",
			SrcAddr: "10.0.0." + strconv.Itoa(i%2+1), VPCID: "vpc-1", Action: store.ActionBlock, Kind: store.KindBlock, Rule: "rpzfw-1-nxdomain",
			ListID: "rslvr-fdl-1", Entry: "*.bad.example", Source: source, Line: 7}
		hits = append(hits, h)
		for _, w := range []time.Duration{time.Minute, time.Hour} {
			counts = append(counts, store.Count{OrgID: d.OrgID, DeviceID: d.ID, Width: w, At: at.Truncate(w), Action: h.Action, N: 1})
		}
		for _, r := range []struct {
			dim, v string
			ws     []time.Duration
		}{{store.DimRule, h.Rule, []time.Duration{time.Minute, time.Hour, 24 * time.Hour}}, {store.DimDomain, h.QueryName, []time.Duration{time.Hour, 24 * time.Hour}},
			{store.DimClient, h.SrcAddr, []time.Duration{time.Hour, 24 * time.Hour}}} {
			for _, w := range r.ws {
				rolls = append(rolls, store.Rollup{OrgID: d.OrgID, DeviceID: d.ID, Dim: r.dim, Width: w, At: at.Truncate(w), Action: h.Action, Source: source, Value: r.v, N: 1})
			}
		}
	}
	counts = append(counts, store.Count{OrgID: d.OrgID, DeviceID: d.ID, Width: time.Minute, At: now.Add(-time.Minute).Truncate(time.Minute), Action: store.ActionNone, N: 10},
		store.Count{OrgID: d.OrgID, DeviceID: d.ID, Width: time.Hour, At: now.Add(-time.Minute).Truncate(time.Hour), Action: store.ActionNone, N: 10})
	obj := store.LogObject{Queue: d.LogQueueURL, Bucket: "logs", Key: "k-" + strconv.FormatInt(d.ID, 10) + source, ETag: "e", OrgID: d.OrgID, Lines: int64(n + 10),
		Newest: now.Add(-time.Minute), ProcessedAt: now, Devices: []int64{d.ID}}
	_, err := e.store.IngestObject(ctx, obj, func(w store.IngestWriter) error {
		if err := w.AddHits(ctx, hits); err != nil {
			return err
		}
		if err := w.AddCounts(ctx, counts); err != nil {
			return err
		}
		return w.AddRollups(ctx, rolls)
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// happyReports walks the report and log routes (TestEveryRouteHappyPath).
func happyReports(t *testing.T, e *env) {
	d := e.storedDevice(e.orgA, "edge-1")
	e.ingestHits(d, 12, "threats")
	var sum ReportSummary
	e.must(200, "GET", "/api/v1/reports/summary?device=edge-1", e.viewer, nil).json(t, &sum)
	if sum.Blocked != 12 || sum.Resolutions != 22 || sum.DistinctClients != 2 || sum.Note != report.Note {
		t.Fatalf("summary %+v", sum)
	}
	var tl ReportTimeline
	e.must(200, "GET", "/api/v1/reports/timeline?from=-2h", e.viewer, nil).json(t, &tl)
	if tl.BucketSeconds != 60 || len(tl.Points) != 121 { // widened to whole minutes
		t.Fatalf("timeline of %d points by %ds", len(tl.Points), tl.BucketSeconds)
	}
	var top ReportTop
	e.must(200, "GET", "/api/v1/reports/top?by=feed", e.viewer, nil).json(t, &top)
	if len(top.Rows) != 1 || top.Rows[0] != (TopRow{Value: "threats", Blocked: 12, Total: 12}) {
		t.Fatalf("top feeds %+v", top)
	}
	var hits ReportHits
	e.must(200, "GET", "/api/v1/reports/hits?limit=5&feed=threats&action=block", e.viewer, nil).json(t, &hits)
	if len(hits.Hits) != 5 || hits.Next == "" || hits.Hits[0].Device != "edge-1" || hits.Hits[0].Feed != "threats" || hits.Hits[0].Line != 7 {
		t.Fatalf("hits %+v", hits)
	}
	var h LogHealth
	e.must(200, "GET", "/api/v1/devices/edge-1/logs", e.viewer, nil).json(t, &h)
	if h.LastLogRetrieved == nil {
		t.Fatalf("log health %+v", h)
	}
	if err := e.store.Quarantine(context.Background(), store.QuarantinedMessage{Queue: "q", OrgID: e.orgA.ID, MessageID: "m", Body: "{}", Receives: 5, Reason: "bad gzip"}); err != nil {
		t.Fatal(err)
	}
	var q QuarantineList
	e.must(200, "GET", "/api/v1/logs/quarantine", e.viewer, nil).json(t, &q)
	if len(q.Messages) != 1 || q.Messages[0].Reason != "bad gzip" {
		t.Fatalf("quarantine %+v", q)
	}
	happyLogSetup(t, e)
	e.must(202, "POST", "/api/v1/logs/quarantine/"+strconv.FormatInt(q.Messages[0].ID, 10)+"/retry", e.admin, nil)
	var rr RetryResult
	e.must(202, "POST", "/api/v1/logs/quarantine/retry", e.admin, nil).json(t, &rr)
	if rr.Retrying != 1 {
		t.Fatalf("retry all: %+v", rr)
	}
}

func TestReports(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/api/v1/policies", e.admin, blockPolicy("mine"))
	for _, nick := range []string{"a", "b"} {
		e.must(201, "POST", "/api/v1/devices", e.admin, accessKeyDevice(nick, "mine"))
	}
	e.must(201, "POST", "/api/v1/policies", e.adminB, blockPolicy("mine"))
	e.must(201, "POST", "/api/v1/devices", e.adminB, accessKeyDevice("a", "mine"))
	e.ingestHits(e.storedDevice(e.orgA, "a"), 6, "threats")
	e.ingestHits(e.storedDevice(e.orgA, "b"), 4, "=cmd")
	e.ingestHits(e.storedDevice(e.orgB, "a"), 9, "threats")

	sum := func(token, query string) ReportSummary {
		var s ReportSummary
		e.must(200, "GET", "/api/v1/reports/summary"+query, token, nil).json(t, &s)
		return s
	}
	if s := sum(e.viewer, ""); s.Blocked != 10 || s.Resolutions != 30 {
		t.Errorf("organization A: %+v", s)
	}
	if s := sum(e.adminB, ""); s.Blocked != 9 {
		t.Errorf("organization B sees %+v", s)
	}
	if s := sum(e.viewer, "?device=a&device=b&from=-1d"); s.Blocked != 10 {
		t.Errorf("devices a and b: %+v", s)
	}
	if s := sum(e.viewer, "?device=b&feed=threats"); s.Blocked != 0 || s.Resolutions != 14 {
		t.Errorf("device b, feed threats: %+v", s)
	}
	if s := sum(e.viewer, "?from=-3m"); s.Blocked != 6 {
		t.Errorf("the last three minutes (widened to whole minutes: 3 hits a device): %+v", s)
	}

	for _, c := range []struct{ query, field string }{
		{"?device=nobody", "device"}, {"?from=yesterday", "from"}, {"?action=ALLOW", "action"}, {"?from=-1h&to=-2h", ""}, {"?from=-12000h", ""},
	} {
		e.wantError(400, CodeBadRequest, c.field, "GET", "/api/v1/reports/summary"+c.query, e.viewer, nil)
	}
	e.wantError(400, CodeBadRequest, "by", "GET", "/api/v1/reports/top?by=vpc", e.viewer, nil)
	e.wantError(400, CodeBadRequest, "format", "GET", "/api/v1/reports/top?format=xml", e.viewer, nil)
	e.wantError(400, CodeBadRequest, "before", "GET", "/api/v1/reports/hits?before=x", e.viewer, nil)
	e.wantError(403, CodeForbidden, "", "POST", "/api/v1/logs/quarantine/retry", e.viewer, nil)
	e.wantError(404, CodeNotFound, "", "POST", "/api/v1/logs/quarantine/99/retry", e.admin, nil)
	e.wantError(404, CodeNotFound, "", "GET", "/api/v1/devices/nobody/logs", e.viewer, nil)

	// CSV: the note first, then a header and rows; a value that a
	// spreadsheet would run as a formula is quoted.
	r := e.must(200, "GET", "/api/v1/reports/top?by=feed&format=csv", e.viewer, nil)
	if r.header.Get("Content-Type") != "text/csv; charset=utf-8" || r.header.Get("Rpzfw-Note") != report.Note {
		t.Errorf("CSV headers %v", r.header)
	}
	text, _ := strings.CutPrefix(string(r.body), "# "+report.Note+"\n")
	rows, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][0] != "feed" || rows[1][0] != "threats" || rows[2][0] != "'=cmd" {
		t.Errorf("CSV %q: %v", r.body, err)
	}
	// Pages of hits in CSV and JSON agree.
	var all []HitView
	next := ""
	for {
		var page ReportHits
		e.must(200, "GET", "/api/v1/reports/hits?limit=4&before="+next, e.viewer, nil).json(t, &page)
		all = append(all, page.Hits...)
		if next = page.Next; next == "" || len(all) > 20 {
			break
		}
	}
	r = e.must(200, "GET", "/api/v1/reports/hits?format=csv", e.viewer, nil)
	rows, _ = csv.NewReader(strings.NewReader(strings.SplitN(string(r.body), "\n", 2)[1])).ReadAll()
	if len(all) != 10 || len(rows) != 11 {
		t.Errorf("%d hits by pages, %d CSV rows", len(all), len(rows))
	}
}
