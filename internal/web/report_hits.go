package web

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"

	"github.com/rpzfw/rpzfw/internal/api"
	"github.com/rpzfw/rpzfw/internal/store"
)

// hitsPageSize is how many hits a page of the hit search shows.
const hitsPageSize = 50

// hitsData is the hit search page.
type hitsData struct {
	Filter  reportFilter
	Ranges  any
	Devices []api.DeviceView
	Errors  map[string]string
	Error   string
	Hits    []api.HitView
	// Next is the query of the next (older) page, "" on the last.
	Next, First template.URL
	Note        string
	Shown       bool
}

func (s *Server) hitsPage(w http.ResponseWriter, r *http.Request, sess store.Session, u store.User) {
	f, errs := parseReportFilter(r.URL.Query())
	d := hitsData{Filter: f, Ranges: reportRanges, Errors: errs}
	devs, err := s.policyDevices(r, u)
	if err != nil {
		s.apiFailure(w, r, "listing devices", err)
		return
	}
	d.Devices = devs
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusBadRequest
	} else {
		q := f.hitsAPI()
		q.Set("limit", strconv.Itoa(hitsPageSize))
		var hits api.ReportHits
		err := s.callAPI(r.Context(), u, http.MethodGet, "/api/v1/reports/hits", q, nil, &hits)
		var ae *APIError
		switch {
		case err == nil:
			d.Hits, d.Note, d.Shown = hits.Hits, hits.Note, true
			if hits.Next != "" {
				d.Next = f.Query("before", hits.Next)
			}
			if f.Before != "" {
				d.First = f.Query("before", "")
			}
		case errors.As(err, &ae) && ae.Status < 500:
			status = ae.Status
			if ae.Field != "" {
				d.Errors[ae.Field] = ae.Message
			} else {
				d.Error = ae.Message
			}
		default:
			s.apiFailure(w, r, "searching hits", err)
			return
		}
	}
	s.render(w, status, "report_hits", page{Title: "Hits", User: &u, CSRF: sess.CSRF, Admin: u.Role == store.RoleAdmin, Data: d})
}

// csvKinds are the CSV downloads: the hits, or a top list by a dimension.
var csvKinds = map[string]bool{"hits": true, "domain": true, "client": true, "feed": true, "rule": true}

// reportCSV downloads what a report page shows as CSV, through the API's
// format=csv.
func (s *Server) reportCSV(w http.ResponseWriter, r *http.Request, _ store.Session, u store.User) {
	what := r.URL.Query().Get("what")
	if !csvKinds[what] {
		s.errorPage(w, r, http.StatusBadRequest, fmt.Sprintf("%q is not a download: want hits, domain, client, feed or rule.", what))
		return
	}
	f, errs := parseReportFilter(r.URL.Query())
	for field, msg := range errs {
		s.errorPage(w, r, http.StatusBadRequest, field+": "+msg)
		return
	}
	var q url.Values
	path := "/api/v1/reports/hits"
	if what == "hits" {
		q = f.hitsAPI()
		q.Set("limit", "1000")
	} else {
		path = "/api/v1/reports/top"
		q = f.api()
		q.Set("by", what)
		q.Set("limit", "1000")
	}
	q.Set("format", "csv")
	body, ctype, err := s.callAPIRaw(r.Context(), u, path, q)
	if err != nil {
		s.apiFailure(w, r, "downloading a report", err)
		return
	}
	name := "rpzfw-" + what
	if f.Device != "" {
		name += "-" + f.Device
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="`+safeFileName(name)+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(body) //nolint:errcheck // the client has gone
}

// safeFileName keeps letters, digits, '-', '_' and '.' (a nickname may
// hold nothing else, but the header must never carry a quote).
func safeFileName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}
