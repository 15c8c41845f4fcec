package rpz

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// zoneReader reads a zone line by line: lines the fast path understands
// become records at once; runs of other lines (a segment) go to the full
// parser. The full parser keeps state across lines: the origin for relative
// names, the default TTL, and the owner of the previous record for lines
// that start with a blank. The fast path keeps the same state, hands it to
// every segment's parser, and takes it back from what that parser returned.
type zoneReader struct {
	file string
	zone string // zone origin, absolute and in lower case: records are classified against it
	br   *bufio.Reader
	fn   func(Record) error
	n    int // records passed to fn

	origin       string // completes relative names ($ORIGIN), as written
	originIsZone bool   // origin equals zone but for case
	defTTL       uint32
	ttlSet       bool   // by $TTL: then a record's own TTL no longer becomes the default
	prev         []byte // absolute owner of the previous record

	line    int      // physical lines read
	seg     []byte   // lines waiting for the full parser
	segLine int      // line number of seg's first line
	lex     lexState // at the end of seg
	long    []byte   // a line longer than br's buffer

	segments int // texts given to the full parser, for tests
}

// segMax bounds a segment: past it, the segment and the rest of the zone
// are streamed to the full parser instead of held.
const segMax = 1 << 20

func newZoneReader(r io.Reader, opt ZoneOptions, fn func(Record) error) (*zoneReader, error) {
	br := bufio.NewReaderSize(r, originScanLimit)
	zone, err := zoneOrigin(br, opt)
	if err != nil {
		return nil, err
	}
	return &zoneReader{file: opt.File, zone: zone, br: br, fn: fn, origin: zone, originIsZone: true, defTTL: defaultTTL}, nil
}

// run reads the whole zone.
func (zr *zoneReader) run() error {
	for _, c := range []byte(zr.zone) {
		if !nameByte(c) {
			// The origin goes into the text given to the full parser, which
			// would read special characters in it differently.
			return zr.parse(zr.br, 1)
		}
	}
	for {
		line, err := zr.readLine()
		if err != nil && err != io.EOF {
			zr.line++ // the line the input broke off in
			return zr.finish(line, errReader{err})
		}
		if len(line) > 0 {
			zr.line++
			if err := zr.step(line); err == errFinish {
				return zr.finish(line, zr.br)
			} else if err != nil {
				return err
			}
		}
		if err == io.EOF {
			return zr.flush(nil)
		}
	}
}

// errFinish says that the rest of the zone goes to the full parser.
var errFinish = fmt.Errorf("finish with the full parser")

// step handles one line. A segment goes to the full parser with the line
// after it (a fast line or a directive, which the full parser reads as the
// fast path would), since the parser looks at that line to finish a record
// without data: "x CNAME" followed by more lines is an error, at the end of
// the input an update.
func (zr *zoneReader) step(line []byte) error {
	switch {
	case len(zr.seg) > 0 && zr.lex.open():
		return zr.appendSeg(line) // the record goes on
	case line[0] == '$':
		ttl, name, isTTL, ok := fastDirective(line, zr.origin)
		if !ok {
			return errFinish // $INCLUDE, $GENERATE or an error
		}
		if err := zr.flush(line); err != nil {
			return err
		}
		if isTTL {
			zr.defTTL, zr.ttlSet = ttl, true
		} else {
			zr.origin = string(absName(nil, name, zr.origin))
			zr.originIsZone = strings.ToLower(zr.origin) == zr.zone
		}
		return nil
	case isBlankLine(line):
		if len(zr.seg) > 0 {
			return zr.appendSeg(line) // keeps the segment's lines in a row
		}
		return nil
	}
	fl, ok := parseFastLine(line, zr.origin)
	switch {
	case !ok:
		return zr.appendSeg(line)
	case len(zr.seg) > 0:
		return zr.flush(line)
	}
	return zr.emit(fl)
}

func (zr *zoneReader) appendSeg(line []byte) error {
	if len(zr.seg) == 0 {
		zr.segLine = zr.line
	}
	if len(zr.seg)+len(line) > segMax {
		return errFinish
	}
	zr.seg = append(zr.seg, line...)
	zr.lex.scan(line)
	return nil
}

// flush gives the pending segment and last, the line after it, to the
// full parser.
func (zr *zoneReader) flush(last []byte) error {
	if len(zr.seg) == 0 {
		return nil
	}
	zr.seg = append(zr.seg, last...)
	err := zr.parse(bytes.NewReader(zr.seg), zr.segLine)
	zr.seg, zr.lex = zr.seg[:0], lexState{}
	return err
}

// finish gives the pending segment, line and the rest of the input to the
// full parser.
func (zr *zoneReader) finish(line []byte, rest io.Reader) error {
	if len(zr.seg) == 0 {
		zr.segLine = zr.line
	}
	zr.seg = append(zr.seg, line...)
	return zr.parse(io.MultiReader(bytes.NewReader(zr.seg), rest), zr.segLine)
}

