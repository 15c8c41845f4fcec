package report

import (
	"context"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// HealthWindow is the window of a device's log rates.
const HealthWindow = time.Hour

// LogHealth is how well a device's query logs arrive.
type LogHealth struct {
	Enabled bool
	Queue   string
	// State is "ok", "error" (Error says why; Permission names an IAM
	// permission that was denied), "waiting" (nothing read from the queue
	// yet) or "disabled".
	State      string
	Error      string
	Permission string
	// LastLogRetrieved is when an object with lines of the device was
	// last stored; NewestLine the time of the newest line of its queue.
	LastLogRetrieved time.Time
	NewestLine       time.Time
	// Per minute over HealthWindow: objects of its queue, lines of the
	// device (resolutions attributed to it); and the bad lines of its
	// queue in the window.
	ObjectsPerMinute, LinesPerMinute float64
	BadLines                         int64
	// Quarantined counts the queue's quarantined messages.
	Quarantined int
}

// Health is the log health of device d.
func Health(ctx context.Context, s store.Store, d store.Device, now time.Time) (LogHealth, error) {
	h := LogHealth{Enabled: d.LogEnabled, Queue: d.LogQueueURL, State: "disabled"}
	st, err := s.GetStatus(ctx, d.ID)
	if err != nil {
		return h, err
	}
	h.LastLogRetrieved = st.LastLogRetrieved
	if !d.LogEnabled || d.LogQueueURL == "" {
		return h, nil
	}
	h.State = "waiting"
	queues, err := s.LogQueues(ctx, d.OrgID)
	if err != nil {
		return h, err
	}
	for _, q := range queues {
		if q.URL == d.LogQueueURL {
			h.State, h.Error, h.Permission = q.State, q.Error, q.Permission
		}
	}
	since := now.Add(-HealthWindow)
	qs, err := s.QueueStats(ctx, d.LogQueueURL, since)
	if err != nil {
		return h, err
	}
	minutes := HealthWindow.Minutes()
	h.NewestLine, h.ObjectsPerMinute, h.BadLines = qs.Newest, float64(qs.Objects)/minutes, qs.BadLines
	f := store.LogFilter{OrgID: d.OrgID, Devices: []int64{d.ID}, From: floor(since, Minute), To: ceil(now, Minute)}
	sums, err := s.SumCounts(ctx, f, []store.Span{{From: f.From, To: f.To, Width: Minute}})
	if err != nil {
		return h, err
	}
	var lines int64
	for _, n := range sums {
		lines += n
	}
	h.LinesPerMinute = float64(lines) / minutes
	q, err := s.ListQuarantined(ctx, d.OrgID, d.LogQueueURL)
	if err != nil {
		return h, err
	}
	h.Quarantined = len(q)
	return h, nil
}
