package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/policydoc"
	"github.com/rpzfw/rpzfw/internal/store"
)

// Error codes. A client tells errors apart by code; the message is for a
// person and may change.
const (
	CodeBadJSON          = "bad_json"
	CodeBadRequest       = "bad_request"
	CodeUnknownField     = "unknown_field"
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodePredefined       = "predefined"
	CodeNotFound         = "not_found"
	CodeNotCompiled      = "not_compiled"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeConflict         = "conflict"
	CodeInUse            = "in_use"
	CodeVersionMismatch  = "version_mismatch"
	CodeTooLarge         = "too_large"
	CodeInvalid          = "invalid"
	CodeRateLimited      = "rate_limited"
	CodeInternal         = "internal"
	CodeUpstream         = "upstream_failed"
	CodeNotReady         = "not_ready"
)

// Error is an API error: its status, code, message and, for a problem
// with one field of the request, the field's JSON name.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%d %s: %s: %s", e.Status, e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

// errorBody is what every error response holds.
type errorBody struct {
	Error *Error `json:"error"`
}

func apiErr(status int, code, field, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

func notFound(kind, name string) *Error {
	return apiErr(http.StatusNotFound, CodeNotFound, "", "no %s named %q", kind, name)
}

// asAPIError maps err to the error the client sees; ok is false for an
// internal error.
func asAPIError(err error) (*Error, bool) {
	var ae *Error
	var pe *policydoc.FieldError
	var de *device.FieldError
	switch {
	case errors.As(err, &ae):
		return ae, true
	case errors.As(err, &de):
		return apiErr(http.StatusUnprocessableEntity, CodeInvalid, de.Field, "%s", de.Message), true
	case errors.As(err, &pe):
		if strings.HasPrefix(pe.Message, "unknown key") {
			return apiErr(http.StatusBadRequest, CodeUnknownField, pe.Field, "%s", pe.Message), true
		}
		return apiErr(http.StatusUnprocessableEntity, CodeInvalid, pe.Field, "%s", pe.Message), true
	case errors.Is(err, store.ErrNotFound):
		return apiErr(http.StatusNotFound, CodeNotFound, "", "not found"), true
	case errors.Is(err, store.ErrInUse):
		return apiErr(http.StatusConflict, CodeInUse, "", "in use"), true
	case errors.Is(err, store.ErrConflict):
		return apiErr(http.StatusConflict, CodeConflict, "", "changed by someone else meanwhile: read it again and retry"), true
	}
	return nil, false
}

// writeError answers with err. An internal error is logged with the
// request ID, which is all the client learns of it.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, reqID string, err error) {
	ae, ok := asAPIError(err)
	if !ok {
		s.log.Error("internal error", "request_id", reqID, "method", r.Method, "path", r.URL.Path, "err", err)
		ae = apiErr(http.StatusInternalServerError, CodeInternal, "", "internal error (request ID %s): the server's log has the details", reqID)
	}
	if ae.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="rpzfw"`)
	}
	var rl rateLimitError
	if errors.As(err, &rl) {
		w.Header().Set("Retry-After", rl.retryAfter())
	}
	s.writeJSON(w, ae.Status, errorBody{Error: ae})
}

// writeJSON answers with v as JSON.
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own types reach here: a bug, not bad input.
		s.log.Error("encoding a response", "err", err)
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"encoding the response failed"}}`)
	}
	writeRaw(w, status, append(b, '\n'))
}

// writeRaw answers with b, which is JSON. A failed write means the client
// has gone: there is no one left to tell.
func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// Answers may describe credentials (never the secrets): keep them out
	// of caches.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b) //nolint:errcheck // the client has gone
}
