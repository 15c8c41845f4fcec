package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"github.com/rpzfw/rpzfw/internal/api"
	"github.com/rpzfw/rpzfw/internal/store"
)

// topLimit is how many rows each top list shows.
const topLimit = 10

// topTable is one top list and where its rows drill down to.
type topTable struct {
	By, Title, Column string
	// Param is the hit search's filter a row sets.
	Param string
	Rows  []topRow
	Err   string
}

type topRow struct {
	Value                   string
	Blocked, Alerted, Total int64
	// Hits is the hit search's query for this row.
	Hits template.URL
}

// reportsData is the reports page.
type reportsData struct {
	Filter  reportFilter
	Ranges  any
	Devices []api.DeviceView
	Errors  map[string]string
	Error   string
	// Monitor: the device shown is monitor-only; SomeMonitor: one of all.
	Monitor, SomeMonitor bool
	Summary              api.ReportSummary
	Timeline             api.ReportTimeline
	Tops                 []topTable
	// Pinned is the filter over the report's absolute range.
	Pinned reportFilter
	Shown  bool
}

func (s *Server) reportsPage(w http.ResponseWriter, r *http.Request, sess store.Session, u store.User) {
	f, errs := parseReportFilter(r.URL.Query())
	d := reportsData{Filter: f, Ranges: reportRanges, Errors: errs}
	devs, err := s.policyDevices(r, u)
	if err != nil {
		s.apiFailure(w, r, "listing devices", err)
		return
	}
	d.Devices = devs
	for _, dv := range devs {
		if dv.MonitorOnly {
			d.SomeMonitor = true
			if dv.Nickname == f.Device {
				d.Monitor = true
			}
		}
	}
	status := http.StatusBadRequest
	if len(errs) == 0 {
		status = s.fillReport(r.Context(), u, &d)
	}
	if status >= 500 {
		s.internal(w, r, "reading a report", errors.New(d.Error))
		return
	}
	title := "Reports: all devices"
	if f.Device != "" {
		title = "Reports: " + f.Device
	}
	s.render(w, status, "report_page", page{Title: title, User: &u, CSRF: sess.CSRF, Admin: u.Role == store.RoleAdmin, Data: d})
}

// fillReport calls the report API for the page: the summary, timeline
// and top lists, and returns the page's status. An error the API lays at
// a field goes next to it.
func (s *Server) fillReport(ctx context.Context, u store.User, d *reportsData) int {
	q := d.Filter.api()
	if st := s.reportCall(ctx, u, "/api/v1/reports/summary", q, &d.Summary, d); st != 0 {
		return st
	}
	if st := s.reportCall(ctx, u, "/api/v1/reports/timeline", q, &d.Timeline, d); st != 0 {
		return st
	}
	d.Pinned = d.Filter.Pinned(d.Summary.From, d.Summary.To)
	blocked := "Top blocked domains"
	if d.Monitor {
		blocked = "Top domains that would have been blocked"
	}
	for _, t := range []topTable{
		{By: "domain", Title: blocked, Column: "Domain", Param: "name"},
		{By: "client", Title: "Top clients", Column: "Client", Param: "client"},
		{By: "feed", Title: "Top feeds", Column: "Feed", Param: "feed"},
		{By: "rule", Title: "Top rules", Column: "Rule", Param: "rule"},
	} {
		tq := d.Filter.api()
		tq.Set("by", t.By)
		tq.Set("limit", fmt.Sprint(topLimit))
		var top api.ReportTop
		if st := s.reportCall(ctx, u, "/api/v1/reports/top", tq, &top, d); st != 0 {
			return st
		}
		for _, row := range top.Rows {
			tr := topRow{Value: row.Value, Blocked: row.Blocked, Alerted: row.Alerted, Total: row.Total}
			tr.Hits = d.Pinned.Query(t.Param, row.Value)
			t.Rows = append(t.Rows, tr)
		}
		d.Tops = append(d.Tops, t)
	}
	d.Shown = true
	return http.StatusOK
}

// reportCall calls one report route; a refusal is put on the page and
// its status returned (0: success).
func (s *Server) reportCall(ctx context.Context, u store.User, path string, q map[string][]string, out any, d *reportsData) int {
	err := s.callAPI(ctx, u, http.MethodGet, path, q, nil, out)
	if err == nil {
		return 0
	}
	var ae *APIError
	if !errors.As(err, &ae) {
		d.Error = err.Error()
		return http.StatusInternalServerError
	}
	if ae.Status >= 500 {
		d.Error = ae.Message
		return ae.Status
	}
	if field := strings.SplitN(ae.Field, "[", 2)[0]; field != "" {
		d.Errors[field] = ae.Message
	} else {
		d.Error = ae.Message
	}
	return ae.Status
}
