package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the API's own. Labels are bounded: route is a pattern of
// the route table (or "unmatched"), code a status class (2xx ... 5xx).
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "rpzfw", Subsystem: "api", Name: "requests_total",
			Help: "API requests by route pattern and status class.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "rpzfw", Subsystem: "api", Name: "request_duration_seconds",
			Help:    "Time to answer an API request, by route pattern.",
			Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5, 30},
		}, []string{"route"}),
	}
	var err error
	if m.requests, err = register(reg, m.requests); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// its name (a second API on one registry, as in tests).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(C); ok {
				return old, nil
			}
		}
		return c, fmt.Errorf("registering API metrics: %w", err)
	}
	return c, nil
}

func (m *metrics) observe(route string, status int, took time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status/100)+"xx").Inc()
	m.duration.WithLabelValues(route).Observe(took.Seconds())
}

// serveMetrics is /metrics: every metric of the Gatherer (the service's
// registry), in Prometheus text format.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request, _ caller) error {
	promhttp.HandlerFor(s.gather, promhttp.HandlerOpts{ErrorLog: promLog{s}}).ServeHTTP(w, r)
	return nil
}

// promLog sends promhttp's errors to the API's log.
type promLog struct{ s *Server }

func (l promLog) Println(v ...any) { l.s.log.Error("serving metrics", "err", fmt.Sprint(v...)) }
