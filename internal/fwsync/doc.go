// Package fwsync keeps a DNS Firewall rule group equal to a compiled plan,
// with the fewest API calls that keep it safe.
//
// It owns only the rules and domain lists it created (tagged, named with a
// prefix, remembered in local state) and never touches others. It sends
// diffs: ADD and REMOVE in chunks of at most 1000, or an S3 import for a
// new large list. It is make-before-break: old and new rules are merged
// into one sequence; additions go in first, in precedence order (so
// carve-outs land before the blocks that need them and new rules are
// complete before they exist), then action changes on rules whose content
// did not change, then removals in reverse precedence order. At every
// step every query name gets its old outcome or its new one (docs/sync.md
// has the argument). Priorities move only in ways that never reorder rules.
//
// The planner (plan.go) is pure: observed state and desired plan in, steps
// out. The executor runs steps through a narrow API interface, waits for
// lists to settle, and records progress so a crashed sync converges when
// run again.
package fwsync
