// Package web is the portal: server-rendered pages (html/template, assets
// embedded) for people, beside the JSON API on the same port.
//
// Invariants:
//   - Every page but the login page needs a session: a random ID in an
//     HttpOnly, SameSite=Lax cookie (Secure over TLS), kept server-side in
//     the store, so logout and expiry end it everywhere.
//   - Every POST carries the session's CSRF token; without it the request
//     is refused before anything is read or changed.
//   - A user sees only their organization; a viewer may look, only an
//     admin may change things.
//   - Failed logins are rate limited per client address and per user name.
package web
