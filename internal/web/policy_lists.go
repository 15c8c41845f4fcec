package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/rpzfw/rpzfw/internal/store"
)

// maxListText bounds one list's text in the form (the API bounds the
// whole policy at 1 MiB).
const maxListText = 30 << 10

// listEntries splits a list's text into entries, one a line (blank lines
// skipped), with the line each came from, so an API error about entry i
// points at the line the person typed.
func listEntries(text string) ([]string, []int) {
	entries, lines := []string{}, []int{}
	for i, l := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			entries = append(entries, l)
			lines = append(lines, i+1)
		}
	}
	return entries, lines
}

// listFieldError places an API error about allow_list[i] or block_list[i]
// on the line it came from; ok is false for an error of another field.
func listFieldError(f *listForm, ae *APIError, allowLines, blockLines []int) bool {
	for _, l := range []struct {
		key   string
		lines []int
		dst   *string
	}{{"allow_list", allowLines, &f.AllowErr}, {"block_list", blockLines, &f.BlockErr}} {
		if !strings.HasPrefix(ae.Field, l.key) {
			continue
		}
		msg := ae.Message
		rest := strings.TrimPrefix(ae.Field, l.key)
		if idx, err := strconv.Atoi(strings.Trim(rest, "[]")); err == nil && strings.HasPrefix(rest, "[") && idx >= 0 && idx < len(l.lines) {
			msg = fmt.Sprintf("Line %d: %s", l.lines[idx], ae.Message)
		}
		*l.dst = msg
		return true
	}
	return false
}

// saveLists is the list editor's submit: the policy as read, with the
// lists replaced, PUT through the API with the version the form was made
// from, so a change made meanwhile is refused rather than overwritten.
func (s *Server) saveLists(w http.ResponseWriter, r *http.Request, sess store.Session, u store.User) {
	d, ok := s.loadPolicy(w, r, u)
	if !ok {
		return
	}
	f := listForm{Allow: r.PostFormValue("allow_list"), Block: r.PostFormValue("block_list")}
	version, err := strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	if err != nil || version < 1 {
		s.errorPage(w, r, http.StatusBadRequest, "The form lacks the policy's version. Reload the page and try again.")
		return
	}
	f.Version = version
	d.Lists = f
	if len(f.Allow) > maxListText || len(f.Block) > maxListText {
		d.Lists.Error = fmt.Sprintf("A list is longer than %d KiB: put a long list in a file the server reads.", maxListText>>10)
		s.renderPolicy(w, http.StatusRequestEntityTooLarge, sess, u, d)
		return
	}
	allow, allowLines := listEntries(f.Allow)
	block, blockLines := listEntries(f.Block)
	body := map[string]any{}
	for k, v := range d.Policy.Rest {
		body[k] = v
	}
	if d.Policy.Allow.File == "" {
		body["allow_list"] = allow
	}
	if d.Policy.Block.File == "" {
		body["block_list"] = block
	}
	body["version"] = version
	var saved apiPolicy
	err = s.callAPI(r.Context(), u, http.MethodPut, "/api/v1/policies/"+url.PathEscape(d.Policy.Name), nil, body, &saved)
	var ae *APIError
	switch {
	case err == nil:
		s.log.Info("policy lists saved", "user", u.Name, "policy", saved.Name, "version", saved.Version)
		http.Redirect(w, r, "/ui/policies/"+url.PathEscape(saved.Name)+"?saved="+strconv.FormatInt(saved.Version, 10), http.StatusSeeOther)
	case !errors.As(err, &ae) || ae.Status >= 500:
		s.internal(w, r, "saving a policy's lists", err)
	default:
		if !listFieldError(&d.Lists, ae, allowLines, blockLines) {
			d.Lists.Error = ae.Message
		}
		s.renderPolicy(w, ae.Status, sess, u, d)
	}
}

// acceptHeld is a source's "accept" button.
func (s *Server) acceptHeld(w http.ResponseWriter, r *http.Request, _ store.Session, u store.User) {
	name, source := r.PathValue("name"), r.PathValue("source")
	path := "/api/v1/policies/" + url.PathEscape(name) + "/sources/" + url.PathEscape(source) + "/accept"
	if err := s.callAPI(r.Context(), u, http.MethodPost, path, nil, nil, &json.RawMessage{}); err != nil {
		s.apiFailure(w, r, "accepting a held update", err)
		return
	}
	s.log.Info("held update accepted", "user", u.Name, "policy", name, "source", source)
	http.Redirect(w, r, "/ui/policies/"+url.PathEscape(name)+"?accepted="+url.QueryEscape(source), http.StatusSeeOther)
}

func itoa(n int) string { return strconv.Itoa(n) }
