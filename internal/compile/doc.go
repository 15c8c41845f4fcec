// Package compile turns a policy (ordered RPZ zones and user lists) into a
// DNS Firewall plan: priority-ordered rules whose first match gives every
// query name the outcome BIND gives it with the same zones.
//
// How: every trigger name and its ancestors form one tree. For each node n
// the policy fixes two outcomes, E(n) for the name itself and W(n) for
// names below n that are not in the tree; no other names exist as far as
// the policy can tell. Entries are emitted where E or W differ from what the
// parent passes down (longest-match form), then laid out in as few rules as
// the "deeper entry before shallower entry of another outcome" constraints
// allow, which turns longest match into DNS Firewall's first match.
//
// The package does no I/O. Reference evaluates the same policy directly,
// record by record, and is what tests and "rpzfw explain" compare against.
package compile
