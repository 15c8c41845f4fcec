package api

import (
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rpzfw/rpzfw/internal/report"
	"github.com/rpzfw/rpzfw/internal/store"
)

// Reports of query logs: summary, timeline, top lists and hits. Filters
// shared by all: device (nicknames, repeated or comma-separated), from and
// to (RFC 3339, or -DURATION before now; default the last 24 hours),
// action (BLOCK, ALERT), feed (sources: a feed's name, allow-list,
// block-list). Every answer says that cached queries are not logged.

// defaultRange is a report's range when from is not given.
const defaultRange = 24 * time.Hour

// reportParams are the query parameters of every report.
func reportParams() []param {
	return []param{
		{"query", "device", "string", "Device nicknames (repeat, or separate by commas); default: every device and the lines of none."},
		{"query", "from", "string", "Start: RFC 3339, or -DURATION before now (-90m, -24h, -30d). Default: 24 hours before to."},
		{"query", "to", "string", "End (excluded): RFC 3339 or -DURATION. Default: now."},
		{"query", "action", "string", "BLOCK or ALERT (repeat, or separate by commas)."},
		{"query", "feed", "string", "Sources of the hits: feed names, allow-list, block-list (repeat, or separate by commas)."},
	}
}

// list reads a repeated or comma-separated query parameter.
func list(r *http.Request, name string) []string {
	var out []string
	for _, v := range r.URL.Query()[name] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// when reads a time parameter: RFC 3339, or -DURATION before now.
func when(r *http.Request, name string, now, def time.Time) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	if strings.HasPrefix(v, "-") {
		if days, ok := strings.CutSuffix(v[1:], "d"); ok {
			if n, err := strconv.Atoi(days); err == nil && n >= 0 && n <= 3660 {
				return now.AddDate(0, 0, -n), nil
			}
		}
		d, err := time.ParseDuration(v[1:])
		if err == nil && d >= 0 {
			return now.Add(-d), nil
		}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, apiErr(http.StatusBadRequest, CodeBadRequest, name, "%q: want an RFC 3339 time (2030-01-02T15:04:05Z) or -DURATION before now (-24h, -30d)", v)
	}
	return t, nil
}

// filter reads the filters of a report for the caller's organization.
func (s *Server) filter(r *http.Request, c caller) (store.LogFilter, error) {
	now := s.cfg.Now()
	f := store.LogFilter{OrgID: c.org()}
	var err error
	if f.To, err = when(r, "to", now, now); err != nil {
		return f, err
	}
	if f.From, err = when(r, "from", now, f.To.Add(-defaultRange)); err != nil {
		return f, err
	}
	for _, nick := range list(r, "device") {
		d, err := s.cfg.Store.GetDevice(r.Context(), c.org(), nick)
		if errors.Is(err, store.ErrNotFound) {
			return f, apiErr(http.StatusBadRequest, CodeBadRequest, "device", "no device named %q", nick)
		}
		if err != nil {
			return f, fmt.Errorf("reading device %q: %w", nick, err)
		}
		f.Devices = append(f.Devices, d.ID)
	}
	for _, a := range list(r, "action") {
		a = strings.ToUpper(a)
		if a != store.ActionBlock && a != store.ActionAlert {
			return f, apiErr(http.StatusBadRequest, CodeBadRequest, "action", "%q: want BLOCK or ALERT", a)
		}
		f.Actions = append(f.Actions, a)
	}
	f.Sources = list(r, "feed")
	return f, nil
}

// reportError turns a range a report refuses into a 400.
func reportError(err error) error {
	if errors.Is(err, report.ErrRange) {
		return apiErr(http.StatusBadRequest, CodeBadRequest, "", "%v", err)
	}
	return err
}

func (s *Server) reporter() *report.Reporter {
	return &report.Reporter{Store: s.cfg.Store, Now: s.cfg.Now}
}

// ReportSummary is the answer of GET /api/v1/reports/summary.
type ReportSummary struct {
	From            time.Time `json:"from"`
	To              time.Time `json:"to"`
	Resolutions     int64     `json:"resolutions" doc:"Queries logged: blocked, alerted, and those no rule matched."`
	Blocked         int64     `json:"blocked"`
	Alerted         int64     `json:"alerted"`
	PercentBlocked  float64   `json:"percent_blocked"`
	DistinctClients int64     `json:"distinct_clients" doc:"Client addresses over the hours the range touches (whole days past the hits' retention)."`
	Unattributed    int64     `json:"unattributed" doc:"Lines of no device (without a device filter)."`
	Note            string    `json:"note"`
}

