package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/rpzfw/rpzfw/internal/querylog"
	"github.com/rpzfw/rpzfw/internal/report"
	"github.com/rpzfw/rpzfw/internal/store"
)

// The log pipeline's state: a device's log health, and the messages that
// kept failing (quarantined) with a way to retry them.

// LogHealth is the answer of GET /api/v1/devices/{nickname}/logs.
type LogHealth struct {
	Enabled           bool       `json:"enabled"`
	SQSQueueURL       string     `json:"sqs_queue_url"`
	State             string     `json:"state" doc:"ok, error, waiting (nothing read from the queue yet) or disabled."`
	Error             string     `json:"error,omitempty"`
	MissingPermission string     `json:"missing_permission,omitempty" doc:"The IAM permission AWS refused, when that is the error."`
	LastLogRetrieved  *time.Time `json:"last_log_retrieved" doc:"When a log object with lines of the device was last stored."`
	NewestLogAt       *time.Time `json:"newest_log_at" doc:"The time of the newest line read from the queue's objects."`
	NewestLogAge      *int64     `json:"newest_log_age_seconds"`
	ObjectsPerMinute  float64    `json:"objects_per_minute" doc:"Objects of the queue per minute over the last hour."`
	LinesPerMinute    float64    `json:"lines_per_minute" doc:"Resolutions of the device per minute over the last hour."`
	BadLines          int64      `json:"bad_lines" doc:"Lines of the queue's objects that did not parse, over the last hour."`
	Quarantined       int        `json:"quarantined" doc:"Messages of the queue that kept failing (GET /api/v1/logs/quarantine)."`
	Note              string     `json:"note"`
}

