package querylog

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics of the log pipeline. Labels take a few fixed values each (no
// queue, device or object names), so their number stays bounded; the one
// exception, a hit's source, is capped at maxFeedLabels names.
type metrics struct {
	messages *prometheus.CounterVec // result: ok, test, ignored, failed, quarantined, retried
	objects  *prometheus.CounterVec // result: ok, duplicate, skipped, missing, failed
	lines    *prometheus.CounterVec // kind: read, bad, unattributed
	hits     *prometheus.CounterVec // action: BLOCK, ALERT
	feedHits *prometheus.CounterVec // feed: a source's name, capped (feedLabel)
	errs     *prometheus.CounterVec // op: receive, delete, visibility, get, store; class: access_denied, other
	lag      *prometheus.HistogramVec
	took     prometheus.Histogram
	queues   prometheus.Gauge
	// feeds are the source names given a label of their own.
	feedMu sync.Mutex
	feeds  map[string]bool
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "rpzfw", "querylog"
	lagBuckets := []float64{1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "messages_total",
			Help: "SQS messages handled, by result (ok, test, ignored, failed, quarantined, retried)."}, []string{"result"}),
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "objects_total",
			Help: "S3 objects handled, by result (ok, duplicate, skipped: not a query log, missing, failed)."}, []string{"result"}),
		lines: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "lines_total",
			Help: "Query log lines, by kind (read, bad, unattributed)."}, []string{"kind"}),
		feedHits: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "feed_hits_total",
			Help: "BLOCK and ALERT hits stored, by the source that caused them (a feed's name, allow-list or block-list; unknown when none was found; other past the first 100 names)."}, []string{"feed"}),
		hits: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "hits_total",
			Help: "BLOCK and ALERT hits stored, by action."}, []string{"action"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: "errors_total",
			Help: "Errors of the pipeline, by operation (receive, delete, visibility, get, store) and class (access_denied, other)."}, []string{"op", "class"}),
		lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "lag_seconds",
			Help:    "Seconds from a moment to an object's commit: since its notification was sent (notification), since its newest line (line).",
			Buckets: lagBuckets}, []string{"since"}),
		took: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: "object_seconds",
			Help: "Seconds to read and store one object.", Buckets: prometheus.ExponentialBuckets(0.01, 3, 10)}),
		queues: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "queues",
			Help: "SQS queues being consumed (one per queue and credentials)."}),
	}
	var err error
	reg1 := func(c prometheus.Collector) prometheus.Collector {
		if err != nil {
			return c
		}
		var got prometheus.Collector
		got, err = register(reg, c)
		return got
	}
	m.messages = reg1(m.messages).(*prometheus.CounterVec)
	m.objects = reg1(m.objects).(*prometheus.CounterVec)
	m.lines = reg1(m.lines).(*prometheus.CounterVec)
	m.hits = reg1(m.hits).(*prometheus.CounterVec)
	m.feedHits = reg1(m.feedHits).(*prometheus.CounterVec)
	m.errs = reg1(m.errs).(*prometheus.CounterVec)
	m.lag = reg1(m.lag).(*prometheus.HistogramVec)
	m.took = reg1(m.took).(prometheus.Histogram)
	m.queues = reg1(m.queues).(prometheus.Gauge)
	return m, err
}

// register registers c, or returns the collector registered before under
// its name (two pipelines on one registry share their metrics).
func register(reg prometheus.Registerer, c prometheus.Collector) (prometheus.Collector, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			return are.ExistingCollector, nil
		}
		return c, err
	}
	return c, nil
}

// maxFeedLabels bounds the feed label: source names come from users'
// policies, so a store with many organizations could otherwise grow the
// series without end.
const maxFeedLabels = 100

// feedLabel is the feed label of a source name: the name while fewer than
// maxFeedLabels have been seen, "other" after; "unknown" for a hit whose
// source was not found.
func (m *metrics) feedLabel(source string) string {
	if source == "" {
		return "unknown"
	}
	m.feedMu.Lock()
	defer m.feedMu.Unlock()
	if m.feeds[source] {
		return source
	}
	if len(m.feeds) >= maxFeedLabels {
		return "other"
	}
	if m.feeds == nil {
		m.feeds = map[string]bool{}
	}
	m.feeds[source] = true
	return source
}