func (s *Server) getSummary(w http.ResponseWriter, r *http.Request, c caller) error {
	f, err := s.filter(r, c)
	if err != nil {
		return err
	}
	sum, err := s.reporter().Summary(r.Context(), f)
	if err != nil {
		return reportError(err)
	}
	s.writeJSON(w, http.StatusOK, ReportSummary{From: sum.From, To: sum.To, Resolutions: sum.Resolutions, Blocked: sum.Blocked,
		Alerted: sum.Alerted, PercentBlocked: sum.PercentBlocked, DistinctClients: sum.DistinctClients, Unattributed: sum.Unattributed, Note: sum.Note})
	return nil
}

// ReportTimeline is the answer of GET /api/v1/reports/timeline.
type ReportTimeline struct {
	From          time.Time       `json:"from"`
	To            time.Time       `json:"to"`
	BucketSeconds int64           `json:"bucket_seconds" doc:"Chosen for the range: from a minute (up to 3 hours) to a day."`
	Points        []TimelinePoint `json:"points"`
	Note          string          `json:"note"`
}

type TimelinePoint struct {
	At      time.Time `json:"at"`
	Blocked int64     `json:"blocked"`
	Alerted int64     `json:"alerted"`
	Passed  int64     `json:"passed" doc:"Resolutions no rule matched (0 when the filter names feeds)."`
}

