package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// The JSON answers of the device routes, as the pages read them. They
// mirror the API's views (internal/api/devices.go, syncs.go, logs.go).

type apiDevice struct {
	Nickname      string    `json:"nickname"`
	Provider      string    `json:"provider"`
	Policy        string    `json:"policy"`
	Note          string    `json:"note"`
	Region        string    `json:"region"`
	RuleGroupID   string    `json:"rule_group_id"`
	EndpointURL   string    `json:"endpoint_url"`
	PriorityBand  string    `json:"priority_band"`
	Credentials   apiCreds  `json:"credentials"`
	MaxPolicySize int       `json:"max_policy_size"`
	MonitorOnly   bool      `json:"monitor_only"`
	LogUpload     apiLogs   `json:"log_upload"`
	Paused        bool      `json:"paused"`
	AccountID     string    `json:"account_id"`
	Status        apiStatus `json:"status"`
	LastSync      *apiRun   `json:"last_sync"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

type apiCreds struct {
	Type        string `json:"type"`
	AccessKeyID string `json:"access_key_id"`
	SecretSet   bool   `json:"secret_set"`
	RoleARN     string `json:"role_arn"`
	ExternalID  string `json:"external_id"`
}

type apiLogs struct {
	Enabled     bool   `json:"enabled"`
	SQSQueueURL string `json:"sqs_queue_url"`
}

type apiStatus struct {
	State            string     `json:"state"`
	Error            string     `json:"error"`
	ErrorHard        bool       `json:"error_hard"`
	SyncRequested    bool       `json:"sync_requested"`
	Retries          int        `json:"retries"`
	NextAttempt      *time.Time `json:"next_attempt"`
	PolicyUpdatedAt  *time.Time `json:"policy_updated_at"`
	PlanDomains      int        `json:"plan_domains"`
	PlanTruncated    int        `json:"plan_truncated"`
	LastSyncAt       *time.Time `json:"last_sync_at"`
	LastSyncResult   string     `json:"last_sync_result"`
	LastLogRetrieved *time.Time `json:"last_log_retrieved"`
	VPCs             []string   `json:"vpcs"`
}

type apiRun struct {
	ID        int64          `json:"id"`
	Trigger   string         `json:"trigger"`
	StartedAt time.Time      `json:"started_at"`
	TookMS    int64          `json:"took_ms"`
	Result    string         `json:"result"`
	Error     string         `json:"error"`
	Calls     map[string]int `json:"calls"`
	Added     int            `json:"added"`
	Removed   int            `json:"removed"`
	// CallsFloor is 0 for a run that made no plan: the page then shows
	// no floor.
	UpdateCallsLowerBound int `json:"update_calls_lower_bound"`
	CallsFloor            int `json:"calls_floor"`
}

type apiLogHealth struct {
	Enabled           bool       `json:"enabled"`
	SQSQueueURL       string     `json:"sqs_queue_url"`
	State             string     `json:"state"`
	Error             string     `json:"error"`
	MissingPermission string     `json:"missing_permission"`
	LastLogRetrieved  *time.Time `json:"last_log_retrieved"`
	NewestLogAt       *time.Time `json:"newest_log_at"`
	NewestLogAge      *int64     `json:"newest_log_age_seconds"`
	ObjectsPerMinute  float64    `json:"objects_per_minute"`
	LinesPerMinute    float64    `json:"lines_per_minute"`
	BadLines          int64      `json:"bad_lines"`
	Quarantined       int        `json:"quarantined"`
	Note              string     `json:"note"`
}

type apiQuarantined struct {
	ID             int64     `json:"id"`
	SQSQueueURL    string    `json:"sqs_queue_url"`
	MessageID      string    `json:"message_id"`
	Receives       int       `json:"receives"`
	Reason         string    `json:"reason"`
	QuarantinedAt  time.Time `json:"quarantined_at"`
	RetryRequested bool      `json:"retry_requested"`
}

type apiSetupResult struct {
	DryRun      bool   `json:"dry_run"`
	SQSQueueURL string `json:"sqs_queue_url"`
	Steps       []struct {
		Do   string `json:"do"`
		Done bool   `json:"done"`
	} `json:"steps"`
}

type apiIAMPolicy struct {
	Account string          `json:"account"`
	Policy  json.RawMessage `json:"policy"`
}

type apiCanary struct {
	Name          string `json:"name"`
	Entry         string `json:"entry"`
	Rule          string `json:"rule"`
	Action        string `json:"action"`
	Intent        string `json:"intent"`
	BlockResponse string `json:"block_response"`
	Override      string `json:"override"`
}

// devicePath is the API path of a device, or of one of its sub-resources.
func devicePath(nick string, sub ...string) string {
	p := "/api/v1/devices/" + url.PathEscape(nick)
	for _, s := range sub {
		p += "/" + s
	}
	return p
}

// loadDevice reads the path's device through the API. On failure it has
// answered (404 page or internal error) and returns false.
func (s *Server) loadDevice(w http.ResponseWriter, r *http.Request, u store.User) (apiDevice, bool) {
	var d apiDevice
	nick := r.PathValue("nickname")
	err := s.callAPI(r.Context(), u, http.MethodGet, devicePath(nick), nil, nil, &d)
	if err == nil {
		return d, true
	}
	s.apiFailure(w, r, "reading a device", err)
	return d, false
}

// apiFailure answers an API error as a page with its status and message
// (the API logs its own internal errors and says only that), or an
// internal error when the call itself failed.
func (s *Server) apiFailure(w http.ResponseWriter, r *http.Request, what string, err error) {
	var ae *APIError
	if errors.As(err, &ae) {
		s.errorPage(w, r, ae.Status, ae.Message)
		return
	}
	s.internal(w, r, what, err)
}

// optional calls the API for a part of a page that may be missing: its
// error message becomes the part's text instead of failing the page.
func (s *Server) optional(ctx context.Context, u store.User, path string, out any) string {
	err := s.callAPI(ctx, u, http.MethodGet, path, nil, nil, out)
	if err == nil {
		return ""
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Message
	}
	s.log.Error("reading for a page", "path", path, "err", err)
	return "could not be read; the error is logged"
}
