package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// DeviceView is a device as the API shows it.
type DeviceView struct {
	Nickname      string          `json:"nickname"`
	Provider      string          `json:"provider"`
	Policy        string          `json:"policy"`
	Note          string          `json:"note"`
	Region        string          `json:"region"`
	RuleGroupID   string          `json:"rule_group_id"`
	EndpointURL   string          `json:"endpoint_url"`
	PriorityBand  string          `json:"priority_band"`
	Credentials   CredentialsView `json:"credentials"`
	MaxPolicySize int             `json:"max_policy_size"`
	MonitorOnly   bool            `json:"monitor_only"`
	LogUpload     LogUploadView   `json:"log_upload"`
	Paused        bool            `json:"paused"`
	AccountID     string          `json:"account_id" doc:"The AWS account, learned at the first sync (read-only)."`
	Status        StatusView      `json:"status"`
	// LastSync is the newest run (one device's GET only; the list leaves
	// it out).
	LastSync  *SyncRunView `json:"last_sync,omitempty" doc:"The newest sync run: calls by operation, domains added and removed, duration. Only on GET of one device."`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`
}

// CredentialsView shows credentials without the secret.
type CredentialsView struct {
	Type        string `json:"type" doc:"access_key, role or ambient; empty for a sandbox device (the emulator's own)."`
	AccessKeyID string `json:"access_key_id,omitempty"`
	SecretSet   bool   `json:"secret_set" doc:"A secret access key is stored (it is never shown)."`
	RoleARN     string `json:"role_arn,omitempty"`
	ExternalID  string `json:"external_id,omitempty"`
}

type LogUploadView struct {
	Enabled     bool   `json:"enabled"`
	SQSQueueURL string `json:"sqs_queue_url"`
}

// StatusView is a device's state as the scheduler last left it. Times
// never set are null.
type StatusView struct {
	State            string     `json:"state" doc:"pending, syncing, in_sync, error or paused."`
	Error            string     `json:"error,omitempty"`
	ErrorHard        bool       `json:"error_hard" doc:"The error waits for a change or sync now rather than a retry."`
	SyncRequested    bool       `json:"sync_requested"`
	Retries          int        `json:"retries"`
	NextAttempt      *time.Time `json:"next_attempt"`
	PolicyUpdatedAt  *time.Time `json:"policy_updated_at"`
	PlanHash         string     `json:"plan_hash"`
	PlanDomains      int        `json:"plan_domains"`
	PlanTruncated    int        `json:"plan_truncated"`
	LastSyncAt       *time.Time `json:"last_sync_at"`
	LastSyncResult   string     `json:"last_sync_result"`
	LastLogRetrieved *time.Time `json:"last_log_retrieved"`
	VPCs             []string   `json:"vpcs"`
}

// DeviceList is the answer of GET /api/v1/devices.
type DeviceList struct {
	Devices []DeviceView `json:"devices"`
}

func viewDevice(d store.Device, st store.Status) DeviceView {
	v := DeviceView{
		Nickname: d.Nickname, Provider: d.Provider, Policy: d.Policy, Note: d.Note, Region: d.Region,
		RuleGroupID: d.RuleGroupID, EndpointURL: d.EndpointURL, PriorityBand: d.PriorityBand,
		Credentials: CredentialsView{Type: d.CredKind, AccessKeyID: d.AccessKeyID, SecretSet: len(d.SecretKey) > 0,
			RoleARN: d.RoleARN, ExternalID: d.ExternalID},
		MaxPolicySize: d.MaxPolicySize, MonitorOnly: d.MonitorOnly,
		LogUpload: LogUploadView{Enabled: d.LogEnabled, SQSQueueURL: d.LogQueueURL},
		Paused:    d.Paused, AccountID: d.AccountID,
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
		Status: StatusView{
			State: st.State, Error: st.Error, ErrorHard: st.ErrorHard, SyncRequested: st.SyncRequested,
			Retries: st.Retries, NextAttempt: timeOrNil(st.NextAttempt), PolicyUpdatedAt: timeOrNil(st.PolicyUpdatedAt),
			PlanHash: st.PlanHash, PlanDomains: st.PlanDomains, PlanTruncated: st.PlanTruncated,
			LastSyncAt: timeOrNil(st.LastSyncAt), LastSyncResult: st.LastSyncResult,
			LastLogRetrieved: timeOrNil(st.LastLogRetrieved), VPCs: st.VPCs,
		},
	}
	if v.Status.State == "" {
		v.Status.State = store.StatePending
	}
	if v.Status.VPCs == nil {
		v.Status.VPCs = []string{}
	}
	return v
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// device reads the device the path names.
func (s *Server) device(r *http.Request, c caller) (store.Device, error) {
	nick := r.PathValue("nickname")
	d, err := s.cfg.Store.GetDevice(r.Context(), c.org(), nick)
	if errors.Is(err, store.ErrNotFound) {
		return d, notFound("device", nick)
	}
	if err != nil {
		return d, fmt.Errorf("reading device %q: %w", nick, err)
	}
	return d, nil
}

// writeDevice answers with d and its status.
func (s *Server) writeDevice(w http.ResponseWriter, r *http.Request, status int, d store.Device) error {
	st, err := s.cfg.Store.GetStatus(r.Context(), d.ID)
	if err != nil {
		return fmt.Errorf("reading the status of device %q: %w", d.Nickname, err)
	}
	s.writeJSON(w, status, viewDevice(d, st))
	return nil
}

func (s *Server) listDevices(w http.ResponseWriter, r *http.Request, c caller) error {
	ds, err := s.cfg.Store.ListDevices(r.Context(), c.org())
	if err != nil {
		return fmt.Errorf("listing devices: %w", err)
	}
	out := DeviceList{Devices: []DeviceView{}}
	for _, d := range ds {
		st, err := s.cfg.Store.GetStatus(r.Context(), d.ID)
		if err != nil {
			return fmt.Errorf("reading the status of device %q: %w", d.Nickname, err)
		}
		out.Devices = append(out.Devices, viewDevice(d, st))
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getDevice(w http.ResponseWriter, r *http.Request, c caller) error {
	d, err := s.device(r, c)
	if err != nil {
		return err
	}
	st, err := s.cfg.Store.GetStatus(r.Context(), d.ID)
	if err != nil {
		return fmt.Errorf("reading the status of device %q: %w", d.Nickname, err)
	}
	runs, err := s.cfg.Store.ListRuns(r.Context(), d.ID, 1)
	if err != nil {
		return fmt.Errorf("reading the last sync of device %q: %w", d.Nickname, err)
	}
	v := viewDevice(d, st)
	if len(runs) > 0 {
		last := viewRun(runs[0])
		v.LastSync = &last
	}
	s.writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) createDevice(w http.ResponseWriter, r *http.Request, c caller) error {
	in, err := readDeviceInput(w, r)
	if err != nil {
		return err
	}
	d := store.Device{OrgID: c.org()}
	if err := s.applyDevice(r, &d, in, true); err != nil {
		return err
	}
	created, err := s.cfg.Store.CreateDevice(r.Context(), d)
	switch {
	case errors.Is(err, store.ErrConflict):
		return apiErr(http.StatusConflict, CodeConflict, "nickname", "a device named %q already exists", d.Nickname)
	case errors.Is(err, store.ErrNotFound):
		return noPolicy(d.Policy)
	case err != nil:
		return fmt.Errorf("storing device %q: %w", d.Nickname, err)
	}
	s.cfg.Actions.Changed()
	w.Header().Set("Location", "/api/v1/devices/"+created.Nickname)
	return s.writeDevice(w, r, http.StatusCreated, created)
}

func (s *Server) patchDevice(w http.ResponseWriter, r *http.Request, c caller) error {
	old, err := s.device(r, c)
	if err != nil {
		return err
	}
	in, err := readDeviceInput(w, r)
	if err != nil {
		return err
	}
	if in.Nickname != nil && *in.Nickname != old.Nickname {
		return apiErr(http.StatusUnprocessableEntity, CodeInvalid, "nickname", "%q is not %q, the device in the path: devices cannot be renamed", *in.Nickname, old.Nickname)
	}
	d := old
	if err := s.applyDevice(r, &d, in, false); err != nil {
		return err
	}
	updated, err := s.cfg.Store.UpdateDevice(r.Context(), d)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("device", old.Nickname)
	case errors.Is(err, store.ErrConflict):
		return apiErr(http.StatusConflict, CodeConflict, "", "device %q changed while this request ran: read it again and retry", old.Nickname)
	case err != nil:
		return fmt.Errorf("storing device %q: %w", old.Nickname, err)
	}
	s.cfg.Actions.Changed()
	return s.writeDevice(w, r, http.StatusOK, updated)
}

func (s *Server) deleteDevice(w http.ResponseWriter, r *http.Request, c caller) error {
	keep, err := queryBool(r, "keep_rules")
	if err != nil {
		return err
	}
	d, err := s.device(r, c)
	if err != nil {
		return err
	}
	err = s.cfg.Actions.RemoveDevice(r.Context(), d, keep)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("device", d.Nickname)
	}
	if errors.Is(err, store.ErrConflict) {
		return apiErr(http.StatusConflict, CodeConflict, "", "device %q is being synced by another instance; retry in a moment", d.Nickname)
	}
	if err != nil {
		s.log.Warn("removing a device failed", "device", d.Nickname, "org", d.OrgID, "keep_rules", keep, "err", err)
		hint := "fix the cause and retry, or delete with ?keep_rules=true to leave its rules in place"
		if keep {
			hint = "retry"
		}
		return apiErr(http.StatusBadGateway, CodeUpstream, "", "device %q was not deleted: %v; %s", d.Nickname, err, hint)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func noPolicy(name string) error {
	return apiErr(http.StatusUnprocessableEntity, CodeInvalid, "policy", "%q: there is no policy of that name (GET /api/v1/policies lists them)", name)
}
