package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/rpzfw/rpzfw/internal/api"
	"github.com/rpzfw/rpzfw/internal/store"
)

// logsData is a device's log pipeline health and its queue's quarantined
// messages.
type logsData struct {
	D           api.DeviceView
	H           api.LogHealth
	HealthErr   string
	Lag         string
	Messages    []api.QuarantinedMessage
	MessagesErr string
	Notice      string
}

// lag says how old the newest line read is, in words.
func lag(seconds *int64) string {
	if seconds == nil {
		return "no line read yet"
	}
	d := time.Duration(*seconds) * time.Second
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", *seconds)
	case d < 48*time.Hour:
		return d.Round(time.Minute).String()
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

func (s *Server) deviceLogs(w http.ResponseWriter, r *http.Request, sess store.Session, u store.User) {
	d, ok := s.loadDevice(w, r, u)
	if !ok {
		return
	}
	data := logsData{D: d}
	data.HealthErr = s.optional(r.Context(), u, devicePath(d.Nickname, "logs"), &data.H)
	data.Lag = lag(data.H.NewestLogAge)
	if d.LogUpload.SQSQueueURL != "" {
		var q api.QuarantineList
		data.MessagesErr = s.optional(r.Context(), u, "/api/v1/logs/quarantine?"+url.Values{"queue": {d.LogUpload.SQSQueueURL}}.Encode(), &q)
		data.Messages = q.Messages
	}
	if n := r.URL.Query().Get("retrying"); n != "" {
		data.Notice = n + " quarantined message(s) will be tried again within seconds."
	}
	s.render(w, http.StatusOK, "logs_health", page{Title: "Log pipeline of " + d.Nickname, User: &u, CSRF: sess.CSRF, Admin: u.Role == store.RoleAdmin, Data: data})
}

// retryQuarantined asks for one message (id) or all of the device's
// queue (id "all") to be tried again.
func (s *Server) retryQuarantined(w http.ResponseWriter, r *http.Request, _ store.Session, u store.User) {
	d, ok := s.loadDevice(w, r, u)
	if !ok {
		return
	}
	var ids []int64
	if v := r.PostFormValue("id"); v == "all" {
		var q api.QuarantineList
		if err := s.callAPI(r.Context(), u, http.MethodGet, "/api/v1/logs/quarantine", url.Values{"queue": {d.LogUpload.SQSQueueURL}}, nil, &q); err != nil {
			s.apiFailure(w, r, "listing quarantined messages", err)
			return
		}
		for _, m := range q.Messages {
			ids = append(ids, m.ID)
		}
	} else {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			s.errorPage(w, r, http.StatusBadRequest, "Which message? The form named none.")
			return
		}
		ids = append(ids, id)
	}
	n := 0
	for _, id := range ids {
		var res api.RetryResult
		if err := s.callAPI(r.Context(), u, http.MethodPost, "/api/v1/logs/quarantine/"+strconv.FormatInt(id, 10)+"/retry", nil, nil, &res); err != nil {
			s.apiFailure(w, r, "retrying a quarantined message", err)
			return
		}
		n += res.Retrying
	}
	s.log.Info("quarantined messages retried", "user", u.Name, "device", d.Nickname, "retrying", n)
	http.Redirect(w, r, "/ui/devices/"+url.PathEscape(d.Nickname)+"/logs?retrying="+strconv.Itoa(n), http.StatusSeeOther)
}
