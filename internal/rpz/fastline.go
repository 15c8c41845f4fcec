package rpz

import (
	"strings"

	"github.com/miekg/dns"
)

// The fast path recognises the lines feeds are made of and nothing else:
//
//	owner [ttl] [class] CNAME target [; comment]
//
// (ttl and class in either order, class IN), blank and comment lines, and
// "$TTL ttl" and "$ORIGIN name" directives. Names hold only letters, digits,
// '-', '_', '*' and '.' (no escapes, quotes, parentheses, "@"), and fit in
// 254 characters once made absolute, so neither the full parser nor the
// name length check could refuse them. Any other line returns ok=false and
// goes to the full parser; the rules below follow miekg/dns's lexer and
// grammar (scan.go) so that both read every line they share alike.

// fastLine is one record line the fast path understood.
type fastLine struct {
	owner, target []byte // as written: relative, or absolute with a trailing dot
	ttl           uint32
	hasTTL        bool
}

// nameByte reports whether c may appear in a name on the fast path.
func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '*' || c == '.'
}

// lineBody strips the newline, a comment and trailing blanks (the lexer
// drops '\r' outside quotes), and reports whether what is left holds only
// name bytes and blanks, the precondition of every fast form.
func lineBody(line []byte) ([]byte, bool) {
	for i, c := range line {
		if c == ';' || c == '\n' {
			line = line[:i]
			break
		}
	}
	for len(line) > 0 && (line[len(line)-1] == ' ' || line[len(line)-1] == '\t' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1]
	}
	for _, c := range line {
		if !nameByte(c) && c != ' ' && c != '\t' {
			return line, false
		}
	}
	return line, true
}

// isBlankLine reports whether line holds nothing but blanks and a comment.
// Such a line changes nothing in the parser's state.
func isBlankLine(line []byte) bool {
	for _, c := range line {
		switch c {
		case ' ', '\t', '\r':
		case ';', '\n':
			return true
		default:
			return false
		}
	}
	return true
}

// fields splits body at runs of blanks into at most len(dst) fields; it
// returns nil when there are more.
func fields(body []byte, dst [][]byte) [][]byte {
	n := 0
	for i := 0; i < len(body); {
		if body[i] == ' ' || body[i] == '\t' {
			i++
			continue
		}
		j := i
		for j < len(body) && body[j] != ' ' && body[j] != '\t' {
			j++
		}
		if n == len(dst) {
			return nil
		}
		dst[n] = body[i:j]
		n++
		i = j
	}
	return dst[:n]
}

// parseFastLine parses a one-line CNAME record, the owner written at the
// start of the line. origin is the origin relative names are completed
// with, for the length limit.
func parseFastLine(line []byte, origin string) (fastLine, bool) {
	var fl fastLine
	if len(line) == 0 || !nameByte(line[0]) {
		return fl, false // a blank first: the owner is the previous one
	}
	body, ok := lineBody(line)
	if !ok {
		return fl, false
	}
	var buf [5][]byte
	f := fields(body, buf[:])
	if len(f) < 3 || !equalFold(f[len(f)-2], "CNAME") {
		return fl, false
	}
	hasClass := false
	for _, tok := range f[1 : len(f)-2] {
		switch {
		case equalFold(tok, "IN") && !hasClass:
			hasClass = true
		case !fl.hasTTL:
			if fl.ttl, ok = parseTTL(tok); !ok {
				return fl, false
			}
			fl.hasTTL = true
		default:
			return fl, false
		}
	}
	fl.owner, fl.target = f[0], f[len(f)-1]
	if !fastName(fl.owner, origin) || !fastName(fl.target, origin) {
		return fl, false
	}
	return fl, true
}

