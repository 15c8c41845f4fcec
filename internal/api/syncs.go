package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// A device's syncs: "sync now", its history, the plan it deployed, and
// the preflight check of its credentials.

// Bounds of GET /api/v1/devices/{nickname}/syncs?limit=.
const (
	defaultSyncsLimit = 50
	maxSyncsLimit     = 1000
)

// SyncRunView is one sync of a device.
type SyncRunView struct {
	ID        int64          `json:"id"`
	Trigger   string         `json:"trigger" doc:"Why it ran: policy, device, feed, reconcile, manual, retry or start."`
	StartedAt time.Time      `json:"started_at"`
	TookMS    int64          `json:"took_ms"`
	Result    string         `json:"result" doc:"ok, unchanged or error."`
	Error     string         `json:"error,omitempty"`
	PlanHash  string         `json:"plan_hash"`
	Calls     map[string]int `json:"calls" doc:"API calls made, by operation."`
	Added     int            `json:"added"`
	Removed   int            `json:"removed"`
	// The bounds are those rpzfw sync prints, under the same names.
	UpdateCallsLowerBound int    `json:"update_calls_lower_bound" doc:"The fewest domain updates (UpdateFirewallDomains and ImportFirewallDomains calls) these changes allow: per list, one per 1000 domains added and one per 1000 removed. 0 also when the run made no plan (calls_floor is 0)."`
	CallsFloor            int    `json:"calls_floor" doc:"The fewest calls a safe (make-before-break) sync of these changes makes, to compare with the calls made (less the ListFirewallRuleGroupAssociations read after the sync). 0 when the run made no plan: an error before planning, an unchanged plan not sent again, a run recorded before this was kept."`
	Instance              string `json:"instance" doc:"The rpzfw serve instance that ran it."`
}

// SyncList is the answer of GET /api/v1/devices/{nickname}/syncs: newest
// first.
type SyncList struct {
	Syncs []SyncRunView `json:"syncs"`
}

func (s *Server) listSyncs(w http.ResponseWriter, r *http.Request, c caller) error {
	limit, err := queryInt(r, "limit", defaultSyncsLimit, 1, maxSyncsLimit)
	if err != nil {
		return err
	}
	d, err := s.device(r, c)
	if err != nil {
		return err
	}
	runs, err := s.cfg.Store.ListRuns(r.Context(), d.ID, limit)
	if err != nil {
		return fmt.Errorf("listing the syncs of device %q: %w", d.Nickname, err)
	}
	out := SyncList{Syncs: make([]SyncRunView, 0, len(runs))}
	for _, run := range runs {
		out.Syncs = append(out.Syncs, viewRun(run))
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

func viewRun(run store.SyncRun) SyncRunView {
	calls := run.Calls
	if calls == nil {
		calls = map[string]int{}
	}
	return SyncRunView{
		ID: run.ID, Trigger: run.Trigger, StartedAt: run.StartedAt.UTC(), TookMS: run.Took.Milliseconds(),
		Result: run.Result, Error: run.Error, PlanHash: run.PlanHash, Calls: calls,
		Added: run.Added, Removed: run.Removed, UpdateCallsLowerBound: run.UpdatesLowerBound, CallsFloor: run.CallsFloor,
		Instance: run.Instance,
	}
}

// syncDevice is "sync now": the device is synced soon, even when it waits
// after a hard error. 202 with the device.
func (s *Server) syncDevice(w http.ResponseWriter, r *http.Request, c caller) error {
	d, err := s.device(r, c)
	if err != nil {
		return err
	}
	if err := s.cfg.Actions.SyncNow(r.Context(), d); errors.Is(err, store.ErrNotFound) {
		return notFound("device", d.Nickname)
	} else if err != nil {
		return fmt.Errorf("requesting a sync of device %q: %w", d.Nickname, err)
	}
	return s.writeDevice(w, r, http.StatusAccepted, d)
}

// preflightDevice is "test connection": with the device's credentials,
// try every permission sync and log upload need. A permission missing is
// a finding of the report (200), not an error.
func (s *Server) preflightDevice(w http.ResponseWriter, r *http.Request, c caller) error {
	d, err := s.device(r, c)
	if err != nil {
		return err
	}
	rep, err := s.cfg.Actions.Preflight(r.Context(), d)
	if err != nil {
		s.log.Warn("preflight failed", "device", d.Nickname, "org", d.OrgID, "request_id", c.reqID, "err", err)
		return apiErr(http.StatusBadGateway, CodeUpstream, "", "the preflight of device %q could not run: %v", d.Nickname, err)
	}
	s.writeJSON(w, http.StatusOK, rep)
	return nil
}

// getPlan answers with the summary of the plan the device compiled last
// (store.Status.Plan), as the scheduler wrote it.
func (s *Server) getPlan(w http.ResponseWriter, r *http.Request, c caller) error {
	d, err := s.device(r, c)
	if err != nil {
		return err
	}
	st, err := s.cfg.Store.GetStatus(r.Context(), d.ID)
	if err != nil {
		return fmt.Errorf("reading the status of device %q: %w", d.Nickname, err)
	}
	if len(st.Plan) == 0 {
		return apiErr(http.StatusNotFound, CodeNotCompiled, "", "device %q has no compiled plan yet: it is compiled at its first sync (state %s)", d.Nickname, viewDevice(d, st).Status.State)
	}
	if !json.Valid(st.Plan) {
		return fmt.Errorf("the stored plan of device %q is not JSON", d.Nickname)
	}
	writeRaw(w, http.StatusOK, st.Plan)
	return nil
}
