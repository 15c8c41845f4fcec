package rpz

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// result is everything a read gives back.
type result struct {
	recs []Record
	n    int
	err  string
}

func readWith(read func(io.Reader, ZoneOptions, func(Record) error) (int, error), r io.Reader, opt ZoneOptions, stopAt int) result {
	var res result
	n, err := read(r, opt, func(rec Record) error {
		if len(res.recs) == stopAt {
			return errStop
		}
		res.recs = append(res.recs, rec)
		return nil
	})
	res.n = n
	if err != nil {
		res.err = err.Error()
	}
	return res
}

var errStop = errors.New("stop")

// compareReaders fails when ReadZone and the full parser alone disagree on
// text in any way: records (with lines and TTLs), count or error.
func compareReaders(t *testing.T, text string, opt ZoneOptions) {
	t.Helper()
	compareReadersOn(t, text, func() io.Reader { return strings.NewReader(text) }, opt, -1)
}

func compareReadersOn(t *testing.T, text string, open func() io.Reader, opt ZoneOptions, stopAt int) {
	t.Helper()
	fast := readWith(ReadZone, open(), opt, stopAt)
	full := readWith(readZoneFull, open(), opt, stopAt)
	if reflect.DeepEqual(fast, full) {
		return
	}
	t.Errorf("zone %q (origin %q):\nfast path: n=%d err=%q\nfull:      n=%d err=%q", text, opt.Origin, fast.n, fast.err, full.n, full.err)
	for i := range max(len(fast.recs), len(full.recs)) {
		var a, b Record
		if i < len(fast.recs) {
			a = fast.recs[i]
		}
		if i < len(full.recs) {
			b = full.recs[i]
		}
		if a != b {
			t.Errorf("record %d:\nfast path: %+v\nfull:      %+v", i, a, b)
		}
	}
}

