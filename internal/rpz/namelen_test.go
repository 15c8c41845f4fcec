package rpz

import (
	"strings"
	"testing"
)

// nameOfWire builds a relative name under origin "rpz.example." (13 wire
// octets with the root) whose absolute wire form is wire octets long.
func nameOfWire(wire int, label string) string {
	rest := wire - 13
	var labels []string
	for rest > 0 {
		l := min(63, rest-1)
		labels = append(labels, strings.Repeat(label, l))
		rest -= l + 1
	}
	return strings.Join(labels, ".")
}

// Names over 255 octets are refused as BIND refuses them ("ran out of
// space"), naming the file and line; 255 octets are fine. The limits were
// checked with named-checkzone.
func TestNameLength(t *testing.T) {
	long255, long256 := nameOfWire(255, "a"), nameOfWire(256, "a")
	// An escaped character is one octet: "\." and "\097" count as one.
	esc := strings.Replace(long255, "aaa", `a\.a`, 1)
	escDDD := strings.Replace(long255, "aaa", `a\097`, 1)
	tests := []struct {
		line    string
		wantErr string
	}{
		{long255 + " CNAME .", ""},
		{long256 + " CNAME .", "t:3: owner name aaaaaaaaaaaaaaaaaaaa...aaaa.rpz.example. is 256 octets long, more than 255"},
		{"*." + nameOfWire(253, "b") + " CNAME .", ""},
		{"*." + nameOfWire(254, "b") + " CNAME .", "is 256 octets long"},
		{esc + " CNAME .", ""},
		{escDDD + " CNAME .", ""},
		{long256 + " A 192.0.2.1", "owner name"},
		{"ok.example CNAME " + long255 + ".rpz.example.", ""},
		{"ok.example CNAME " + long256 + ".rpz.example.", "t:3: CNAME target"},
		{"ok.example CNAME " + long256, "t:3: CNAME target"}, // relative: the origin makes it too long
	}
	for _, tc := range tests {
		_, err := readAll(t, "$TTL 300\nfirst.example CNAME .\n"+tc.line+"\n", ZoneOptions{File: "t", Origin: "rpz.example"})
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%.40s...: %v", tc.line, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%.40s...: err %v, want %q", tc.line, err, tc.wantErr)
		}
	}
}

func TestWireLen(t *testing.T) {
	for name, want := range map[string]int{".": 1, "a.": 3, "a.b.": 5, `a\.b.`: 5, `a\097.`: 4, "ab.cd.": 7} {
		if got := wireLen(name); got != want {
			t.Errorf("wireLen(%q) = %d, want %d", name, got, want)
		}
	}
}
