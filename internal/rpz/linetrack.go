package rpz

import "io"

// lineTracker sits between the zone parser and the input and remembers the
// line on which the most recent logical zone-file line began. miekg/dns does
// not report line numbers for records it parsed, but it reads through an
// io.ByteReader one byte at a time and stops at the newline that ends a
// record, so when it hands back a record, start is that record's first line.
//
// It follows the master-file lexical rules that matter for this: ";" starts
// a comment, parentheses continue a record over several lines, quotes hide
// both, and a backslash escapes the next character.
type lineTracker struct {
	r      io.ByteReader
	line   int // current physical line
	start  int // first line of the current logical line
	depth  int // open parentheses
	quote  bool
	escape bool
	commt  bool
	atBOL  bool // nothing significant seen yet on this logical line
}

func newLineTracker(r io.ByteReader) *lineTracker {
	return &lineTracker{r: r, line: 1, start: 1, atBOL: true}
}

func (t *lineTracker) ReadByte() (byte, error) {
	c, err := t.r.ReadByte()
	if err != nil {
		return c, err
	}
	if c == '\n' {
		t.line++
		t.commt = false
		if t.depth == 0 && !t.quote {
			t.atBOL = true
		}
		return c, nil
	}
	if t.commt {
		return c, nil
	}
	if t.atBOL && c != ' ' && c != '\t' && c != '\r' && c != ';' {
		t.atBOL = false
		t.start = t.line
	}
	switch {
	case t.escape:
		t.escape = false
	case c == '\\':
		t.escape = true
	case c == '"':
		t.quote = !t.quote
	case t.quote:
	case c == ';':
		t.commt = true
	case c == '(':
		t.depth++
	case c == ')':
		if t.depth > 0 {
			t.depth--
		}
	}
	return c, nil
}

// Read satisfies io.Reader; the zone parser uses ReadByte, but Read keeps
// the count right for any other reader too.
func (t *lineTracker) Read(p []byte) (int, error) {
	for i := range p {
		c, err := t.ReadByte()
		if err != nil {
			return i, err
		}
		p[i] = c
	}
	return len(p), nil
}