// edgeZones are lines and zones at the edges of what the fast path takes.
var edgeZones = []string{
	"a CNAME .\n",
	"a 300 CNAME .\nb IN CNAME *.\nc 60 IN CNAME rpz-passthru.\nd IN 60 CNAME rpz-drop.\ne in cname rpz-tcp-only.\n",
	"a 1h30m CNAME .\nb 2W CNAME .\nc 4294967295 CNAME .\nd 4294967296 CNAME .\ne 99999999999 CNAME .\nf 1x CNAME .\n",
	"a CNAME .\nb 60 CNAME .\nc CNAME .\n$TTL 120\nd 30 CNAME .\ne CNAME .\n",
	"A.B CNAME Garden.Example.\nUPPER.example.rpz.example. CNAME RPZ-PASSTHRU.\n",
	"* CNAME .\n*.a CNAME .\na*b CNAME .\n*. CNAME .\n. CNAME .\n",
	"rel CNAME garden\nself CNAME self.rpz.example.\n*.w CNAME *.w.rpz.example.\n",
	"abs.rpz.example. CNAME .\nother.example. CNAME .\nrpz.example. CNAME .\n",
	"a CNAME . ; comment\nb CNAME .;comment\nc\tCNAME\t.\t\nd CNAME .\r\ne  IN  60  CNAME  .  \r\n",
	"; only comments\n\n   \n\t; indented\nx CNAME .\n",
	"a CNAME .\n  CNAME rpz-passthru.\n\t60 CNAME .\nb CNAME .\n  IN CNAME .\n",
	"a CNAME .\n  ; comment after\n  CNAME .\n",
	"$ORIGIN sub.rpz.example.\na CNAME .\n$ORIGIN other.\nb CNAME .\n$ORIGIN rpz.example.\nc CNAME x\n",
	"$ORIGIN SUB\nA CNAME .\n@ CNAME .\n",
	"$TTL 1h\na CNAME .\n$ttl 60 ; comment\nb CNAME .\n$TTL\t30\nc CNAME .\n",
	"$TTL 60 70\na CNAME .\n",
	"$TTL x\na CNAME .\n",
	"$GENERATE 1-3 host$ CNAME .\na CNAME .\n",
	"$INCLUDE /etc/passwd\na CNAME .\n",
	"$FOO CNAME .\na CNAME .\n",
	"@ SOA ns hostmaster ( 1 3600\n 600 86400 60 )\n  NS ns\nns A 127.0.0.1\na CNAME .\n",
	"txt TXT \"a ; b (\"\na CNAME .\nq TXT \"multi\nline\"\nb CNAME .\n",
	"a\\.b CNAME .\nc CNAME x\\.y.\nd\\065 CNAME .\ne CNAME .\n",
	"a CNAME .\nb CNAME\nc CNAME .\n",
	"a CNAME . x\nb CNAME .\n",
	"a IN IN CNAME .\nb CNAME .\n",
	"a 60 60 CNAME .\n",
	"a CNAME .\nb ) CNAME .\nc CNAME .\n",
	"a CNAME .\nb ( CNAME .\n",
	"a CNAME .\n( b CNAME . )\nc CNAME .\n",
	"a..b CNAME .\n.a CNAME .\na CNAME b..c\n",
	"a CNAME .\nb A 192.0.2.1\nb AAAA ::1\nc CNAME .\n",
	"a CNAME .\\\nb CNAME .\n",
	"a CNAME .\nb CNAME x \\\n\"\nc CNAME .\n",
	"a CLASS1 CNAME .\nb TYPE5 .\nc CH CNAME .\nd HS 60 CNAME .\n",
	"32.1.0.0.127.rpz-ip CNAME .\nns.evil.rpz-nsdname CNAME .\nx.rpz-client-ip CNAME rpz-drop.\n",
	"a RRSIG CNAME 8 2 300 20300101000000 20000101000000 1 rpz.example. AAAA\nb CNAME .\n",
	"\xef\xbb\xbfa CNAME .\nb CNAME .\n",
	"a CNAME .\nb\x00 CNAME .\nc CNAME é.\n",
	"no newline at the end CNAME .",
	"a CNAME .\nb CNAME",
	"a CNAME .\n\"q\" CNAME .\n",
	"a CNAME .\nb CNAME .\n)\n",
	"a CNAME .\n(\n",
	"a 60 CNAME .\n  CNAME x.\n$TTL 10\n  CNAME y.\nb CNAME .\n",
	"a CNAME .\r\nb CNAME .\r\n\r\n\r\nc A 10.0.0.1\r\nd CNAME .\r\n",
	"a\rb CNAME .\n",
}

// longNames are owners around the limits: 63-octet labels, and names of
// 253 to 256 characters once absolute.
func longNames() []string {
	l63 := strings.Repeat("a", 63)
	var out []string
	for _, total := range []int{250, 252, 253, 254, 255, 256, 300} {
		rest := total - len(".rpz.example.")
		var labels []string
		for rest > 0 {
			l := min(63, rest)
			if rest-l == 1 {
				l-- // no empty label at the end
			}
			labels = append(labels, strings.Repeat("b", l))
			rest -= l + 1
		}
		out = append(out, strings.Join(labels, "."))
	}
	return append(out, l63, l63+"a", l63+"."+l63, "*."+l63)
}

func TestFastPathEdgeCases(t *testing.T) {
	opt := ZoneOptions{File: "z", Origin: "rpz.example"}
	for _, z := range edgeZones {
		compareReaders(t, z, opt)
		compareReaders(t, "$TTL 300\n"+z, opt)
		compareReaders(t, "$ORIGIN rpz.example.\n"+z, ZoneOptions{File: "z"})
	}
	for _, n := range longNames() {
		for _, line := range []string{n + " CNAME .", "x CNAME " + n, n + ". CNAME .", "x CNAME " + n + ".", "$ORIGIN " + n + "\nx CNAME ."} {
			compareReaders(t, "a CNAME .\n"+line+"\nb CNAME .\n", opt)
		}
	}
	for _, origin := range []string{".", "RPZ.Example", "a;b", "x\\.y", "ex ample"} {
		compareReaders(t, "a CNAME .\nb.RPZ.example. CNAME .\n  CNAME rpz-passthru.\nc 60 CNAME d\n", ZoneOptions{File: "z", Origin: origin})
	}
}

