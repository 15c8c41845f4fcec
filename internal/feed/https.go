package feed

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/rpzfw/rpzfw/internal/policy"
)

// fetchHTTPS does a conditional GET. Go's transport asks for gzip and
// decompresses it; the size cap applies to what it delivers.
func fetchHTTPS(ctx context.Context, c *http.Client, s policy.SourceSpec, st Status) (fetched, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	if err != nil {
		return fetched{}, fmt.Errorf("building the request: %w", err)
	}
	for k, v := range s.Headers {
		req.Header.Set(k, v)
	}
	if st.ETag != "" && st.Held == nil {
		req.Header.Set("If-None-Match", st.ETag)
	}
	if st.LastModified != "" && st.Held == nil {
		req.Header.Set("If-Modified-Since", st.LastModified)
	}
	resp, err := c.Do(req)
	if err != nil {
		return fetched{}, fmt.Errorf("GET %s: %w", s.URL, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		return fetched{transfer: "304"}, nil
	case resp.StatusCode != http.StatusOK:
		return fetched{}, fmt.Errorf("GET %s: %s", s.URL, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, s.MaxSize+1))
	if err != nil {
		return fetched{}, fmt.Errorf("GET %s: reading the body: %w (a truncated download is never used)", s.URL, err)
	}
	if int64(len(body)) > s.MaxSize {
		return fetched{}, fmt.Errorf("GET %s: the body is larger than max_size (%d bytes)", s.URL, s.MaxSize)
	}
	if resp.ContentLength >= 0 && !resp.Uncompressed && int64(len(body)) != resp.ContentLength {
		return fetched{}, fmt.Errorf("GET %s: got %d of %d bytes (a truncated download is never used)", s.URL, len(body), resp.ContentLength)
	}
	return fetched{body: body, etag: resp.Header.Get("ETag"), mod: resp.Header.Get("Last-Modified"), transfer: "https", bytes: int64(len(body))}, nil
}
