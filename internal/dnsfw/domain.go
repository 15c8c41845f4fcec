package dnsfw

import (
	"errors"
	"strings"
)

// MaxDomainLength is the longest domain list entry DNS Firewall accepts.
const MaxDomainLength = 255

// Errors returned by ValidateDomain; callers use them to count removals by
// reason.
var (
	ErrEmptyDomain    = errors.New("empty domain")
	ErrDomainTooLong  = errors.New("domain longer than 255 characters")
	ErrDomainChars    = errors.New("domain has characters a DNS Firewall domain list cannot hold (only letters, digits, hyphen and dots, with an optional leading \"*.\")")
	ErrDomainLabel    = errors.New("domain has an empty label or a label longer than 63 characters")
	ErrDomainWildcard = errors.New("domain has \"*\" other than as its whole first label")
)

// NormalizeDomain lower-cases d and strips one trailing dot, the form in
// which rpzfw stores and compares entries. ListFirewallDomains returns
// names with a trailing dot; entries are sent without one.
func NormalizeDomain(d string) string {
	if strings.HasSuffix(d, ".") && !escapedAt(d, len(d)-1) {
		d = d[:len(d)-1]
	}
	for i := 0; i < len(d); i++ {
		if c := d[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(d)
		}
	}
	return d
}

// ValidateDomain reports whether d (already normalized) can be installed in a
// DNS Firewall domain list: an optional leading "*." (or a lone "*"), then
// letters, digits, hyphens and dots, 1 to 255 characters.
func ValidateDomain(d string) error {
	if d == "" {
		return ErrEmptyDomain
	}
	if len(d) > MaxDomainLength {
		return ErrDomainTooLong
	}
	if d == "*" {
		return nil
	}
	name := strings.TrimPrefix(d, "*.")
	return validateHostname(name)
}

// validateHostname checks a name without wildcard, as it appears after
// "*." in an entry.
func validateHostname(name string) error {
	if name == "" {
		return ErrDomainLabel
	}
	labelLen := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '.':
			if labelLen == 0 {
				return ErrDomainLabel
			}
			labelLen = 0
			continue
		case c == '*':
			return ErrDomainWildcard
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
		default:
			return ErrDomainChars
		}
		labelLen++
		if labelLen > 63 {
			return ErrDomainLabel
		}
	}
	if labelLen == 0 {
		return ErrDomainLabel
	}
	return nil
}

// ParseEntry splits a normalized entry into its name and whether it is a
// wildcard. The lone "*" is the wildcard of the root, name "".
func ParseEntry(d string) (name string, wildcard bool) {
	if d == "*" {
		return "", true
	}
	if strings.HasPrefix(d, "*.") {
		return d[2:], true
	}
	return d, false
}

// Entry builds the domain list entry for name (query space, "" is the root).
func Entry(name string, wildcard bool) string {
	switch {
	case !wildcard:
		return name
	case name == "":
		return "*"
	default:
		return "*." + name
	}
}

// DescribeDomainError turns a validation error into a short reason key used
// in plan counters ("invalid-name", "too-long").
func DescribeDomainError(err error) string {
	if errors.Is(err, ErrDomainTooLong) {
		return "too-long"
	}
	return "invalid-name"
}

// LabelEnd returns the index of the dot that ends the first label of name,
// or -1 when name has one label. Names in presentation form (query names
// as miekg/dns gives them) write a dot inside a label as "\.", which ends
// nothing: "mal\.war.example" is the label "mal.war" under "example".
func LabelEnd(name string) int {
	i := strings.IndexByte(name, '.')
	if i < 0 || strings.IndexByte(name[:i], '\\') < 0 {
		return i // the common case: no escape before the first dot
	}
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '\\':
			i++ // skip the escaped character (\DDD holds no dot)
		case '.':
			return i
		}
	}
	return -1
}

// Parent returns name without its first label ("" for a single label).
func Parent(name string) string {
	if i := LabelEnd(name); i >= 0 {
		return name[i+1:]
	}
	return ""
}

// escapedAt says whether the character at i is escaped by an odd number of
// backslashes before it.
func escapedAt(s string, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && s[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}
