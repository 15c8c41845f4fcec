package web

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/rpzfw/rpzfw/internal/api"
	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/store"
)

// deviceTabs are the pages of one device, in the order of its tab bar.
var deviceTabs = []struct{ key, label, path string }{
	{"overview", "Overview", ""},
	{"plan", "Plan", "/plan"},
	{"setup", "Setup", "/setup"},
	{"logs", "Log pipeline", "/logs"},
	{"settings", "Settings", "/edit"},
}

func init() {
	funcs["deviceTabs"] = tabsHTML
	funcs["duration"] = func(ms int64) string {
		d := time.Duration(ms) * time.Millisecond
		if d < time.Second {
			return fmt.Sprintf("%d ms", ms)
		}
		return d.Round(100 * time.Millisecond).String()
	}
	funcs["whenp"] = func(t *time.Time) string {
		if t == nil {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	funcs["total"] = func(m map[string]int) int {
		n := 0
		for _, v := range m {
			n += v
		}
		return n
	}
	funcs["sortedCounts"] = sortedCounts
}

// tabsHTML is the tab bar of a device's pages; the current one is marked
// for screen readers.
func tabsHTML(nick, active string) template.HTML {
	var b strings.Builder
	b.WriteString(`<nav class="tabs" aria-label="Device pages">`)
	base := "/ui/devices/" + url.PathEscape(nick)
	for _, t := range deviceTabs {
		cur := ""
		if t.key == active {
			cur = ` aria-current="page"`
		}
		fmt.Fprintf(&b, `<a href="%s%s"%s>%s</a>`, template.HTMLEscapeString(base), t.path, cur, t.label)
	}
	b.WriteString(`</nav>`)
	return template.HTML(b.String())
}

// count is one name and number of a table.
type count struct {
	Name string
	N    int
}

// sortedCounts lists a map's counts, most first.
func sortedCounts(m map[string]int) []count {
	out := make([]count, 0, len(m))
	for k, v := range m {
		out = append(out, count{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].N != out[j].N {
			return out[i].N > out[j].N
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// detailData is the device overview.
type detailData struct {
	D       api.DeviceView
	State   string
	Runs    []api.SyncRunView
	RunsErr string
	Notice  string
}

// notices are the messages a redirect back to the overview asks for.
var notices = map[string]string{
	"created": "Device added. Its first sync starts within seconds; this page shows its state.",
	"saved":   "Changes saved. The device syncs again if they change what it holds.",
	"synced":  "Sync requested; its state updates when it runs.",
}

// displayState is the badge of a device: paused wins over the last state.
func displayState(d api.DeviceView) string {
	if d.Paused {
		return store.StatePaused
	}
	if d.Status.State == "" {
		return store.StatePending
	}
	return d.Status.State
}

func (s *Server) deviceOverview(w http.ResponseWriter, r *http.Request, sess store.Session, u store.User) {
	d, ok := s.loadDevice(w, r, u)
	if !ok {
		return
	}
	data := detailData{D: d, State: displayState(d), Notice: notices[r.URL.Query().Get("notice")]}
	var runs api.SyncList
	data.RunsErr = s.optional(r.Context(), u, devicePath(d.Nickname, "syncs")+"?limit=25", &runs)
	data.Runs = runs.Syncs
	s.render(w, http.StatusOK, "device_detail", page{Title: "Device " + d.Nickname, User: &u, CSRF: sess.CSRF, Admin: u.Role == store.RoleAdmin, Data: data})
}

// planData is the device's compiled plan.
type planData struct {
	D       api.DeviceView
	Plan    *device.Summary
	Missing string
	Removed []count
	BySrc   []sourceRemoved
	Trunc   []count
}

type sourceRemoved struct {
	Source  string
	Reasons []count
}

func (s *Server) devicePlan(w http.ResponseWriter, r *http.Request, sess store.Session, u store.User) {
	d, ok := s.loadDevice(w, r, u)
	if !ok {
		return
	}
	data := planData{D: d}
	var sum device.Summary
	if msg := s.optional(r.Context(), u, devicePath(d.Nickname, "plan"), &sum); msg != "" {
		data.Missing = msg
	} else {
		data.Plan = &sum
		data.Removed = sortedCounts(sum.Removed)
		data.Trunc = sortedCounts(sum.TruncatedBySource)
		for _, src := range sum.Sources {
			if m := sum.RemovedBySource[src]; len(m) > 0 {
				data.BySrc = append(data.BySrc, sourceRemoved{src, sortedCounts(m)})
			}
		}
	}
	s.render(w, http.StatusOK, "device_plan", page{Title: "Plan of " + d.Nickname, User: &u, CSRF: sess.CSRF, Admin: u.Role == store.RoleAdmin, Data: data})
}

// deviceSync is the overview's "sync now".
func (s *Server) deviceSync(w http.ResponseWriter, r *http.Request, _ store.Session, u store.User) {
	nick := r.PathValue("nickname")
	if err := s.callAPI(r.Context(), u, http.MethodPost, devicePath(nick, "sync"), nil, nil, nil); err != nil {
		s.apiFailure(w, r, "requesting a sync", err)
		return
	}
	s.log.Info("sync requested", "user", u.Name, "device", nick)
	http.Redirect(w, r, "/ui/devices/"+url.PathEscape(nick)+"?notice=synced", http.StatusSeeOther)
}

// deleteDevice is the uninstall: it asks the API to remove rpzfw's rules
// (unless keep_rules) and the device. The form's confirm box must be on.
func (s *Server) deleteDevice(w http.ResponseWriter, r *http.Request, _ store.Session, u store.User) {
	nick := r.PathValue("nickname")
	if r.PostFormValue("confirm") != nick {
		s.errorPage(w, r, http.StatusUnprocessableEntity, "The device was not removed: type its nickname, "+nick+", in the confirmation box.")
		return
	}
	keep := r.PostFormValue("keep_rules")
	if keep != "true" && keep != "false" {
		s.errorPage(w, r, http.StatusUnprocessableEntity, "The device was not removed: choose whether to keep its rules in the rule group.")
		return
	}
	q := url.Values{"keep_rules": {keep}}
	if err := s.callAPI(r.Context(), u, http.MethodDelete, devicePath(nick), q, nil, nil); err != nil {
		s.apiFailure(w, r, "removing a device", err)
		return
	}
	s.log.Info("device removed", "user", u.Name, "device", nick, "keep_rules", keep)
	http.Redirect(w, r, "/ui/devices?removed="+url.QueryEscape(nick), http.StatusSeeOther)
}
