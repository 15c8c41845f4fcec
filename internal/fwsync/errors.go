package fwsync

import "errors"

// Errors a caller may tell apart with errors.Is. Each marks an error whose
// message says what happened and what to do; the mark adds no text. None
// of them goes away by retrying: something must change first (the band,
// the rule group, the quota, the policy, or --allow-shrink).
var (
	// ErrForeignRule: a rule rpzfw does not own sits inside its band.
	ErrForeignRule = errors.New("a rule of another owner is in rpzfw's priority band")
	// ErrBand: rpzfw's rules do not fit the band, or sit outside it.
	ErrBand = errors.New("the priority band does not fit")
	// ErrShrink: the plan would remove more than half of what is deployed.
	ErrShrink = errors.New("the plan shrinks the firewall sharply")
	// ErrQuota: the domains quota leaves no room for the plan.
	ErrQuota = errors.New("the domains quota is used up")
	// ErrRuleGroupNotFound: the rule group does not exist in the account
	// and region.
	ErrRuleGroupNotFound = errors.New("the rule group does not exist")
)

// marked is an error that also matches a sentinel, with err's message.
type marked struct{ err, mark error }

func (m marked) Error() string   { return m.err.Error() }
func (m marked) Unwrap() []error { return []error{m.err, m.mark} }

// mark makes err match sentinel too, keeping its message.
func mark(sentinel, err error) error { return marked{err: err, mark: sentinel} }
