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
	// head holds the first bytes of the current logical line, to tell a
	// $GENERATE directive.
	head  [len("$GENERATE") + 1]byte
	headN int
}

// inGenerate reports whether the current logical line is a $GENERATE
// directive. Errors in the records it generates carry line numbers of the
// generated text, so the directive's line is reported instead.
func (t *lineTracker) inGenerate() bool {
	const dir = "$GENERATE"
	if t.headN < len(dir) || t.headN > len(dir) && !isBlankOrSpecial(t.head[len(dir)]) {
		return false
	}
	return t.head[0] == '$' && equalFold(t.head[1:len(dir)], dir[1:])
}

func isBlankOrSpecial(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' || c == '(' || c == ')' || c == '"'
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
		t.escape = false // as in the lexer: a backslash does not continue a line
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
		t.headN = 0
	}
	if !t.atBOL && t.headN < len(t.head) {
		t.head[t.headN] = c
		t.headN++
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
