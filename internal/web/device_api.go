package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/rpzfw/rpzfw/internal/api"
	"github.com/rpzfw/rpzfw/internal/store"
)

// The pages decode the API's answers into its own types (api.DeviceView,
// api.LogHealth, ...): one definition, so a field the API adds is there
// for the templates too.

// devicePath is the API path of a device, or of one of its sub-resources.
func devicePath(nick string, sub ...string) string {
	p := "/api/v1/devices/" + url.PathEscape(nick)
	for _, s := range sub {
		p += "/" + s
	}
	return p
}

// loadDevice reads the path's device through the API. On failure it has
// answered (404 page or internal error) and returns false.
func (s *Server) loadDevice(w http.ResponseWriter, r *http.Request, u store.User) (api.DeviceView, bool) {
	var d api.DeviceView
	nick := r.PathValue("nickname")
	err := s.callAPI(r.Context(), u, http.MethodGet, devicePath(nick), nil, nil, &d)
	if err == nil {
		return d, true
	}
	s.apiFailure(w, r, "reading a device", err)
	return d, false
}

// apiFailure answers an API error as a page with its status and message
// (the API logs its own internal errors and says only that), or an
// internal error when the call itself failed.
func (s *Server) apiFailure(w http.ResponseWriter, r *http.Request, what string, err error) {
	var ae *APIError
	if errors.As(err, &ae) {
		s.errorPage(w, r, ae.Status, ae.Message)
		return
	}
	s.internal(w, r, what, err)
}

// optional calls the API for a part of a page that may be missing: its
// error message becomes the part's text instead of failing the page.
func (s *Server) optional(ctx context.Context, u store.User, path string, out any) string {
	err := s.callAPI(ctx, u, http.MethodGet, path, nil, nil, out)
	if err == nil {
		return ""
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Message
	}
	s.log.Error("reading for a page", "path", path, "err", err)
	return "could not be read; the error is logged"
}
