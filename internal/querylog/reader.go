package querylog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// MaxLine is the longest line read; a longer one is a bad line (a real
// record is well under a kilobyte, even with many answers).
const MaxLine = 64 << 10

// LineReader streams the lines of a query log object, gunzipping it when
// it starts with gzip's magic bytes (every member of a multi-member gzip),
// reading it as it is otherwise. Memory stays bounded by MaxLine whatever
// the object's size.
type LineReader struct {
	br   *bufio.Reader
	zr   *gzip.Reader
	line int
	// long says the line being read is longer than the buffer.
	long bool
}

var gzipMagic = []byte{0x1f, 0x8b}

// NewLineReader starts reading r.
func NewLineReader(r io.Reader) (*LineReader, error) {
	raw := bufio.NewReaderSize(r, 64<<10)
	head, err := raw.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading the object: %w", err)
	}
	lr := &LineReader{br: raw}
	if bytes.Equal(head, gzipMagic) {
		zr, err := gzip.NewReader(raw)
		if err != nil {
			return nil, fmt.Errorf("the object starts as gzip but is not: %w", err)
		}
		zr.Multistream(true)
		lr.zr = zr
		lr.br = bufio.NewReaderSize(zr, 256<<10)
	}
	return lr, nil
}

// Next returns the next line without its newline, and its number (from
// 1). tooLong says the line was longer than MaxLine (its content is not
// returned). At the end it returns io.EOF; a damaged gzip stream returns
// its error.
func (l *LineReader) Next() (line []byte, n int, tooLong bool, err error) {
	for {
		b, err := l.br.ReadSlice('\n')
		switch {
		case err == nil:
			l.line++
			if l.long || len(b) > MaxLine+1 {
				l.long = false
				return nil, l.line, true, nil
			}
			return trimEOL(b), l.line, false, nil
		case errors.Is(err, bufio.ErrBufferFull):
			// Longer than the buffer: remember that, drop the content.
			l.long = true
			continue
		case errors.Is(err, io.EOF):
			if len(b) == 0 && !l.long {
				return nil, l.line, false, io.EOF
			}
			l.line++
			if l.long || len(b) > MaxLine {
				l.long = false
				return nil, l.line, true, nil
			}
			return trimEOL(b), l.line, false, nil
		default:
			return nil, l.line, false, fmt.Errorf("reading line %d: %w", l.line+1, err)
		}
	}
}

// Close releases the gzip reader.
func (l *LineReader) Close() error {
	if l.zr != nil {
		return l.zr.Close()
	}
	return nil
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte{'\n'})
	return bytes.TrimSuffix(b, []byte{'\r'})
}
