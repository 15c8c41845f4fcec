package querylog

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"
)

func gz(parts ...string) []byte {
	var b bytes.Buffer
	for _, p := range parts { // one gzip member each
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(p))
		zw.Close()
	}
	return b.Bytes()
}

type readLine struct {
	text string
	n    int
	long bool
}

func readAll(t *testing.T, data []byte) ([]readLine, error) {
	t.Helper()
	lr, err := NewLineReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer lr.Close()
	var out []readLine
	for {
		line, n, long, err := lr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, readLine{string(line), n, long})
	}
}

func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", MaxLine+10)
	huge := strings.Repeat("y", 300<<10)
	want := []readLine{{"a", 1, false}, {"b", 2, false}, {"", 3, true}, {"c", 4, false}, {"", 5, true}, {"d", 6, false}}
	text := "a\r\nb\n" + long + "\nc\n" + huge + "\nd"
	for name, data := range map[string][]byte{
		"plain":                   []byte(text),
		"gzip":                    gz(text),
		"gzip of several members": gz("a\r\nb\n"+long[:100], long[100:]+"\nc\n", huge+"\nd"),
	} {
		got, err := readAll(t, data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d lines, want %d", name, len(got), len(want))
			continue
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: line %d: got %.20v, want %.20v", name, i, got[i], want[i])
			}
		}
	}
	if got, err := readAll(t, nil); err != nil || len(got) != 0 {
		t.Errorf("empty object: %v, %v", got, err)
	}
}

func TestLineReaderDamagedGzip(t *testing.T) {
	data := gz(strings.Repeat("line of a log\n", 10000))
	if _, err := readAll(t, data[:len(data)/2]); err == nil {
		t.Error("a truncated gzip object read without error")
	}
	bad := append([]byte{}, data...)
	bad[len(bad)-5] ^= 0xff // the CRC
	if _, err := readAll(t, bad); err == nil {
		t.Error("a gzip object with a wrong checksum read without error")
	}
	if _, err := readAll(t, []byte{0x1f, 0x8b, 0}); err == nil {
		t.Error("a gzip header cut short read without error")
	}
}
