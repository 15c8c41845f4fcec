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
//
// One-line CNAME records, the lines feeds are made of, are read by a fast
// path (fastline.go); every other line goes to the full zone parser
// (miekg/dns) with the state the lines before it left, and the results are
// the same as the full parser's alone (zonereader_test.go proves it).
func ReadZone(r io.Reader, opt ZoneOptions, fn func(Record) error) (int, error) {
	zr, err := newZoneReader(r, opt, fn)
	if err != nil {
		return 0, err
	}
	err = zr.run()
	return zr.n, err
}

// readZoneFull reads the zone with the full parser only: the reference
// the fast path is tested against.
func readZoneFull(r io.Reader, opt ZoneOptions, fn func(Record) error) (int, error) {
	zr, err := newZoneReader(r, opt, fn)
	if err != nil {
		return 0, err
	}
	err = zr.parse(zr.br, 1)
	return zr.n, err
}

// zoneOrigin returns the zone origin, absolute and in lower case, from
// opt or the file's first $ORIGIN.
func zoneOrigin(br *bufio.Reader, opt ZoneOptions) (string, error) {
	origin := opt.Origin
	if origin == "" {
		origin = SniffOrigin(br)
		if origin == "" {
			return "", fmt.Errorf("%s: no zone origin: add a $ORIGIN line before the first record, or give it as ORIGIN=%s", opt.File, opt.File)
		}
	}
	origin = strings.ToLower(dns.Fqdn(origin))
	if _, ok := dns.IsDomainName(origin); !ok {
		return "", fmt.Errorf("%s: zone origin %q is not a domain name", opt.File, origin)
	}
	return origin, nil
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
	c, cname := rr.(*dns.CNAME)
	target := ""
	if cname {
		target = c.Target
	}
	return decodeOwner(strings.ToLower(h.Name), origin, h.Ttl, cname, target)
}

// decodeOwner makes the policy record of a record at owner (absolute, lower
// case) in the zone origin; target is a CNAME's absolute target.
func decodeOwner(owner, origin string, ttl uint32, cname bool, target string) (Record, bool) {
	if owner == origin {
		return Record{}, false // the apex carries SOA and NS, never policy
	}
	var rel string
	switch {
	case origin == ".":
		rel = strings.TrimSuffix(owner, ".")
	case strings.HasSuffix(owner, "."+origin):
		rel = owner[:len(owner)-len(origin)-1]
	default:
		return Record{Trigger: TriggerOutOfZone, Name: strings.TrimSuffix(owner, "."), TTL: ttl}, true
	}
	return decodeRel(rel, ttl, cname, target), true
}

// decodeRel makes the policy record of a record at rel, its owner relative
// to the zone origin in lower case.
func decodeRel(rel string, ttl uint32, cname bool, target string) Record {
	rec := Record{TTL: ttl}
	if t, ok := specialTrigger(rel); ok {
		rec.Trigger = t
		rec.Name = rel
		rec.Action = actionOf(cname, target, "")
		return rec
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
	rec.Action = actionOf(cname, target, self)
	if rec.Action == ActionCNAME || rec.Action == ActionWildcardCNAME {
		rec.Target = strings.TrimSuffix(strings.ToLower(target), ".")
	}
	return rec
}

// specialTrigger returns the trigger of a name under rpz-ip, rpz-nsip,
// rpz-client-ip or rpz-nsdname.
func specialTrigger(rel string) (Trigger, bool) {
	i := strings.LastIndexByte(rel, '.') + 1 // the last label
	if !strings.HasPrefix(rel[i:], "rpz-") {
		return 0, false
	}
	for _, t := range []Trigger{TriggerIP, TriggerNSIP, TriggerClientIP, TriggerNSDName} {
		if rel[i:] == t.String() {
			return t, true
		}
	}
	return 0, false
}

// actionOf decodes the action the way BIND's dns_rpz_decode_cname does.
// self is the trigger in query space, for the old "CNAME to itself" form of
// PASSTHRU.
func actionOf(cname bool, target, self string) Action {
	if !cname {
		return ActionLocalData
	}
	t := strings.ToLower(target)
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
	case self != "" && len(t) == len(self)+1 && t[len(self)] == '.' && t[:len(self)] == self:
		return ActionPassthru
	case strings.HasPrefix(t, "*."):
		return ActionWildcardCNAME
	default:
		return ActionCNAME
	}
}

var parseErrLine = regexp.MustCompile(`^(?:.*?: )?dns: (.*) at line: (\d+):\d+$`)

// parseError reformats a miekg/dns parse error as "file:line: what". The
// line is the parser's, or fallbackLine when it has none or keep is set;
// off is added, for text that did not start at the file's first line.
func parseError(file string, err error, fallbackLine, off int, keep bool) error {
	var pe *dns.ParseError
	msg, line := err.Error(), fallbackLine
	if errors.As(err, &pe) {
		if m := parseErrLine.FindStringSubmatch(pe.Error()); m != nil {
			msg = m[1]
			if l, convErr := strconv.Atoi(m[2]); convErr == nil && l > 0 && !keep {
				line = l // 0 when the parser lost track, as in some $GENERATE errors
			}
		}
	}
	return fmt.Errorf("%s:%d: %s", file, line+off, msg)
}