// errReader hands a read error to the full parser where the input broke
// off, so that it reports it as it would have reading the input itself.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// readLine returns the next line with its newline; it is valid until the
// next call.
func (zr *zoneReader) readLine() ([]byte, error) {
	line, err := zr.br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return line, err
	}
	zr.long = append(zr.long[:0], line...)
	for err == bufio.ErrBufferFull {
		line, err = zr.br.ReadSlice('\n')
		zr.long = append(zr.long, line...)
	}
	return zr.long, err
}

// emit passes on the record of a fast line.
func (zr *zoneReader) emit(fl fastLine) error {
	ttl := zr.defTTL
	if fl.hasTTL {
		ttl = fl.ttl
		if !zr.ttlSet {
			zr.defTTL = ttl
		}
	}
	zr.prev = absName(zr.prev[:0], fl.owner, zr.origin)
	target := targetName(fl.target, zr.origin)
	var rec Record
	if fl.owner[len(fl.owner)-1] != '.' && zr.originIsZone {
		rec = decodeRel(lowerString(fl.owner), ttl, true, target)
	} else if r, keep := decodeOwner(strings.ToLower(string(zr.prev)), zr.zone, ttl, true, target); keep {
		rec = r
	} else {
		return nil
	}
	rec.Line = zr.line
	if err := zr.fn(rec); err != nil {
		return err
	}
	zr.n++
	return nil
}

// absName appends name, completed with origin when relative, to dst.
func absName(dst, name []byte, origin string) []byte {
	dst = append(dst, name...)
	switch {
	case name[len(name)-1] == '.':
	case origin == ".":
		dst = append(dst, '.')
	default:
		dst = append(append(dst, '.'), origin...)
	}
	return dst
}

// targetName returns a fast line's CNAME target as an absolute name; the
// special targets of RPZ take no new string.
func targetName(t []byte, origin string) string {
	if t[len(t)-1] != '.' {
		return string(absName(make([]byte, 0, len(t)+1+len(origin)), t, origin))
	}
	switch string(t) {
	case targetNXDomain:
		return targetNXDomain
	case targetNoData:
		return targetNoData
	case targetPassthru:
		return targetPassthru
	case targetDrop:
		return targetDrop
	case targetTCPOnly:
		return targetTCPOnly
	}
	return string(t)
}

// lowerString returns b (ASCII) in lower case.
func lowerString(b []byte) string {
	for _, c := range b {
		if c >= 'A' && c <= 'Z' {
			return strings.ToLower(string(b))
		}
	}
	return string(b)
}

// parse reads text with the full parser, text starting at line first of
// the file, in the state the lines before it left, and keeps the state it
// leaves. The state goes in as text before the segment: "$TTL" when a
// directive set the default TTL, and a record at the previous owner (its
// record is not passed on), whose name the parser keeps for lines without
// an owner. Names the parser returned read back the same; names of the
// fast path hold no special characters.
func (zr *zoneReader) parse(text io.Reader, first int) error {
	zr.segments++
	var pre []byte
	skip := 0
	if zr.ttlSet {
		pre = append(strconv.AppendUint(append(pre, "$TTL "...), uint64(zr.defTTL), 10), '\n')
	}
	if len(zr.prev) > 0 {
		pre = append(append(pre, zr.prev...), " CNAME .\n"...)
		skip = 1
	}
	if len(pre) > 0 {
		text = io.MultiReader(bytes.NewReader(pre), text)
	}
	br, ok := text.(io.ByteReader)
	if !ok {
		br = bufio.NewReader(text)
	}
	lt := newLineTracker(br)
	zp := dns.NewZoneParser(lt, zr.origin, zr.file)
	zp.SetIncludeAllowed(false) // a feed must not read local files
	// BIND falls back to a default too (with a warning) when a zone has no
	// $TTL; the TTL only matters as a walled garden's override TTL.
	zp.SetDefaultTTL(zr.defTTL)
	off := first - 1 - bytes.Count(pre, []byte{'\n'})
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		h := rr.Header()
		zr.prev = append(zr.prev[:0], h.Name...)
		if !zr.ttlSet {
			zr.defTTL = h.Ttl // a TTL of its own or the default: the default from now on
		}
		if skip > 0 {
			skip--
			continue
		}
		if err := zr.record(rr, lt.start+off); err != nil {
			return err
		}
	}
	if err := zp.Err(); err != nil {
		if lt.inGenerate() {
			return parseError(zr.file, err, lt.start, off, true)
		}
		return parseError(zr.file, err, lt.line, off, false)
	}
	return nil
}

// record checks and passes on one record of the full parser.
func (zr *zoneReader) record(rr dns.RR, line int) error {
	if err := checkNameLengths(rr); err != nil {
		return fmt.Errorf("%s:%d: %v", zr.file, line, err)
	}
	rec, keep := classify(rr, zr.zone)
	if !keep {
		return nil
	}
	rec.Line = line
	if c, ok := rr.(*dns.CNAME); ok && c.Target == "" {
		// miekg/dns accepts empty rdata (update syntax); BIND does not,
		// and an empty target would read as a walled garden.
		return fmt.Errorf("%s:%d: CNAME without a target", zr.file, rec.Line)
	}
	if err := zr.fn(rec); err != nil {
		return err
	}
	zr.n++
	return nil
}