// parseTTL reads a TTL the way the full parser does ("300", "1h30m"),
// for tokens that start with a digit and are short enough that the sum
// cannot overflow; other tokens may be a type, a class or an error.
func parseTTL(tok []byte) (uint32, bool) {
	if len(tok) == 0 || len(tok) > 10 || tok[0] < '0' || tok[0] > '9' {
		return 0, false
	}
	var s, i uint64
	for _, c := range tok {
		switch c | 0x20 { // lower case for letters; digits keep their value
		case 's':
			s, i = s+i, 0
		case 'm':
			s, i = s+i*60, 0
		case 'h':
			s, i = s+i*3600, 0
		case 'd':
			s, i = s+i*86400, 0
		case 'w':
			s, i = s+i*604800, 0
		default:
			if c < '0' || c > '9' {
				return 0, false
			}
			i = i*10 + uint64(c-'0')
		}
	}
	if s+i > 1<<32-1 {
		return 0, false
	}
	return uint32(s + i), true
}

// fastName reports whether name (name bytes only) is a domain name the full
// parser accepts as it is, with labels of 1 to 63 characters, and at most
// 254 characters once completed with origin: such a name is never refused
// for its length.
func fastName(name []byte, origin string) bool {
	abs := len(name)
	if name[len(name)-1] != '.' {
		abs += 1 + len(origin)
		if origin == "." {
			abs--
		}
	}
	if abs > maxNameOctets-1 {
		return false
	}
	if len(name) == 1 && name[0] == '.' {
		return true
	}
	label := 0
	for _, c := range name {
		if c != '.' {
			label++
			continue
		}
		if label == 0 || label > 63 {
			return false
		}
		label = 0
	}
	return label <= 63
}

// fastDirective recognises "$TTL ttl" and "$ORIGIN name" with an argument
// the fast path understands. ok=false with isDir=true is any other line
// starting with '$': a directive the full parser must see ($INCLUDE,
// $GENERATE) or an error.
func fastDirective(line []byte, origin string) (ttl uint32, name []byte, isTTL, ok bool) {
	body, clean := lineBody(line[1:])
	if !clean {
		return 0, nil, false, false
	}
	var buf [2][]byte
	f := fields(body, buf[:])
	if len(f) != 2 || len(body) == 0 || body[0] == ' ' || body[0] == '\t' {
		return 0, nil, false, false
	}
	switch {
	case equalFold(f[0], "TTL"):
		ttl, ok = parseTTL(f[1])
		return ttl, nil, true, ok
	case equalFold(f[0], "ORIGIN"):
		return 0, f[1], false, fastName(f[1], origin) && !typeOrClass(f[1])
	}
	return 0, nil, false, false
}

// typeOrClass reports whether the lexer reads tok as a type or a class
// ("$ORIGIN A" is an error), not as a name.
func typeOrClass(tok []byte) bool {
	u := strings.ToUpper(string(tok))
	_, isType := dns.StringToType[u]
	_, isClass := dns.StringToClass[u]
	return isType || isClass || strings.HasPrefix(u, "TYPE") || strings.HasPrefix(u, "CLASS")
}

// equalFold compares an ASCII token with an upper-case word.
func equalFold(tok []byte, word string) bool {
	if len(tok) != len(word) {
		return false
	}
	for i, c := range tok {
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != word[i] {
			return false
		}
	}
	return true
}

// lexState follows the lexer across lines that go to the full parser, so
// that a record spread over several lines reaches it whole: a newline
// ends a record unless it is inside quotes or parentheses.
type lexState struct {
	depth          int
	quote, escape  bool
	comment, extra bool // extra: a ')' without '(' (the parser reports it)
}

// open reports whether the next line continues the current record.
func (s *lexState) open() bool { return (s.depth > 0 || s.quote) && !s.extra }

// scan advances the state over one line (with its newline, if any).
func (s *lexState) scan(line []byte) {
	for _, c := range line {
		if s.comment {
			if c == '\n' {
				s.comment = false
			}
			continue
		}
		switch c {
		case '\n', '\r':
			s.escape = false
		case '\\':
			s.escape = !s.escape
		case '"':
			if !s.escape {
				s.quote = !s.quote
			}
			s.escape = false
		case ';':
			if !s.escape && !s.quote {
				s.comment = true
			}
			s.escape = false
		case '(', ')':
			if !s.escape && !s.quote {
				if c == '(' {
					s.depth++
				} else if s.depth--; s.depth < 0 {
					s.extra = true
				}
			}
			s.escape = false
		default:
			s.escape = false
		}
	}
}
