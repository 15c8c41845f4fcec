package api

import (
	"context"
	"net/http"
	"time"
)

// healthResponse is the body of /healthz and /readyz.
type healthResponse struct {
	Status string `json:"status"`
}

// healthz says the process answers. It checks nothing else, so an
// orchestrator restarts the process only when it is truly stuck.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request, _ caller) error {
	s.writeJSON(w, http.StatusOK, healthResponse{Status: "ok"})
	return nil
}

// readyz says the service can do its work (Config.Ready): 200, or 503 with
// the reason.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ caller) error {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.cfg.Ready(ctx); err != nil {
		return apiErr(http.StatusServiceUnavailable, CodeNotReady, "", "not ready: %v", err)
	}
	s.writeJSON(w, http.StatusOK, healthResponse{Status: "ready"})
	return nil
}
