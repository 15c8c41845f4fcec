package scheduler

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rpzfw/rpzfw/internal/awsclient"
	"github.com/rpzfw/rpzfw/internal/store"
)

// metrics are the scheduler's. Labels are bounded: a device nickname (one
// series per device and result; a deleted device's series are removed),
// a result (ok, unchanged, error), an API operation (the few calls rpzfw
// makes), an error class (three), a device state (five).
type metrics struct {
	syncs      *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	calls      *prometheus.CounterVec
	callErrors *prometheus.CounterVec
	devices    *prometheus.GaugeVec
	leases     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "rpzfw", Subsystem: "scheduler", Name: "syncs_total",
			Help: "Syncs run by this instance, by device nickname and result (ok, unchanged, error).",
		}, []string{"device", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "rpzfw", Subsystem: "scheduler", Name: "sync_duration_seconds",
			Help:    "Time a sync took, from compile to the last API call, by result.",
			Buckets: []float64{.01, .1, .5, 1, 5, 15, 60, 300, 1800},
		}, []string{"result"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "rpzfw", Subsystem: "scheduler", Name: "api_calls_total",
			Help: "Route 53 Resolver calls made by syncs, by operation.",
		}, []string{"op"}),
		devices: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "rpzfw", Subsystem: "scheduler", Name: "devices",
			Help: "Devices whose lease this instance holds, by state (summed over instances, every device counts once).",
		}, []string{"state"}),
		callErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "rpzfw", Subsystem: "scheduler", Name: "api_errors_total",
			Help: "Failed attempts of AWS calls made for devices, retries included, by operation and class (throttled, access_denied, other).",
		}, []string{"op", "class"}),
		leases: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "rpzfw", Subsystem: "scheduler", Name: "leases_held",
			Help: "Account and region leases this instance holds.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.syncs, m.duration, m.calls, m.callErrors, m.devices, m.leases} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering the scheduler's metrics: %w", err)
		}
	}
	return m, nil
}

// states are the gauge's label values, all set at every poll so a state
// that emptied shows 0.
var states = []string{store.StatePending, store.StateSyncing, store.StateInSync, store.StateError, store.StatePaused}

func (m *metrics) setDevices(count map[string]int) {
	for _, s := range states {
		m.devices.WithLabelValues(s).Set(float64(count[s]))
	}
}

// attempt counts a failed attempt of an AWS call (device.Connector's
// OnAttempt): throttles the SDK retried away included.
func (m *metrics) attempt(_ context.Context, op string, err error) {
	if err == nil || op == "" {
		return
	}
	m.callErrors.WithLabelValues(op, awsclient.ErrorClass(err)).Inc()
}
