package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/rpzfw/rpzfw/internal/report"
	"github.com/rpzfw/rpzfw/internal/store"
)

// The log pipeline's state: a device's log health, and the messages that
// kept failing (quarantined) with a way to retry them.

// logHealth is the answer of GET /api/v1/devices/{nickname}/logs.
type logHealth struct {
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
	out := logHealth{Enabled: h.Enabled, SQSQueueURL: h.Queue, State: h.State, Error: h.Error, MissingPermission: h.Permission,
		LastLogRetrieved: timeOrNil(h.LastLogRetrieved), NewestLogAt: timeOrNil(h.NewestLine), ObjectsPerMinute: h.ObjectsPerMinute,
		LinesPerMinute: h.LinesPerMinute, BadLines: h.BadLines, Quarantined: h.Quarantined, Note: report.Note}
	if !h.NewestLine.IsZero() {
		age := int64(now.Sub(h.NewestLine) / time.Second)
		out.NewestLogAge = &age
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

// quarantineList is the answer of GET /api/v1/logs/quarantine.
type quarantineList struct {
	Messages []quarantinedMessage `json:"messages"`
}

type quarantinedMessage struct {
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
	out := quarantineList{Messages: []quarantinedMessage{}}
	for _, m := range msgs {
		out.Messages = append(out.Messages, quarantinedMessage{ID: m.ID, SQSQueueURL: m.Queue, MessageID: m.MessageID, Receives: m.Receives,
			Reason: m.Reason, QuarantinedAt: m.At.UTC(), RetryRequested: m.RetryRequired, Body: m.Body})
	}
	s.writeJSON(w, http.StatusOK, out)
	return nil
}

// retryResult is the answer of a retry request.
type retryResult struct {
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
	s.writeJSON(w, http.StatusAccepted, retryResult{Retrying: n})
	return nil
}
