package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// Cookie names. The login cookie carries the login form's CSRF token
// (double submit) before there is a session.
const (
	sessionCookie = "rpzfw_session"
	loginCookie   = "rpzfw_login"
	csrfField     = "csrf"
)

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashID(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return h[:]
}

func (s *Server) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil || s.cfg.SecureCookies}
}

// session returns the request's live session and its user.
func (s *Server) session(r *http.Request) (store.Session, store.User, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" || len(c.Value) > 100 {
		return store.Session{}, store.User{}, false
	}
	sess, u, err := s.cfg.Store.SessionByHash(r.Context(), hashID(c.Value), s.cfg.Now())
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Error("reading a session", "err", err)
		}
		return store.Session{}, store.User{}, false
	}
	return sess, u, true
}

// sameOrigin refuses a request another site's page sent: when the browser
// says where it comes from, that must be this host.
func sameOrigin(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

func tokensEqual(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// sessionHandler serves a request of a logged-in user.
type sessionHandler func(w http.ResponseWriter, r *http.Request, sess store.Session, u store.User)

// withSession lets only logged-in users through (others go to the login
// page, or get 403 on a POST); every POST must carry the session's CSRF
// token and come from this site, and with admin only admins pass.
func (s *Server) withSession(admin bool, h sessionHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, u, ok := s.session(r)
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if !ok || !sameOrigin(r) || !tokensEqual(r.PostFormValue(csrfField), sess.CSRF) {
				s.log.Warn("refused a form without a valid session or CSRF token", "path", r.URL.Path, "addr", clientAddr(r))
				s.errorPage(w, r, http.StatusForbidden, "This form has expired or did not come from this site. Reload the page and try again.")
				return
			}
		} else if !ok {
			http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
			return
		}
		if admin && u.Role != store.RoleAdmin {
			s.errorPage(w, r, http.StatusForbidden, "Only an admin can do this; your role is "+u.Role+".")
			return
		}
		h(w, r, sess, u)
	}
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type loginData struct {
	Name  string
	Error string
	Info  string
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := s.session(r); ok {
		http.Redirect(w, r, "/ui/devices", http.StatusSeeOther)
		return
	}
	var d loginData
	if r.URL.Query().Get("out") != "" {
		d.Info = "You are logged out."
	}
	s.renderLogin(w, r, http.StatusOK, d)
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	token := randomToken()
	http.SetCookie(w, s.cookie(r, loginCookie, token, 3600))
	s.render(w, status, "login", page{Title: "Log in", CSRF: token, Data: d})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	c, err := r.Cookie(loginCookie)
	if err != nil || !sameOrigin(r) || !tokensEqual(r.PostFormValue(csrfField), c.Value) {
		s.renderLogin(w, r, http.StatusForbidden, loginData{Error: "The login form expired. Try again."})
		return
	}
	name, password := r.PostFormValue("username"), r.PostFormValue("password")
	addr := clientAddr(r)
	if name == "" || password == "" {
		s.renderLogin(w, r, http.StatusBadRequest, loginData{Name: name, Error: "Give your user name and password."})
		return
	}
	for _, b := range []struct {
		f   *failures
		key string
	}{{s.byAddr, addr}, {s.byUser, name}} {
		if blocked, until := b.f.blocked(b.key); blocked {
			s.log.Warn("login refused: too many failures", "addr", addr, "user", name)
			wait := until.Sub(s.cfg.Now()).Round(time.Minute)
			w.Header().Set("Retry-After", fmt.Sprint(int(until.Sub(s.cfg.Now()).Seconds())+1))
			s.renderLogin(w, r, http.StatusTooManyRequests, loginData{Name: name,
				Error: fmt.Sprintf("Too many failed logins. Try again in %s.", max(wait, time.Minute))})
			return
		}
	}
	u, err := s.cfg.Store.UserByName(r.Context(), name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.internal(w, r, "reading a user", err)
		return
	}
	if !checkPassword(u.PasswordHash, password) {
		s.byAddr.fail(addr)
		s.byUser.fail(name)
		s.log.Info("failed login", "addr", addr, "user", name)
		s.renderLogin(w, r, http.StatusUnauthorized, loginData{Name: name, Error: "Wrong user name or password."})
		return
	}
	s.byUser.reset(name)
	id, now := randomToken(), s.cfg.Now()
	sess := store.Session{Hash: hashID(id), UserID: u.ID, CSRF: randomToken(), CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL)}
	if err := s.cfg.Store.CreateSession(r.Context(), sess); err != nil {
		s.internal(w, r, "creating a session", err)
		return
	}
	if _, err := s.cfg.Store.DeleteExpiredSessions(r.Context(), now); err != nil {
		s.log.Warn("deleting expired sessions", "err", err)
	}
	s.log.Info("login", "addr", addr, "user", u.Name, "role", u.Role)
	http.SetCookie(w, s.cookie(r, loginCookie, "", -1))
	http.SetCookie(w, s.cookie(r, sessionCookie, id, int(s.cfg.SessionTTL.Seconds())))
	http.Redirect(w, r, "/ui/devices", http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, sess store.Session, u store.User) {
	if err := s.cfg.Store.DeleteSession(r.Context(), sess.Hash); err != nil {
		s.internal(w, r, "ending a session", err)
		return
	}
	s.log.Info("logout", "user", u.Name)
	http.SetCookie(w, s.cookie(r, sessionCookie, "", -1))
	http.Redirect(w, r, "/ui/login?out=1", http.StatusSeeOther)
}
