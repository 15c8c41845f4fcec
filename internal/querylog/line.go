package querylog

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"time"
	"unicode/utf8"
)

// Record is one Route 53 Resolver query log line, as far as rpzfw reads
// it. Its byte fields point into the line (or the parser's scratch space
// for escaped strings) and are valid until the next Parse.
type Record struct {
	// Unix is query_timestamp in seconds; Nanos its fraction.
	Unix  int64
	Nanos int64

	AccountID, Region, VPCID []byte
	QueryName, QueryType     []byte
	Rcode, SrcAddr           []byte
	// SrcID is srcids.instance, or srcids.resolver_endpoint for a query
	// through a Resolver endpoint (empty when srcids is {}).
	SrcID []byte
	// Firewall fields: present only on ALERT and BLOCK matches.
	RuleGroupID, Action, ListID []byte
}

// Time is the query's time in UTC.
func (r *Record) Time() time.Time { return time.Unix(r.Unix, r.Nanos).UTC() }

// Line parse errors. A bad line is counted and skipped; it never fails
// its object.
var (
	errNotObject   = errors.New("not a JSON object")
	errSyntax      = errors.New("malformed JSON")
	errNoName      = errors.New("no query_name")
	errBadTime     = errors.New("query_timestamp is missing or not a time")
	errDepth       = errors.New("nested too deep")
	errTrailing    = errors.New("text after the object")
	errBadEncoding = errors.New("not UTF-8")
)

// LineParser parses query log lines fast and leniently: it reads the
// fields rpzfw uses, skips every other one whatever its type (version
// "1.100000", srcport as a string or a number, answers, fields AWS may add),
// and never allocates for a line without escapes.
type LineParser struct {
	scratch []byte
}

// Parse reads line (without its newline) into r.
func (p *LineParser) Parse(line []byte, r *Record) error {
	*r = Record{}
	p.scratch = p.scratch[:0]
	s := scanner{b: line, p: p}
	s.space()
	if !s.eat('{') {
		return errNotObject
	}
	var ts []byte
	err := s.object(func(key []byte) error {
		var dst *[]byte
		switch string(key) {
		case "query_timestamp":
			dst = &ts
		case "query_name":
			dst = &r.QueryName
		case "query_type":
			dst = &r.QueryType
		case "rcode":
			dst = &r.Rcode
		case "srcaddr":
			dst = &r.SrcAddr
		case "vpc_id":
			dst = &r.VPCID
		case "account_id":
			dst = &r.AccountID
		case "region":
			dst = &r.Region
		case "firewall_rule_group_id":
			dst = &r.RuleGroupID
		case "firewall_rule_action":
			dst = &r.Action
		case "firewall_domain_list_id":
			dst = &r.ListID
		case "srcids":
			return s.srcIDs(r)
		default:
			return s.skip(0)
		}
		return s.stringOrSkip(dst)
	})
	if err != nil {
		return err
	}
	s.space()
	if s.i != len(s.b) {
		return errTrailing
	}
	if len(r.QueryName) == 0 {
		return errNoName
	}
	if !utf8.Valid(r.QueryName) || !utf8.Valid(r.SrcAddr) || !utf8.Valid(r.SrcID) {
		return errBadEncoding
	}
	r.Unix, r.Nanos, err = parseTimestamp(ts)
	return err
}

// scanner walks one line.
type scanner struct {
	b []byte
	i int
	p *LineParser
}

func (s *scanner) space() {
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return
	}
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) eat(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// object reads the members of an object whose '{' was read, calling
// member with each key; member must read the value.
func (s *scanner) object(member func(key []byte) error) error {
	if s.eat('}') {
		return nil
	}
	for {
		s.space()
		key, err := s.str()
		if err != nil {
			return err
		}
		if !s.eat(':') {
			return errSyntax
		}
		s.space()
		if err := member(key); err != nil {
			return err
		}
		if s.eat(',') {
			continue
		}
		if s.eat('}') {
			return nil
		}
		return errSyntax
	}
}

// srcIDs reads srcids: {} or with instance, or with resolver_endpoint and
// resolver_network_interface. A null or another type is skipped.
func (s *scanner) srcIDs(r *Record) error {
	if !s.eat('{') {
		return s.skip(0)
	}
	return s.object(func(key []byte) error {
		switch string(key) {
		case "instance", "resolver_endpoint":
			return s.stringOrSkip(&r.SrcID)
		}
		return s.skip(1)
	})
}

// stringOrSkip reads a string into dst; a value of another type (null, a
// number) is skipped and empties dst (the last of duplicate keys wins, as
// in encoding/json).
func (s *scanner) stringOrSkip(dst *[]byte) error {
	if s.i < len(s.b) && s.b[s.i] == '"' {
		v, err := s.str()
		*dst = v
		return err
	}
	*dst = nil
	return s.skip(0)
}

// str reads a string at s.i. Without escapes it is a slice of the line;
// with them it is decoded into the parser's scratch space.
func (s *scanner) str() ([]byte, error) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, errSyntax
	}
	start := s.i + 1
	j := special(s.b[start:])
	if j < 0 {
		return nil, errSyntax
	}
	switch s.b[start+j] {
	case '"':
		s.i = start + j + 1
		return s.b[start : start+j], nil
	case '\\':
		s.i = start + j
		return s.escaped(start)
	}
	return nil, errSyntax // a control character
}