func TestFastPathTestdata(t *testing.T) {
	text, err := os.ReadFile("testdata/actions.zone")
	if err != nil {
		t.Fatal(err)
	}
	compareReaders(t, string(text), ZoneOptions{File: "actions.zone"})
}

// TestFastPathReadErrorsAndStops breaks the input off at every byte and
// stops the callback at every record: both paths must agree on where.
func TestFastPathReadErrorsAndStops(t *testing.T) {
	text := "$TTL 300\na CNAME .\nb TXT ( \"x\"\n \"y\" )\nc CNAME .\n  CNAME rpz-passthru.\nd CNAME .\n"
	opt := ZoneOptions{File: "z", Origin: "rpz.example"}
	broken := errors.New("connection reset")
	for i := range len(text) {
		compareReadersOn(t, text, func() io.Reader {
			return io.MultiReader(strings.NewReader(text[:i]), iotest.ErrReader(broken))
		}, opt, -1)
	}
	for stop := range 6 {
		compareReadersOn(t, text, func() io.Reader { return strings.NewReader(text) }, opt, stop)
	}
	compareReadersOn(t, text, func() io.Reader { return iotest.OneByteReader(strings.NewReader(text)) }, opt, -1)
}

// TestFastPathGeneratedZones compares both paths on random zones mixing
// feed lines with everything else a zone file may hold.
func TestFastPathGeneratedZones(t *testing.T) {
	for seed := range uint64(2000) {
		rng := rand.New(rand.NewPCG(seed, 7))
		text := randomZone(rng, 5+rng.IntN(40))
		compareReaders(t, text, ZoneOptions{File: "g", Origin: "rpz.example"})
		if t.Failed() {
			t.Fatalf("seed %d", seed)
		}
	}
}

