package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/rpzfw/rpzfw/internal/api"
	"github.com/rpzfw/rpzfw/internal/store"
)

// APIError is an error answer of the JSON API, as a page shows it: next
// to the field it names, or at the top of the form.
type APIError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

func (e *APIError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

// callAPI serves one API request in-process as user u: the same route
// table, validation and code paths as the JSON API, with u's organization
// and role. body (if not nil) is sent as JSON; a 2xx answer is decoded
// into out (if not nil). A 4xx or 5xx answer is an *APIError.
func (s *Server) callAPI(ctx context.Context, u store.User, method, path string, query url.Values, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encoding a request to %s: %w", path, err)
		}
		rd = bytes.NewReader(b)
	}
	target := path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req := httptest.NewRequestWithContext(api.AsUser(ctx, u), method, target, rd)
	req.RemoteAddr = "portal"
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	s.cfg.API.ServeHTTP(rec, req)
	return decodeAnswer(rec, path, out)
}

// callAPIRaw is callAPI for answers that are not JSON (CSV): it returns
// the body and its content type.
func (s *Server) callAPIRaw(ctx context.Context, u store.User, path string, query url.Values) ([]byte, string, error) {
	target := path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req := httptest.NewRequestWithContext(api.AsUser(ctx, u), http.MethodGet, target, nil)
	req.RemoteAddr = "portal"
	rec := httptest.NewRecorder()
	s.cfg.API.ServeHTTP(rec, req)
	if err := decodeAnswer(rec, path, nil); err != nil {
		return nil, "", err
	}
	return rec.Body.Bytes(), rec.Header().Get("Content-Type"), nil
}

func decodeAnswer(rec *httptest.ResponseRecorder, path string, out any) error {
	if rec.Code >= 400 {
		var eb struct {
			Error *APIError `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error == nil {
			return &APIError{Status: rec.Code, Code: "internal", Message: fmt.Sprintf("the API answered %d", rec.Code)}
		}
		eb.Error.Status = rec.Code
		return eb.Error
	}
	if out == nil || rec.Body.Len() == 0 {
		return nil
	}
	if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
		return fmt.Errorf("decoding the answer of %s: %w", path, err)
	}
	return nil
}
