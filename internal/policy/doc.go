// Package policy describes a policy, the ordered sources a device enforces
// (user allow list, user block list, then RPZ zones, first match wins), and
// streams their records into a compiler.
package policy