// TestFastPathTakesFeedLines checks that feed lines do take the fast path.
func TestFastPathTakesFeedLines(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	var sb strings.Builder
	sb.WriteString("$TTL 300\n$ORIGIN rpz.example.\n@ SOA ns hostmaster ( 1 3600 600 86400 60 )\n@ NS ns.invalid.\n")
	for range 1000 {
		sb.WriteString(fastRecordLine(rng) + "\n")
	}
	zr, err := newZoneReader(strings.NewReader(sb.String()), ZoneOptions{File: "f"}, func(Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if err := zr.run(); err != nil {
		t.Fatal(err)
	}
	if zr.n != 1000 || zr.segments != 1 {
		t.Errorf("%d records, %d segments for the full parser; want 1000 and 1 (the SOA and NS)", zr.n, zr.segments)
	}
}

func randomLabel(rng *rand.Rand) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABC0123456789-_"
	b := make([]byte, 1+rng.IntN(8))
	for i := range b {
		b[i] = letters[rng.IntN(len(letters))]
	}
	return string(b)
}

func randomOwner(rng *rand.Rand) string {
	n := randomLabel(rng)
	for range rng.IntN(3) {
		n += "." + randomLabel(rng)
	}
	switch rng.IntN(8) {
	case 0:
		n = "*." + n
	case 1:
		n += ".rpz.example."
	case 2:
		n += ".Other.Example."
	case 3:
		n = strings.ToUpper(n)
	}
	return n
}

func randomTarget(rng *rand.Rand, owner string) string {
	if !strings.HasSuffix(owner, ".") {
		owner += ".rpz.example."
	}
	return []string{".", "*.", "rpz-passthru.", "rpz-drop.", "rpz-tcp-only.", "RPZ-PASSTHRU.", "garden.example.", "Garden", "*.garden.example.", owner, "rpz-passthru"}[rng.IntN(11)]
}

// fastRecordLine is a line of the form feeds use.
func fastRecordLine(rng *rand.Rand) string {
	owner := randomOwner(rng)
	mid := []string{"", " 60", " IN", " 300 IN", " in 1h", " 2d", " IN 0"}[rng.IntN(7)]
	typ := []string{"CNAME", "cname", "CName"}[rng.IntN(3)]
	sep := []string{" ", "\t", "  "}[rng.IntN(3)]
	tail := []string{"", " ", " ; comment", ";c", "\r", " \t"}[rng.IntN(6)]
	return owner + mid + sep + typ + sep + randomTarget(rng, owner) + tail
}

// otherLine is anything else: directives, multi-line records, other types,
// owner-less lines, escapes, comments and a few errors.
func otherLine(rng *rand.Rand) string {
	owner := randomOwner(rng)
	switch rng.IntN(16) {
	case 0:
		return fmt.Sprintf("$TTL %d", rng.IntN(1000))
	case 1:
		return []string{"$TTL 1h", "$ttl 2m30s ; c", "$TTL 5 ; x"}[rng.IntN(3)]
	case 2:
		return []string{"$ORIGIN rpz.example.", "$ORIGIN sub.rpz.example.", "$ORIGIN sub", "$ORIGIN Other.Example.", "$origin RPZ.EXAMPLE."}[rng.IntN(5)]
	case 3:
		return "@ SOA ns hostmaster ( 1 3600 ; refresh\n  600 86400\n  60 )"
	case 4:
		return owner + " A 192.0.2.1"
	case 5:
		return owner + " TXT \"a ; b\" \"(c\""
	case 6:
		return []string{"  CNAME .", "\t60 CNAME rpz-passthru.", "  IN AAAA ::1", " ; indented comment"}[rng.IntN(4)]
	case 7:
		return "; " + owner
	case 8:
		return ""
	case 9:
		return owner + " ( CNAME\n  " + randomTarget(rng, owner) + " )"
	case 10:
		return "esc\\." + owner + " CNAME ."
	case 11:
		return owner + " 1W2D CNAME ."
	case 12:
		return "$GENERATE 1-2 g$ CNAME ."
	case 13:
		if rng.IntN(4) == 0 {
			return owner + " CNAME" // an error: no target
		}
		return owner + " TXT \"two\nlines\""
	case 14:
		return owner + " CNAME . )" // an error: extra closing brace
	default:
		return "@ NS ns.invalid."
	}
}

func randomZone(rng *rand.Rand, lines int) string {
	var sb strings.Builder
	if rng.IntN(2) == 0 {
		sb.WriteString("$TTL 300\n")
	}
	for range lines {
		if rng.IntN(3) == 0 {
			sb.WriteString(otherLine(rng))
		} else {
			sb.WriteString(fastRecordLine(rng))
		}
		sb.WriteString([]string{"\n", "\n", "\n", "\r\n"}[rng.IntN(4)])
	}
	return sb.String()
}

// FuzzFastPath compares ReadZone with the full parser alone on any input.
func FuzzFastPath(f *testing.F) {
	for _, z := range edgeZones {
		f.Add(z, false)
	}
	seed, _ := os.ReadFile("testdata/actions.zone")
	f.Add(string(seed), true)
	rng := rand.New(rand.NewPCG(3, 3))
	for range 20 {
		f.Add(randomZone(rng, 10), rng.IntN(2) == 0)
	}
	f.Fuzz(func(t *testing.T, text string, sniff bool) {
		opt := ZoneOptions{File: "fuzz", Origin: "rpz.example"}
		if sniff {
			opt.Origin = "" // from the text's $ORIGIN, when it has one
		}
		compareReaders(t, text, opt)
	})
}
