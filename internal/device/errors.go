package device

import "errors"

// Errors a caller (the scheduler) tells apart with errors.Is. Each marks
// an error whose message says what happened; the mark adds no text.
var (
	// ErrConfig: the device's settings cannot be used as they are (a
	// secret that does not open, a sandbox device on a server without
	// one). Only a change to the device fixes it.
	ErrConfig = errors.New("the device's settings cannot be used")
	// ErrPolicy: the policy does not load or compile (a bad document, a
	// list file that cannot be read, a policy DNS Firewall cannot hold).
	// Only a change to the policy fixes it.
	ErrPolicy = errors.New("the policy does not compile")
	// ErrFeedUnavailable: a source has no good copy yet (its fetch failed
	// or never ran). It may come back by itself.
	ErrFeedUnavailable = errors.New("a source has no good copy")
)

// marked is an error that also matches a sentinel, with err's message.
type marked struct{ err, mark error }

func (m marked) Error() string   { return m.err.Error() }
func (m marked) Unwrap() []error { return []error{m.err, m.mark} }

func mark(sentinel, err error) error { return marked{err: err, mark: sentinel} }
