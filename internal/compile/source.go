package compile

// Kind says how a source matches names.
type Kind uint8

const (
	// KindZone is an RPZ zone: BIND's lookup, where an exact name wins, a
	// wildcard applies only below the closest existing name, and a more
	// specific name (even an empty non-terminal) shadows a wildcard above.
	KindZone Kind = iota
	// KindList is a user list with DNS Firewall matching: "*.x" covers
	// every subdomain of x whatever else the list holds.
	KindList
)

// Source is one input of a policy, in precedence order (first wins).
type Source struct {
	// Name identifies the source in reports ("allow-list", a feed name).
	Name string
	// File is used in error messages; defaults to Name.
	File string
	Kind Kind
	// Allow turns every match of the source into PASSTHRU (allow lists
	// and vendors' allow zones).
	Allow bool
}

func (s Source) file() string {
	if s.File != "" {
		return s.File
	}
	return s.Name
}

// MaxSources is the most sources a policy may have; the compiler keeps one
// bit per source on each tree node.
const MaxSources = 64
