package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"
)

// handler serves one route; an error it returns becomes the response.
type handler func(w http.ResponseWriter, r *http.Request, c caller) error

// route is one entry of the route table.
type route struct {
	// pattern is an http.ServeMux pattern with its method.
	pattern string
	access  access
	handle  handler
}

// routes is the route table: every route the API serves, in one place.
// GET routes also answer HEAD. The OpenAPI document (openapi.go) describes
// each one; a test checks the two agree.
func (s *Server) routes() []route {
	metricsAccess := read
	if s.cfg.PublicMetrics {
		metricsAccess = public
	}
	return []route{
		{"GET /healthz", public, s.healthz},
		{"GET /readyz", public, s.readyz},
		{"GET /metrics", metricsAccess, s.serveMetrics},
		{"GET /api/v1/openapi.json", read, s.openAPI},

		{"GET /api/v1/policies", read, s.listPolicies},
		{"POST /api/v1/policies", write, s.createPolicy},
		{"GET /api/v1/policies/{name}", read, s.getPolicy},
		{"PUT /api/v1/policies/{name}", write, s.putPolicy},
		{"DELETE /api/v1/policies/{name}", write, s.deletePolicy},
		{"GET /api/v1/policies/{name}/status", read, s.getPolicyStatus},
		{"POST /api/v1/policies/{name}/explain", read, s.explainPolicy},
		{"POST /api/v1/policies/{name}/sources/{source}/accept", write, s.acceptHeld},

		{"GET /api/v1/devices", read, s.listDevices},
		{"POST /api/v1/devices", write, s.createDevice},
		{"GET /api/v1/devices/{nickname}", read, s.getDevice},
		{"PATCH /api/v1/devices/{nickname}", write, s.patchDevice},
		{"DELETE /api/v1/devices/{nickname}", write, s.deleteDevice},
		{"POST /api/v1/devices/{nickname}/sync", write, s.syncDevice},
		{"POST /api/v1/devices/{nickname}/preflight", write, s.preflightDevice},
		{"GET /api/v1/devices/{nickname}/syncs", read, s.listSyncs},
		{"GET /api/v1/devices/{nickname}/plan", read, s.getPlan},
		{"GET /api/v1/devices/{nickname}/logs", read, s.getLogHealth},
		{"POST /api/v1/devices/{nickname}/logs/setup", write, s.setupLogs},
		{"POST /api/v1/devices/{nickname}/logs/teardown", write, s.teardownLogs},
		{"GET /api/v1/devices/{nickname}/iam-policy", read, s.getIAMPolicy},
		{"GET /api/v1/devices/{nickname}/canary", read, s.getCanary},

		{"GET /api/v1/reports/summary", read, s.getSummary},
		{"GET /api/v1/reports/timeline", read, s.getTimeline},
		{"GET /api/v1/reports/top", read, s.getTop},
		{"GET /api/v1/reports/hits", read, s.getHits},
		{"GET /api/v1/logs/quarantine", read, s.listQuarantine},
		{"POST /api/v1/logs/quarantine/retry", write, s.retryQuarantined},
		{"POST /api/v1/logs/quarantine/{id}/retry", write, s.retryQuarantined},
	}
}

// unmatched is the metrics label of requests no route took.
const unmatched = "unmatched"

// mount registers the route table, a JSON 405 for each path's other
// methods, and a JSON 404 for everything else.
func (s *Server) mount() {
	methods := map[string][]string{}
	for _, rt := range s.routes() {
		s.mux.Handle(rt.pattern, s.wrap(rt.pattern, rt.access, rt.handle))
		method, path, _ := strings.Cut(rt.pattern, " ")
		methods[path] = append(methods[path], method)
		if method == http.MethodGet {
			methods[path] = append(methods[path], http.MethodHead)
		}
	}
	for path, allowed := range methods {
		sort.Strings(allowed)
		allow := strings.Join(allowed, ", ")
		s.mux.Handle(path, s.wrap(unmatched, public, func(w http.ResponseWriter, r *http.Request, _ caller) error {
			w.Header().Set("Allow", allow)
			return apiErr(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "", "%s is not allowed here; allowed: %s", r.Method, allow)
		}))
	}
	s.mux.Handle("/", s.wrap(unmatched, public, func(_ http.ResponseWriter, r *http.Request, _ caller) error {
		return apiErr(http.StatusNotFound, CodeNotFound, "", "no route %s %s (the API is under /api/v1; see /api/v1/openapi.json)", r.Method, r.URL.Path)
	}))
}

// wrap gives a handler its request ID, authentication, panic recovery,
// error responses, metrics and log line.
func (s *Server) wrap(label string, a access, h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		c := caller{reqID: newRequestID()}
		w.Header().Set("X-Request-ID", c.reqID)
		rec := &statusRecorder{ResponseWriter: w}
		err := s.serve(rec, r, a, h, &c)
		if err != nil {
			s.writeError(rec, r, c.reqID, err)
		}
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		took := time.Since(start)
		s.metrics.observe(label, status, took)
		level := slogLevel(r.Method, status)
		s.log.Log(r.Context(), level, "api request", "method", r.Method, "route", label, "path", r.URL.Path,
			"status", status, "took", took.Round(time.Microsecond), "request_id", c.reqID, "token", c.token.Name, "org", c.token.OrgID)
	})
}

// serve authenticates and runs h, turning a panic into an internal error.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, a access, h handler, c *caller) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	if a != public {
		tok, err := s.authenticate(r, a)
		c.token = tok
		if err != nil {
			return err
		}
	}
	return h(w, r, *c)
}

func newRequestID() string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return fmt.Sprintf("t%x", time.Now().UnixNano())
	}
	return hex.EncodeToString(b)
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// slogLevel: reads are Debug, writes Info, server errors Warn (the error
// itself was logged at Error with the request ID).
func slogLevel(method string, status int) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelWarn
	case method == http.MethodGet || method == http.MethodHead:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}
