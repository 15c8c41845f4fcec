package web

import (
	"errors"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// deviceRow is one row of the devices page.
type deviceRow struct {
	Nickname      string
	State         string
	Error         string
	SyncRequested bool
	Policy        string
	Region        string
	RuleGroupID   string
	Domains       int
	Quota         int
	Truncated     int
	MonitorOnly   bool
	PolicyUpdated time.Time
	LastLog       time.Time
}

type devicesData struct {
	Devices []deviceRow
	Notice  string
	States  []string
}

// stateLabels are the badge texts of the device states.
var stateLabels = map[string]string{
	store.StatePending: "pending",
	store.StateSyncing: "syncing",
	store.StateInSync:  "in sync",
	store.StateError:   "error",
	store.StatePaused:  "paused",
}

func (s *Server) devicesPage(w http.ResponseWriter, r *http.Request, sess store.Session, u store.User) {
	ds, err := s.cfg.Store.ListDevices(r.Context(), u.OrgID)
	if err != nil {
		s.internal(w, r, "listing devices", err)
		return
	}
	rows := make([]deviceRow, 0, len(ds))
	for _, d := range ds {
		st, err := s.cfg.Store.GetStatus(r.Context(), d.ID)
		if err != nil {
			s.internal(w, r, "reading a device's status", err)
			return
		}
		state := st.State
		if state == "" {
			state = store.StatePending
		}
		if d.Paused {
			state = store.StatePaused
		}
		rows = append(rows, deviceRow{
			Nickname: d.Nickname, State: state, Error: st.Error, SyncRequested: st.SyncRequested,
			Policy: d.Policy, Region: d.Region, RuleGroupID: d.RuleGroupID,
			Domains: st.PlanDomains, Quota: d.MaxPolicySize, Truncated: st.PlanTruncated, MonitorOnly: d.MonitorOnly,
			PolicyUpdated: st.PolicyUpdatedAt, LastLog: st.LastLogRetrieved,
		})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Nickname < rows[j].Nickname })
	data := devicesData{Devices: rows, States: []string{"in sync", "syncing", "pending", "error", "paused"}}
	if n := r.URL.Query().Get("synced"); n != "" {
		data.Notice = "Sync of " + n + " requested; its state updates when it runs."
	}
	if n := r.URL.Query().Get("removed"); n != "" {
		data.Notice = "Device " + n + " removed."
	}
	s.render(w, http.StatusOK, "devices", page{Title: "Devices", User: &u, CSRF: sess.CSRF, Admin: u.Role == store.RoleAdmin, Data: data})
}

// syncNow is the devices page's "sync now": the API's code path.
func (s *Server) syncNow(w http.ResponseWriter, r *http.Request, _ store.Session, u store.User) {
	nick := r.PathValue("nickname")
	d, err := s.cfg.Store.GetDevice(r.Context(), u.OrgID, nick)
	if errors.Is(err, store.ErrNotFound) {
		s.errorPage(w, r, http.StatusNotFound, "There is no device "+nick+".")
		return
	}
	if err != nil {
		s.internal(w, r, "reading a device", err)
		return
	}
	if err := s.cfg.Actions.SyncNow(r.Context(), d); err != nil {
		s.internal(w, r, "requesting a sync", err)
		return
	}
	s.log.Info("sync requested", "user", u.Name, "device", d.Nickname)
	http.Redirect(w, r, "/ui/devices?synced="+url.QueryEscape(d.Nickname), http.StatusSeeOther)
}
