package api

import (
	"context"
	"net/http"

	"github.com/rpzfw/rpzfw/internal/store"
)

// portalUserKey marks a request context as sent by the portal on behalf
// of a logged-in user. Only code in this process can set it: a request
// from the network carries no context values, so this never bypasses a
// token.
type portalUserKey struct{}

// AsUser returns ctx marked as a portal request by u: the API serves it
// with u's organization and role, as if u held a token, and without the
// per-token rate limit (the portal has its own). The portal calls the API
// this way so that its pages and the JSON API share one code path.
func AsUser(ctx context.Context, u store.User) context.Context {
	return context.WithValue(ctx, portalUserKey{}, u)
}

// portalToken is the token a portal request is served with.
func portalToken(r *http.Request) (store.Token, bool) {
	u, ok := r.Context().Value(portalUserKey{}).(store.User)
	if !ok {
		return store.Token{}, false
	}
	return store.Token{OrgID: u.OrgID, Name: "portal:" + u.Name, Role: u.Role}, true
}
