package rpz

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// TriggerOutOfZone marks a record whose owner is outside the zone origin.
// BIND ignores such records when it loads a zone; the compiler counts them.
const TriggerOutOfZone Trigger = 255

// ZoneOptions says how to read one zone file.
type ZoneOptions struct {
	// File names the input in messages.
	File string
	// Origin is the zone name. When empty, the first $ORIGIN directive
	// before any record is used; a zone with neither is an error.
	Origin string
}

// Special CNAME targets, as absolute names.
const (
	targetNXDomain = "."
	targetNoData   = "*."
	targetPassthru = "rpz-passthru."
	targetDrop     = "rpz-drop."
	targetTCPOnly  = "rpz-tcp-only."
)

// originScanLimit bounds how far ReadZone looks for $ORIGIN before the first
// record; zone headers are a few lines.
const originScanLimit = 64 << 10

// defaultTTL applies to records of a zone without $TTL, as dns.DefaultTtl
// does for a single record.
const defaultTTL = 3600

// ReadZone streams the zone in r and calls fn for every policy record in
// file order. Apex records (SOA, NS) and DNSSEC records are not policy and
// are skipped. It returns the number of records passed to fn.
func ReadZone(r io.Reader, opt ZoneOptions, fn func(Record) error) (int, error) {
	br := bufio.NewReaderSize(r, originScanLimit)
	origin := opt.Origin
	if origin == "" {
		origin = SniffOrigin(br)
		if origin == "" {
			return 0, fmt.Errorf("%s: no zone origin: add a $ORIGIN line before the first record, or give it as ORIGIN=%s", opt.File, opt.File)
		}
	}
	origin = strings.ToLower(dns.Fqdn(origin))
	if _, ok := dns.IsDomainName(origin); !ok {
		return 0, fmt.Errorf("%s: zone origin %q is not a domain name", opt.File, origin)
	}

	lt := newLineTracker(br)
	zp := dns.NewZoneParser(lt, origin, opt.File)
	zp.SetIncludeAllowed(false) // a feed must not read local files
	// BIND falls back to a default too (with a warning) when a zone has no
	// $TTL; the TTL only matters as a walled garden's override TTL.
	zp.SetDefaultTTL(defaultTTL)
	n := 0
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if err := checkNameLengths(rr); err != nil {
			return n, fmt.Errorf("%s:%d: %v", opt.File, lt.start, err)
		}
		rec, keep := classify(rr, origin)
		if !keep {
			continue
		}
		rec.Line = lt.start
		if c, ok := rr.(*dns.CNAME); ok && c.Target == "" {
			// miekg/dns accepts empty rdata (update syntax); BIND does not,
			// and an empty target would read as a walled garden.
			return n, fmt.Errorf("%s:%d: CNAME without a target", opt.File, rec.Line)
		}
		if err := fn(rec); err != nil {
			return n, err
		}
		n++
	}
	if err := zp.Err(); err != nil {
		return n, parseError(opt.File, err, lt.line)
	}
	return n, nil
}

// maxNameOctets is the longest domain name in wire form (RFC 1035 3.1).
const maxNameOctets = 255

// checkNameLengths refuses an owner name or CNAME target longer than 255
// octets, as BIND does ("ran out of space"); miekg/dns accepts them. A
// presentation name (absolute, so ending in a dot) of n characters takes at
// most n+1 octets, so only names over 254 characters need counting.
func checkNameLengths(rr dns.RR) error {
	if name := rr.Header().Name; len(name) >= maxNameOctets && wireLen(name) > maxNameOctets {
		return fmt.Errorf("owner name %s is %d octets long, more than %d (BIND refuses the zone)", shorten(name), wireLen(name), maxNameOctets)
	}
	if c, ok := rr.(*dns.CNAME); ok && len(c.Target) >= maxNameOctets && wireLen(c.Target) > maxNameOctets {
		return fmt.Errorf("CNAME target %s is %d octets long, more than %d (BIND refuses the zone)", shorten(c.Target), wireLen(c.Target), maxNameOctets)
	}
	return nil
}

// wireLen is the length of an absolute presentation name in wire form: a
// length octet per label, the label's octets (an escape, \. or \DDD, is
// one), and the root's zero octet.
func wireLen(name string) int {
	if name == "." {
		return 1
	}
	n := 1 // the root label
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '\\':
			if i+3 < len(name) && isDigit(name[i+1]) && isDigit(name[i+2]) && isDigit(name[i+3]) {
				i += 3
			} else {
				i++
			}
			n++
		case c == '.':
			n++ // the length octet of the label this dot ends
		default:
			n++
		}
	}
	if !strings.HasSuffix(name, ".") {
		n++ // a relative name's last label has no dot
	}
	return n
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// shorten keeps a long name readable in a message.
func shorten(name string) string {
	if len(name) <= 40 {
		return name
	}
	return name[:20] + "..." + name[len(name)-17:]
}

