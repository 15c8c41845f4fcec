package web

import (
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/rpzfw/rpzfw/internal/api"
	"github.com/rpzfw/rpzfw/internal/store"
)

// policyRow is one policy on the policies page.
type policyRow struct {
	Name       string
	Predefined bool
	Sources    []string
	Devices    []string
	Allow      int
	Block      int
}

func (s *Server) policiesPage(w http.ResponseWriter, r *http.Request, sess store.Session, u store.User) {
	var pl apiPolicyList
	if err := s.callAPI(r.Context(), u, http.MethodGet, "/api/v1/policies", nil, nil, &pl); err != nil {
		s.apiFailure(w, r, "listing policies", err)
		return
	}
	devs, err := s.policyDevices(r, u)
	if err != nil {
		s.apiFailure(w, r, "listing devices", err)
		return
	}
	rows := make([]policyRow, 0, len(pl.Policies))
	for _, p := range pl.Policies {
		row := policyRow{Name: p.Name, Predefined: p.Predefined, Allow: len(p.Allow.Domains), Block: len(p.Block.Domains)}
		for _, src := range p.Sources {
			row.Sources = append(row.Sources, src.Name)
		}
		for _, d := range devs {
			if d.Policy == p.Name {
				row.Devices = append(row.Devices, d.Nickname)
			}
		}
		rows = append(rows, row)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Predefined != rows[j].Predefined {
			return !rows[i].Predefined
		}
		return rows[i].Name < rows[j].Name
	})
	s.render(w, http.StatusOK, "policy_list", page{Title: "Policies", User: &u, CSRF: sess.CSRF, Admin: u.Role == store.RoleAdmin, Data: rows})
}

// policyDevices lists the organization's devices through the API.
func (s *Server) policyDevices(r *http.Request, u store.User) ([]api.DeviceView, error) {
	var dl api.DeviceList
	if err := s.callAPI(r.Context(), u, http.MethodGet, "/api/v1/devices", nil, nil, &dl); err != nil {
		return nil, err
	}
	sort.Slice(dl.Devices, func(i, j int) bool { return dl.Devices[i].Nickname < dl.Devices[j].Nickname })
	return dl.Devices, nil
}

// listForm is the list editor: the text as typed, and an error for each
// list.
type listForm struct {
	Allow, Block       string
	AllowErr, BlockErr string
	Version            int64
	Error              string
}

// policyData is the policy page.
type policyData struct {
	Policy   apiPolicy
	Status   api.PolicyStatus
	StatusOK bool
	// StatusError says why sources cannot be shown (no feed managers).
	StatusError string
	Devices     []api.DeviceView
	// Device is the device whose settings the counts and explain use (""
	// : the first using the policy).
	Device string
	Lists  listForm
	// Explain: the name asked, its answer or the error.
	Query       string
	Explained   *api.ExplainResult
	ExplainErr  string
	Notice      string
	RemovedRows []removedRow
}

// removedRow is one reason records were removed, with the sources.
type removedRow struct {
	Reason string
	Count  int
	By     string
}

func (s *Server) policyPage(w http.ResponseWriter, r *http.Request, sess store.Session, u store.User) {
	d, ok := s.loadPolicy(w, r, u)
	if !ok {
		return
	}
	d.Lists = listForm{Allow: strings.Join(d.Policy.Allow.Domains, "\n"), Block: strings.Join(d.Policy.Block.Domains, "\n"), Version: d.Policy.Version}
	q := r.URL.Query()
	switch {
	case q.Get("saved") != "":
		d.Notice = "Lists saved (version " + q.Get("saved") + "). The devices using this policy sync again."
	case q.Get("accepted") != "":
		d.Notice = "Accepted the held update of " + q.Get("accepted") + ". The devices using this policy sync again."
	}
	if name := strings.TrimSpace(q.Get("explain")); name != "" {
		d.Query = name
		var ex api.ExplainResult
		path := "/api/v1/policies/" + url.PathEscape(d.Policy.Name) + "/explain"
		body := map[string]string{"name": name}
		if d.Device != "" {
			body["device"] = d.Device
		}
		if err := s.callAPI(r.Context(), u, http.MethodPost, path, nil, body, &ex); err != nil {
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status >= 500 {
				s.apiFailure(w, r, "explaining a name", err)
				return
			}
			d.ExplainErr = ae.Message
		} else {
			d.Explained = &ex
		}
	}
	s.renderPolicy(w, http.StatusOK, sess, u, d)
}

func (s *Server) renderPolicy(w http.ResponseWriter, status int, sess store.Session, u store.User, d policyData) {
	s.render(w, status, "policy_detail", page{Title: "Policy " + d.Policy.Name, User: &u, CSRF: sess.CSRF, Admin: u.Role == store.RoleAdmin, Data: d})
}

// loadPolicy reads the policy the path names, its sources' status and
// the devices using it; on failure it has answered.
func (s *Server) loadPolicy(w http.ResponseWriter, r *http.Request, u store.User) (policyData, bool) {
	var d policyData
	name := r.PathValue("name")
	base := "/api/v1/policies/" + url.PathEscape(name)
	if err := s.callAPI(r.Context(), u, http.MethodGet, base, nil, nil, &d.Policy); err != nil {
		s.apiFailure(w, r, "reading a policy", err)
		return d, false
	}
	d.Device = r.URL.Query().Get("device")
	var sq url.Values
	if d.Device != "" {
		sq = url.Values{"device": {d.Device}}
	}
	err := s.callAPI(r.Context(), u, http.MethodGet, base+"/status", sq, nil, &d.Status)
	var ae *APIError
	switch {
	case err == nil:
		d.StatusOK = true
	case errors.As(err, &ae) && ae.Status < 500 || errors.As(err, &ae) && ae.Status == http.StatusServiceUnavailable:
		d.StatusError = ae.Message
	default:
		s.apiFailure(w, r, "reading a policy's sources", err)
		return d, false
	}
	for reason, n := range d.Status.Removed {
		var by []string
		for _, src := range d.Status.Sources {
			if m := d.Status.RemovedBySource[src.Name][reason]; m > 0 {
				by = append(by, src.Name+" "+itoa(m))
			}
		}
		d.RemovedRows = append(d.RemovedRows, removedRow{Reason: reason, Count: n, By: strings.Join(by, ", ")})
	}
	sort.Slice(d.RemovedRows, func(i, j int) bool { return d.RemovedRows[i].Reason < d.RemovedRows[j].Reason })
	devs, err := s.policyDevices(r, u)
	if err != nil {
		s.apiFailure(w, r, "listing devices", err)
		return d, false
	}
	for _, dv := range devs {
		if dv.Policy == d.Policy.Name {
			d.Devices = append(d.Devices, dv)
		}
	}
	return d, true
}

func init() {
	funcs["inc"] = func(i int) int { return i + 1 }
	funcs["pwhen"] = func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	}
}
