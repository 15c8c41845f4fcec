package service

import (
	"regexp"
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// registry is the service's metrics registry. It also keeps the name of
// every metric registered, whether or not it has a series yet (a vector
// with no labels set is absent from /metrics), so that the Grafana
// dashboard's test can check each name it uses is one the service exports.
type registry struct {
	*prometheus.Registry
	mu    sync.Mutex
	names map[string]bool
}

func newRegistry() *registry {
	return &registry{Registry: prometheus.NewRegistry(), names: map[string]bool{}}
}

// descName takes the metric name out of a Desc: client_golang has no
// accessor, and its String form is fqName: "NAME".
var descName = regexp.MustCompile(`fqName: "([^"]+)"`)

// Register registers c and records its metrics' names.
func (r *registry) Register(c prometheus.Collector) error {
	if err := r.Registry.Register(c); err != nil {
		return err
	}
	ch := make(chan *prometheus.Desc)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	for d := range ch {
		if m := descName.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	return nil
}

// MustRegister is Register that panics, as prometheus.Registerer says.
func (r *registry) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// metricNames are the names of every metric registered, sorted.
func (r *registry) metricNames() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.names))
	for n := range r.names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