// SniffOrigin returns the zone origin a file declares with $ORIGIN before
// its first record, or "", without consuming input. Callers that need a
// zone's name before reading it use it; ReadZone accepts br as its reader.
func SniffOrigin(br *bufio.Reader) string {
	head, _ := br.Peek(originScanLimit)
	return strings.TrimSuffix(strings.ToLower(findOrigin(head)), ".")
}

// findOrigin returns the argument of the first $ORIGIN directive that comes
// before any record in head, or "".
func findOrigin(head []byte) string {
	for len(head) > 0 {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(string(line))
		switch {
		case len(f) == 0:
			continue
		case strings.EqualFold(f[0], "$ORIGIN") && len(f) > 1:
			return f[1]
		case strings.EqualFold(f[0], "$TTL"):
			continue
		default:
			return ""
		}
	}
	return ""
}

// classify turns one resource record into a policy record.
func classify(rr dns.RR, origin string) (Record, bool) {
	h := rr.Header()
	switch h.Rrtype {
	case dns.TypeRRSIG, dns.TypeNSEC, dns.TypeNSEC3, dns.TypeNSEC3PARAM, dns.TypeDNSKEY, dns.TypeCDS, dns.TypeCDNSKEY, dns.TypeZONEMD:
		return Record{}, false
	}
	owner := strings.ToLower(h.Name)
	if owner == origin {
		return Record{}, false // the apex carries SOA and NS, never policy
	}
	rec := Record{TTL: h.Ttl}
	var rel string
	switch {
	case origin == ".":
		rel = strings.TrimSuffix(owner, ".")
	case strings.HasSuffix(owner, "."+origin):
		rel = owner[:len(owner)-len(origin)-1]
	default:
		rec.Trigger = TriggerOutOfZone
		rec.Name = strings.TrimSuffix(owner, ".")
		return rec, true
	}
	for _, t := range []Trigger{TriggerIP, TriggerNSIP, TriggerClientIP, TriggerNSDName} {
		if s := t.String(); rel == s || strings.HasSuffix(rel, "."+s) {
			rec.Trigger = t
			rec.Name = rel
			rec.Action = actionOf(rr, "")
			return rec, true
		}
	}
	switch {
	case rel == "*":
		rec.Name, rec.Wildcard = "", true
	case strings.HasPrefix(rel, "*."):
		rec.Name, rec.Wildcard = rel[2:], true
	default:
		rec.Name = rel
	}
	self := rel
	if rec.Wildcard {
		// BIND compares the target with the query name, which a wildcard
		// owner never equals: "*.x CNAME *.x." is a wildcard-target CNAME.
		self = ""
	}
	rec.Action = actionOf(rr, self)
	if rec.Action == ActionCNAME || rec.Action == ActionWildcardCNAME {
		rec.Target = strings.TrimSuffix(strings.ToLower(rr.(*dns.CNAME).Target), ".")
	}
	return rec, true
}

// actionOf decodes the action the way BIND's dns_rpz_decode_cname does.
// self is the trigger in query space, for the old "CNAME to itself" form of
// PASSTHRU.
func actionOf(rr dns.RR, self string) Action {
	c, ok := rr.(*dns.CNAME)
	if !ok {
		return ActionLocalData
	}
	t := strings.ToLower(c.Target)
	switch {
	case t == targetNXDomain:
		return ActionNXDomain
	case t == targetNoData:
		return ActionNoData
	case t == targetPassthru:
		return ActionPassthru
	case t == targetDrop:
		return ActionDrop
	case t == targetTCPOnly:
		return ActionTCPOnly
	case self != "" && t == self+".":
		return ActionPassthru
	case strings.HasPrefix(t, "*."):
		return ActionWildcardCNAME
	default:
		return ActionCNAME
	}
}

var parseErrLine = regexp.MustCompile(`^(?:.*?: )?dns: (.*) at line: (\d+):\d+$`)

// parseError reformats a miekg/dns parse error as "file:line: what".
func parseError(file string, err error, fallbackLine int) error {
	var pe *dns.ParseError
	msg, line := err.Error(), fallbackLine
	if errors.As(err, &pe) {
		if m := parseErrLine.FindStringSubmatch(pe.Error()); m != nil {
			msg = m[1]
			if l, convErr := strconv.Atoi(m[2]); convErr == nil {
				line = l
			}
		}
	}
	return fmt.Errorf("%s:%d: %s", file, line, msg)
}