func (s *Server) getTimeline(w http.ResponseWriter, r *http.Request, c caller) error {
	f, err := s.filter(r, c)
	if err != nil {
		return err
	}
	tl, err := s.reporter().Timeline(r.Context(), f)
	if err != nil {
		return reportError(err)
	}
	out := ReportTimeline{From: tl.From, To: tl.To, BucketSeconds: int64(tl.Bucket / time.Second), Points: []TimelinePoint{}, Note: tl.Note}
	for _, p := range tl.Points {
		out.Points = append(out.Points, TimelinePoint{At: p.At, Blocked: p.Blocked, Alerted: p.Alerted, Passed: p.Passed})
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

// ReportTop is the answer of GET /api/v1/reports/top.
type ReportTop struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	By   string    `json:"by"`
	Rows []TopRow  `json:"rows"`
	Note string    `json:"note"`
}

type TopRow struct {
	Value   string `json:"value"`
	Blocked int64  `json:"blocked"`
	Alerted int64  `json:"alerted"`
	Total   int64  `json:"total"`
}

// topBy maps the API's names to the report's.
var topBy = map[string]string{"domain": report.ByDomain, "client": report.ByClient, "rule": report.ByRule, "feed": report.BySource}

func (s *Server) getTop(w http.ResponseWriter, r *http.Request, c caller) error {
	f, err := s.filter(r, c)
	if err != nil {
		return err
	}
	by := r.URL.Query().Get("by")
	if by == "" {
		by = "domain"
	}
	dim, ok := topBy[by]
	if !ok {
		return apiErr(http.StatusBadRequest, CodeBadRequest, "by", "%q: want domain, client, feed or rule", by)
	}
	limit, err := queryInt(r, "limit", 10, 1, report.MaxTop)
	if err != nil {
		return err
	}
	csvOut, err := wantCSV(r)
	if err != nil {
		return err
	}
	top, err := s.reporter().Top(r.Context(), f, dim, limit)
	if err != nil {
		return reportError(err)
	}
	out := ReportTop{From: top.From, To: top.To, By: by, Rows: []TopRow{}, Note: top.Note}
	for _, row := range top.Rows {
		out.Rows = append(out.Rows, TopRow{Value: row.Value, Blocked: row.Blocked, Alerted: row.Alerted, Total: row.Blocked + row.Alerted})
	}
	if csvOut {
		rows := [][]string{{by, "blocked", "alerted", "total"}}
		for _, row := range out.Rows {
			rows = append(rows, []string{row.Value, i64(row.Blocked), i64(row.Alerted), i64(row.Total)})
		}
		return writeCSV(w, "top-"+by+".csv", rows)
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

func i64(n int64) string { return strconv.FormatInt(n, 10) }

// wantCSV reads format=json|csv.
func wantCSV(r *http.Request) (bool, error) {
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		return false, nil
	case "csv":
		return true, nil
	default:
		return false, apiErr(http.StatusBadRequest, CodeBadRequest, "format", "%q: want json or csv", f)
	}
}

// writeCSV answers with rows as CSV, the note first as a comment line
// (and in the Rpzfw-Note header).
func writeCSV(w http.ResponseWriter, name string, rows [][]string) error {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Rpzfw-Note", report.Note)
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "# %s\n", report.Note)
	cw := csv.NewWriter(w)
	for _, row := range rows {
		for i, v := range row {
			// Keep spreadsheets from reading a value as a formula.
			if v != "" && strings.ContainsRune("=+-@", rune(v[0])) {
				row[i] = "'" + v
			}
		}
		cw.Write(row) //nolint:errcheck // the client has gone
	}
	cw.Flush()
	return nil
}

// Bounds of GET /api/v1/reports/hits?limit=.
const (
	defaultHitsLimit = 100
	maxHitsLimit     = 1000
)

// ReportHits is the answer of GET /api/v1/reports/hits: newest first.
type ReportHits struct {
	Hits []HitView `json:"hits"`
	// Next continues after the last hit (as before=), "" at the end.
	Next string `json:"next" doc:"Pass as before= for the next page; empty on the last page."`
	Note string `json:"note"`
}

type HitView struct {
	At        time.Time `json:"at"`
	Device    string    `json:"device"`
	QueryName string    `json:"query_name"`
	QueryType string    `json:"query_type"`
	Rcode     string    `json:"rcode"`
	Client    string    `json:"client" doc:"The source address."`
	SrcID     string    `json:"src_id" doc:"The instance (i-...) or Resolver endpoint (rslvr-in-...) the query came through."`
	VPCID     string    `json:"vpc_id"`
	Action    string    `json:"action" doc:"BLOCK or ALERT."`
	Kind      string    `json:"kind" doc:"block; for ALERT: passthru, allow_list, or monitor (would have been blocked); other: a rule rpzfw did not make."`
	Rule      string    `json:"rule"`
	ListID    string    `json:"list_id"`
	Entry     string    `json:"entry" doc:"The domain list entry that matched (*.example.com)."`
	Feed      string    `json:"feed" doc:"The source of the entry: a feed, allow-list or block-list."`
	Line      int       `json:"line" doc:"The entry's line in its source."`
}

func (s *Server) getHits(w http.ResponseWriter, r *http.Request, c caller) error {
	f, err := s.filter(r, c)
	if err != nil {
		return err
	}
	q := store.HitQuery{LogFilter: f, Name: r.URL.Query().Get("name"), Client: r.URL.Query().Get("client"), Rule: r.URL.Query().Get("rule")}
	if q.Limit, err = queryInt(r, "limit", defaultHitsLimit, 1, maxHitsLimit); err != nil {
		return err
	}
	if b := r.URL.Query().Get("before"); b != "" {
		at, id, ok := strings.Cut(b, ".")
		ns, err1 := strconv.ParseInt(at, 10, 64)
		n, err2 := strconv.ParseInt(id, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return apiErr(http.StatusBadRequest, CodeBadRequest, "before", "%q: pass the next of a previous page", b)
		}
		q.Before, q.BeforeID = time.Unix(0, ns).UTC(), n
	}
	csvOut, err := wantCSV(r)
	if err != nil {
		return err
	}
	hits, err := s.reporter().Hits(r.Context(), q)
	if err != nil {
		return reportError(err)
	}
	names, err := s.nicknames(r, c)
	if err != nil {
		return err
	}
	out := ReportHits{Hits: []HitView{}, Note: report.Note}
	for _, h := range hits {
		out.Hits = append(out.Hits, HitView{At: h.At, Device: names[h.DeviceID], QueryName: h.QueryName, QueryType: h.QueryType, Rcode: h.Rcode,
			Client: h.SrcAddr, SrcID: h.SrcID, VPCID: h.VPCID, Action: h.Action, Kind: h.Kind, Rule: h.Rule, ListID: h.ListID,
			Entry: h.Entry, Feed: h.Source, Line: h.Line})
	}
	if len(hits) == q.Limit {
		last := hits[len(hits)-1]
		out.Next = fmt.Sprintf("%d.%d", last.At.UnixNano(), last.ID)
	}
	if csvOut {
		return writeCSV(w, "hits.csv", hitRows(out.Hits))
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

func hitRows(hits []HitView) [][]string {
	rows := [][]string{{"at", "device", "query_name", "query_type", "rcode", "client", "src_id", "vpc_id", "action", "kind", "rule", "list_id", "entry", "feed", "line"}}
	for _, h := range hits {
		rows = append(rows, []string{h.At.Format(time.RFC3339Nano), h.Device, h.QueryName, h.QueryType, h.Rcode, h.Client, h.SrcID, h.VPCID,
			h.Action, h.Kind, h.Rule, h.ListID, h.Entry, h.Feed, strconv.Itoa(h.Line)})
	}
	return rows
}

// nicknames maps the organization's device IDs to their nicknames.
func (s *Server) nicknames(r *http.Request, c caller) (map[int64]string, error) {
	ds, err := s.cfg.Store.ListDevices(r.Context(), c.org())
	if err != nil {
		return nil, fmt.Errorf("listing devices: %w", err)
	}
	out := make(map[int64]string, len(ds))
	for _, d := range ds {
		out[d.ID] = d.Nickname
	}
	return out, nil
}
