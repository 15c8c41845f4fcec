package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// TokenPrefix starts every API token, so a leaked one is easy to spot
// (and to scan for).
const TokenPrefix = "rpzfw_"

// NewToken makes an API token: TokenPrefix and 32 random bytes in
// base64url. Only hash is stored (store.Token.Hash); plain is shown once.
func NewToken() (plain string, hash []byte, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("making a token: %w", err)
	}
	plain = TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return plain, HashToken(plain), nil
}

// HashToken is how a token is kept and looked up: its SHA-256. The token
// has 256 random bits, so a fast hash is enough, and looking up by hash
// never compares secrets byte by byte.
func HashToken(plain string) []byte {
	sum := sha256.Sum256([]byte(plain))
	return sum[:]
}

// access is what a route needs.
type access int

const (
	// public routes need no token.
	public access = iota
	// read routes need a token of any role.
	read
	// write routes need an admin token.
	write
)

// caller is who sent a request.
type caller struct {
	token store.Token
	// reqID names the request in logs and in internal errors.
	reqID string
}

func (c caller) org() int64 { return c.token.OrgID }

// authenticate finds the request's token and checks it may use a route
// that needs a.
func (s *Server) authenticate(r *http.Request, a access) (store.Token, error) {
	if tok, ok := portalToken(r); ok {
		if a == write && tok.Role != store.RoleAdmin {
			return tok, apiErr(http.StatusForbidden, CodeForbidden, "", "user %q has role %s, which may only read; changes need an %s", strings.TrimPrefix(tok.Name, "portal:"), tok.Role, store.RoleAdmin)
		}
		return tok, nil
	}
	addr := clientAddr(r)
	if blocked, wait := s.fails.empty(addr); blocked {
		return store.Token{}, rateLimited(wait, "too many failed authentications from %s", addr)
	}
	plain, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	plain = strings.TrimSpace(plain)
	if !ok || plain == "" {
		s.fails.take(addr)
		return store.Token{}, apiErr(http.StatusUnauthorized, CodeUnauthorized, "", "send an API token: Authorization: Bearer TOKEN (rpzfw admin token create makes one)")
	}
	tok, err := s.cfg.Store.TokenByHash(r.Context(), HashToken(plain))
	if errors.Is(err, store.ErrNotFound) {
		s.fails.take(addr)
		return store.Token{}, apiErr(http.StatusUnauthorized, CodeUnauthorized, "", "unknown or revoked token")
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("looking up a token: %w", err)
	}
	if ok, wait := s.tokens.take(strconv.FormatInt(tok.ID, 10)); !ok {
		return tok, rateLimited(wait, "too many requests with token %q", tok.Name)
	}
	if a == write && tok.Role != store.RoleAdmin {
		return tok, apiErr(http.StatusForbidden, CodeForbidden, "", "token %q has role %s, which may only read; changes need an %s token", tok.Name, tok.Role, store.RoleAdmin)
	}
	return tok, nil
}

// rateLimitError is a 429 that carries its Retry-After.
type rateLimitError struct {
	err   *Error
	retry time.Duration
}

func (e rateLimitError) Error() string { return e.err.Error() }
func (e rateLimitError) Unwrap() error { return e.err }

func rateLimited(wait time.Duration, format string, args ...any) error {
	e := apiErr(http.StatusTooManyRequests, CodeRateLimited, "", format, args...)
	e.Message += fmt.Sprintf("; retry in %s", wait.Round(time.Millisecond))
	return rateLimitError{err: e, retry: wait}
}

func (e rateLimitError) retryAfter() string {
	return strconv.Itoa(int(math.Max(1, math.Ceil(e.retry.Seconds()))))
}

// clientAddr is the address a request came from. Headers such as
// X-Forwarded-For are not trusted: behind a proxy, every client shares the
// proxy's failed-authentication budget.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