// Masks of the word-at-a-time search.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special is the index of the first quote, backslash or control character
// in b (-1 when none is): a string's end, or where it needs more care.
// Strings are most of a line, so it looks at eight bytes a step; in each
// mask below, the lowest byte flagged is a true match (a borrow can only
// flag bytes above it).
func special(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q, bs := x^(ones*'"'), x^(ones*'\\')
		m := ((q - ones) &^ q) | ((bs - ones) &^ bs) | ((x - ones*0x20) &^ x)
		if m &= highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' || c < 0x20 {
			return i
		}
	}
	return -1
}

// escaped decodes a string with escapes that started at start.
func (s *scanner) escaped(start int) ([]byte, error) {
	from := len(s.p.scratch)
	s.p.scratch = append(s.p.scratch, s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.p.scratch[from:len(s.p.scratch):len(s.p.scratch)], nil
		case c < 0x20:
			return nil, errSyntax
		case c != '\\':
			s.p.scratch = append(s.p.scratch, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			return nil, errSyntax
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			s.p.scratch = append(s.p.scratch, e)
		case 'b':
			s.p.scratch = append(s.p.scratch, '\b')
		case 'f':
			s.p.scratch = append(s.p.scratch, '\f')
		case 'n':
			s.p.scratch = append(s.p.scratch, '\n')
		case 'r':
			s.p.scratch = append(s.p.scratch, '\r')
		case 't':
			s.p.scratch = append(s.p.scratch, '\t')
		case 'u':
			r, ok := s.unicode()
			if !ok {
				return nil, errSyntax
			}
			s.p.scratch = utf8.AppendRune(s.p.scratch, r)
		default:
			return nil, errSyntax
		}
	}
	return nil, errSyntax
}

// unicode reads the hex of a \u escape (and of its low surrogate).
func (s *scanner) unicode() (rune, bool) {
	r, ok := s.hex4()
	if !ok {
		return 0, false
	}
	if r >= 0xd800 && r < 0xdc00 && s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
		save := s.i
		s.i += 2
		if lo, ok := s.hex4(); ok && lo >= 0xdc00 && lo < 0xe000 {
			return (r-0xd800)<<10 + (lo - 0xdc00) + 0x10000, true
		}
		s.i = save
	}
	if r >= 0xd800 && r < 0xe000 {
		return utf8.RuneError, true
	}
	return r, true
}

func (s *scanner) hex4() (rune, bool) {
	if s.i+4 > len(s.b) {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	s.i += 4
	return r, true
}

// maxDepth bounds nesting in skipped values.
const maxDepth = 32

// skip passes over one value of any type.
func (s *scanner) skip(depth int) error {
	if depth > maxDepth {
		return errDepth
	}
	s.space()
	if s.i >= len(s.b) {
		return errSyntax
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, err := s.str()
		return err
	case c == '{':
		s.i++
		return s.object(func([]byte) error { return s.skip(depth + 1) })
	case c == '[':
		s.i++
		if s.eat(']') {
			return nil
		}
		for {
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			if s.eat(',') {
				continue
			}
			if s.eat(']') {
				return nil
			}
			return errSyntax
		}
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range []string{"true", "false", "null"} {
			if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
				s.i += len(lit)
				return nil
			}
		}
		return errSyntax
	default:
		return s.number()
	}
}

// number passes over a JSON number: -?int(.digits)?([eE][+-]?digits)?
func (s *scanner) number() error {
	digits := func() int {
		start := s.i
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
		}
		return s.i - start
	}
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	if s.i < len(s.b) && s.b[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		return errSyntax
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return errSyntax
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return errSyntax
		}
	}
	return nil
}

// parseTimestamp reads query_timestamp: RFC 3339 in UTC as AWS writes it
// (2021-02-04T17:51:55Z) on a fast path, anything time.RFC3339Nano takes
// otherwise.
func parseTimestamp(b []byte) (int64, int64, error) {
	if len(b) == 20 && b[4] == '-' && b[7] == '-' && b[10] == 'T' && b[13] == ':' && b[16] == ':' && b[19] == 'Z' {
		n := func(i, w int) int {
			v := 0
			for _, c := range b[i : i+w] {
				if c < '0' || c > '9' {
					return -1
				}
				v = v*10 + int(c-'0')
			}
			return v
		}
		y, mo, d, h, mi, sec := n(0, 4), n(5, 2), n(8, 2), n(11, 2), n(14, 2), n(17, 2)
		if y >= 1970 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 && mi < 60 && sec < 60 && h >= 0 && mi >= 0 && sec >= 0 {
			t := time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC)
			if t.Day() == d {
				return t.Unix(), 0, nil
			}
		}
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil || t.Year() < 1970 || t.Year() > 9999 {
		return 0, 0, errBadTime
	}
	return t.Unix(), int64(t.Nanosecond()), nil
}
