package feed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

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
		req.Header.Set(k, v.Reveal())
	}
	if st.ETag != "" && st.Held == nil {
		req.Header.Set("If-None-Match", st.ETag)
	}
	if st.LastModified != "" && st.Held == nil {
		req.Header.Set("If-Modified-Since", st.LastModified)
	}
	shown := redactURL(s.URL) // a query may hold a token
	resp, err := withRedirectPolicy(c, s).Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // it repeats the URL, query and all
		}
		return fetched{}, fmt.Errorf("GET %s: %w", shown, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		return fetched{transfer: "304"}, nil
	case resp.StatusCode != http.StatusOK:
		return fetched{}, fmt.Errorf("GET %s: %s", shown, resp.Status)
	}
	max := maxSize(s)
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return fetched{}, fmt.Errorf("GET %s: reading the body: %w (a truncated download is never used)", shown, err)
	}
	if int64(len(body)) > max {
		return fetched{}, fmt.Errorf("GET %s: the body is larger than max_size (%d bytes)", shown, max)
	}
	if resp.ContentLength >= 0 && !resp.Uncompressed && int64(len(body)) != resp.ContentLength {
		return fetched{}, fmt.Errorf("GET %s: got %d of %d bytes (a truncated download is never used)", shown, len(body), resp.ContentLength)
	}
	return fetched{body: body, etag: resp.Header.Get("ETag"), mod: resp.Header.Get("Last-Modified"), transfer: "https", bytes: int64(len(body))}, nil
}

// maxRedirects is how many redirects a fetch follows, as Go's default.
const maxRedirects = 10

// withRedirectPolicy returns a copy of c that follows a redirect only to
// https, and sends the source's configured headers (which may hold
// secrets: Authorization, API keys) only to the host of the source's URL.
// Go's own policy forwards custom headers to any host and Authorization to
// http on the same host.
func withRedirectPolicy(c *http.Client, s policy.SourceSpec) *http.Client {
	cc := *c
	cc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		if req.URL.Scheme != "https" {
			return fmt.Errorf("refusing a redirect to %s: it leaves https", redactURL(req.URL.String()))
		}
		if !sameHost(req, via[0]) {
			for k := range s.Headers {
				req.Header.Del(k)
			}
		}
		return nil
	}
	return &cc
}

// sameHost says whether two requests go to the same host and port.
func sameHost(a, b *http.Request) bool {
	return canonicalHost(a) == canonicalHost(b)
}

func canonicalHost(r *http.Request) string {
	host, port := r.URL.Hostname(), r.URL.Port()
	if port == "" {
		port = "443"
	}
	return strings.ToLower(strings.TrimSuffix(host, ".")) + ":" + port
}

// redactURL drops the user information and query of a URL, which may hold
// credentials, before it is shown.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an invalid URL)"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "..."
	}
	return u.String()
}