func (s *Server) getLogHealth(w http.ResponseWriter, r *http.Request, c caller) error {
	d, err := s.device(r, c)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	h, err := report.Health(r.Context(), s.cfg.Store, d, now)
	if err != nil {
		return fmt.Errorf("reading the log health of device %q: %w", d.Nickname, err)
	}
	out := LogHealth{Enabled: h.Enabled, SQSQueueURL: h.Queue, State: h.State, Error: h.Error, MissingPermission: h.Permission,
		LastLogRetrieved: timeOrNil(h.LastLogRetrieved), NewestLogAt: timeOrNil(h.NewestLine), ObjectsPerMinute: h.ObjectsPerMinute,
		LinesPerMinute: h.LinesPerMinute, BadLines: h.BadLines, Quarantined: h.Quarantined, Note: report.Note}
	if !h.NewestLine.IsZero() {
		age := int64(now.Sub(h.NewestLine) / time.Second)
		out.NewestLogAge = &age
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

// QuarantineList is the answer of GET /api/v1/logs/quarantine.
type QuarantineList struct {
	Messages []QuarantinedMessage `json:"messages"`
}

type QuarantinedMessage struct {
	ID             int64     `json:"id"`
	SQSQueueURL    string    `json:"sqs_queue_url"`
	MessageID      string    `json:"message_id"`
	Receives       int       `json:"receives"`
	Reason         string    `json:"reason" doc:"Why it failed, the last time."`
	QuarantinedAt  time.Time `json:"quarantined_at"`
	RetryRequested bool      `json:"retry_requested"`
	Body           string    `json:"body" doc:"The message as SQS gave it (the S3 event)."`
}

func (s *Server) listQuarantine(w http.ResponseWriter, r *http.Request, c caller) error {
	msgs, err := s.cfg.Store.ListQuarantined(r.Context(), c.org(), r.URL.Query().Get("queue"))
	if err != nil {
		return err
	}
	out := QuarantineList{Messages: []QuarantinedMessage{}}
	for _, m := range msgs {
		out.Messages = append(out.Messages, QuarantinedMessage{ID: m.ID, SQSQueueURL: m.Queue, MessageID: m.MessageID, Receives: m.Receives,
			Reason: m.Reason, QuarantinedAt: m.At.UTC(), RetryRequested: m.RetryRequired, Body: m.Body})
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

// RetryResult is the answer of a retry request.
type RetryResult struct {
	Retrying int `json:"retrying" doc:"Messages the log pipeline will try again within seconds."`
}

func (s *Server) retryQuarantined(w http.ResponseWriter, r *http.Request, c caller) error {
	var id int64
	if v := r.PathValue("id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return notFound("quarantined message", v)
		}
		id = n
	}
	n, err := s.cfg.Store.RetryQuarantined(r.Context(), c.org(), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("quarantined message", r.PathValue("id"))
	}
	if err != nil {
		return err
	}
	s.writeJSON(w, http.StatusAccepted, RetryResult{Retrying: n})
	return nil
}

// logSetupInput is the body of POST /api/v1/devices/{nickname}/logs/setup.
type logSetupInput struct {
	Bucket       string `json:"bucket" doc:"The S3 bucket Route 53 Resolver writes the query logs to (required)."`
	Prefix       string `json:"prefix" doc:"The prefix the logs are written under, before AWSLogs/."`
	QueryLogging bool   `json:"query_logging" doc:"Also create a Resolver query logging configuration to the bucket and associate it with the rule group's VPCs."`
	DryRun       bool   `json:"dry_run" doc:"Only say what would be done."`
}

// LogSetupResult is what logs setup or teardown did (or would do).
type LogSetupResult struct {
	DryRun      bool            `json:"dry_run"`
	SQSQueueURL string          `json:"sqs_queue_url"`
	Steps       []querylog.Step `json:"steps"`
}

// setupLogs does, with the device's credentials, what the seed asks users
// to click through: a queue that only the log bucket may send to, the
// bucket's notification, and (when asked) Resolver query logging for the
// rule group's VPCs; then turns the device's log upload on.
func (s *Server) setupLogs(w http.ResponseWriter, r *http.Request, c caller) error {
	d, err := s.device(r, c)
	if err != nil {
		return err
	}
	raw, err := readBody(w, r)
	if err != nil {
		return err
	}
	var in logSetupInput
	if err := decodeJSON(raw, &in); err != nil {
		return err
	}
	if in.Bucket == "" {
		return apiErr(http.StatusUnprocessableEntity, CodeInvalid, "bucket", "required: the bucket the query logs go to")
	}
	req := querylog.SetupRequest{Device: d.Nickname, Bucket: in.Bucket, Prefix: in.Prefix, QueryLogging: in.QueryLogging, DryRun: in.DryRun}
	if in.QueryLogging {
		st, err := s.cfg.Store.GetStatus(r.Context(), d.ID)
		if err != nil {
			return err
		}
		if len(st.VPCs) == 0 {
			return apiErr(http.StatusConflict, CodeConflict, "query_logging", "the VPCs of rule group %s are not known yet: they are read at the device's first sync", d.RuleGroupID)
		}
		req.VPCs = st.VPCs
	}
	cl, err := querylog.NewSetupClients(r.Context(), d, querylog.ClientOptions{Keyring: s.cfg.Keyring, AllowAmbient: s.cfg.DeviceRules.AllowAmbient})
	if err != nil {
		return apiErr(http.StatusBadGateway, CodeUpstream, "", "logs setup of device %q could not start: %v", d.Nickname, err)
	}
	res, err := querylog.Setup(r.Context(), cl, req)
	if err != nil {
		return apiErr(http.StatusBadGateway, CodeUpstream, "", "logs setup of device %q stopped (what was done before stays; run it again once fixed): %v", d.Nickname, err)
	}
	if !in.DryRun {
		d.LogEnabled, d.LogQueueURL = true, res.QueueURL
		if err := s.storeLogUpload(r, d); err != nil {
			return err
		}
	}
	s.writeJSON(w, http.StatusOK, LogSetupResult{DryRun: in.DryRun, SQSQueueURL: res.QueueURL, Steps: nonNilSteps(res.Steps)})
	return nil
}

// teardownLogs undoes setupLogs and turns the device's log upload off.
func (s *Server) teardownLogs(w http.ResponseWriter, r *http.Request, c caller) error {
	dry, err := queryBool(r, "dry_run")
	if err != nil {
		return err
	}
	d, err := s.device(r, c)
	if err != nil {
		return err
	}
	cl, err := querylog.NewSetupClients(r.Context(), d, querylog.ClientOptions{Keyring: s.cfg.Keyring, AllowAmbient: s.cfg.DeviceRules.AllowAmbient})
	if err != nil {
		return apiErr(http.StatusBadGateway, CodeUpstream, "", "logs teardown of device %q could not start: %v", d.Nickname, err)
	}
	res, err := querylog.Teardown(r.Context(), cl, querylog.TeardownRequest{Device: d.Nickname, DryRun: dry})
	if err != nil {
		return apiErr(http.StatusBadGateway, CodeUpstream, "", "logs teardown of device %q stopped: %v", d.Nickname, err)
	}
	if !dry && d.LogEnabled {
		d.LogEnabled, d.LogQueueURL = false, ""
		if err := s.storeLogUpload(r, d); err != nil {
			return err
		}
	}
	s.writeJSON(w, http.StatusOK, LogSetupResult{DryRun: dry, SQSQueueURL: res.QueueURL, Steps: nonNilSteps(res.Steps)})
	return nil
}

func (s *Server) storeLogUpload(r *http.Request, d store.Device) error {
	if _, err := s.cfg.Store.UpdateDevice(r.Context(), d); err != nil {
		return fmt.Errorf("storing the log upload of device %q: %w", d.Nickname, err)
	}
	s.cfg.Actions.Changed()
	return nil
}

func nonNilSteps(s []querylog.Step) []querylog.Step {
	if s == nil {
		return []querylog.Step{}
	}
	return s
}
