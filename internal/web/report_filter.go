package web

import (
	"fmt"
	"html/template"
	"net/url"
	"strings"
	"time"
)

// reportRanges are the range picker's presets: label and the API's
// relative from.
var reportRanges = []struct{ Value, Label, From string }{
	{"1h", "Last hour", "-1h"},
	{"24h", "Last day", "-24h"},
	{"7d", "Last 7 days", "-7d"},
	{"30d", "Last 30 days", "-30d"},
	{"custom", "Custom", ""},
}

// localTime is the format of an <input type="datetime-local">, read as
// UTC (the page says so).
const localTime = "2006-01-02T15:04"

// reportFilter is what a report page shows: a device (or all), a range,
// and for hits the name, client, feed and action.
type reportFilter struct {
	Device string
	Range  string
	// From and To are the custom range, as datetime-local values (UTC).
	From, To                   string
	Name, Client, Feed, Action string
	Rule                       string
	Before                     string
}

// parseReportFilter reads the page's query; errs maps a field to what is
// wrong with it.
func parseReportFilter(q url.Values) (reportFilter, map[string]string) {
	f := reportFilter{Device: q.Get("device"), Range: q.Get("range"), From: q.Get("from"), To: q.Get("to"),
		Name: strings.TrimSpace(q.Get("name")), Client: strings.TrimSpace(q.Get("client")), Feed: q.Get("feed"), Rule: q.Get("rule"),
		Action: strings.ToUpper(q.Get("action")), Before: q.Get("before")}
	errs := map[string]string{}
	if f.Range == "" {
		f.Range = "24h"
		if f.From != "" || f.To != "" {
			f.Range = "custom"
		}
	}
	if _, ok := rangeFrom(f.Range); !ok {
		errs["range"] = fmt.Sprintf("%q is not a range: pick one of the list", f.Range)
		f.Range = "24h"
	}
	if f.Range == "custom" {
		for _, v := range []struct {
			name string
			val  *string
		}{{"from", &f.From}, {"to", &f.To}} {
			_, err := parseLocal(*v.val)
			switch {
			case *v.val == "" && v.name == "from":
				errs["from"] = "give the start of the custom range"
			case *v.val != "" && err != nil:
				errs[v.name] = fmt.Sprintf("%q: want a date and time such as 2030-01-02T15:04 (UTC)", *v.val)
			}
		}
	}
	if f.Action != "" && f.Action != "BLOCK" && f.Action != "ALERT" {
		errs["action"] = fmt.Sprintf("%q: want BLOCK or ALERT", f.Action)
	}
	return f, errs
}

// parseLocal reads a datetime-local value, or an RFC 3339 time (links
// carry those), as UTC.
func parseLocal(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	return time.ParseInLocation(localTime, v, time.UTC)
}

func rangeFrom(r string) (string, bool) {
	for _, p := range reportRanges {
		if p.Value == r {
			return p.From, true
		}
	}
	return "", false
}

// api is the filter as the report API's query.
func (f reportFilter) api() url.Values {
	q := url.Values{}
	if f.Device != "" {
		q.Set("device", f.Device)
	}
	if f.Range == "custom" {
		if t, err := parseLocal(f.From); err == nil {
			q.Set("from", t.Format(time.RFC3339))
		}
		if t, err := parseLocal(f.To); err == nil {
			q.Set("to", t.Format(time.RFC3339))
		}
	} else {
		from, _ := rangeFrom(f.Range)
		q.Set("from", from)
	}
	return q
}

// hitsAPI adds the hit search's filters.
func (f reportFilter) hitsAPI() url.Values {
	q := f.api()
	for k, v := range map[string]string{"name": f.Name, "client": f.Client, "feed": f.Feed, "rule": f.Rule, "action": f.Action, "before": f.Before} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// Pinned is the filter over the absolute range [from, to): drill-down
// links keep showing the hits the report counted, even later.
func (f reportFilter) Pinned(from, to time.Time) reportFilter {
	f.Range, f.From, f.To, f.Before = "custom", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), ""
	return f
}

// Query is the filter as a page's query string (typed so that a
// template puts it in a link as it is); extra are key, value
// pairs that replace the filter's.
func (f reportFilter) Query(extra ...string) template.URL {
	q := url.Values{}
	for k, v := range map[string]string{"device": f.Device, "range": f.Range, "name": f.Name, "client": f.Client,
		"feed": f.Feed, "rule": f.Rule, "action": f.Action, "before": f.Before} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Range == "custom" {
		q.Set("from", f.From)
		if f.To != "" {
			q.Set("to", f.To)
		}
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			q.Del(extra[i])
		} else {
			q.Set(extra[i], extra[i+1])
		}
	}
	return template.URL(q.Encode()) //nolint:gosec // built by url.Values: a query of this site
}

// LocalFrom and LocalTo are the custom range for the datetime-local
// inputs.
func (f reportFilter) LocalFrom() string { return asLocal(f.From) }
func (f reportFilter) LocalTo() string   { return asLocal(f.To) }

func asLocal(v string) string {
	if t, err := parseLocal(v); err == nil {
		return t.Format(localTime)
	}
	return v
}
