package rpz

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func readAll(t *testing.T, text string, opt ZoneOptions) ([]Record, error) {
	t.Helper()
	var recs []Record
	_, err := ReadZone(strings.NewReader(text), opt, func(r Record) error {
		recs = append(recs, r)
		return nil
	})
	return recs, err
}

// TestActions covers every row of the RPZ action decoding.
func TestActions(t *testing.T) {
	tests := []struct {
		line     string
		trigger  Trigger
		name     string
		wildcard bool
		action   Action
		target   string
		ttl      uint32
	}{
		{"evil.com CNAME .", TriggerQName, "evil.com", false, ActionNXDomain, "", 300},
		{"*.evil.com CNAME .", TriggerQName, "evil.com", true, ActionNXDomain, "", 300},
		{"* CNAME .", TriggerQName, "", true, ActionNXDomain, "", 300},
		{"nd.com CNAME *.", TriggerQName, "nd.com", false, ActionNoData, "", 300},
		{"ok.com CNAME rpz-passthru.", TriggerQName, "ok.com", false, ActionPassthru, "", 300},
		{"self.com CNAME self.com.", TriggerQName, "self.com", false, ActionPassthru, "", 300},
		{"*.wself.com CNAME *.wself.com.", TriggerQName, "wself.com", true, ActionWildcardCNAME, "*.wself.com", 300},
		{"drop.com CNAME rpz-drop.", TriggerQName, "drop.com", false, ActionDrop, "", 300},
		{"tcp.com CNAME rpz-tcp-only.", TriggerQName, "tcp.com", false, ActionTCPOnly, "", 300},
		{"g.com 60 CNAME Garden.Example.", TriggerQName, "g.com", false, ActionCNAME, "garden.example", 60},
		{"rel.com CNAME garden", TriggerQName, "rel.com", false, ActionCNAME, "garden.rpz.example", 300},
		{"pt.com CNAME rpz-passthru", TriggerQName, "pt.com", false, ActionCNAME, "rpz-passthru.rpz.example", 300}, // relative: not the keyword
		{"wc.com CNAME *.garden.example.", TriggerQName, "wc.com", false, ActionWildcardCNAME, "*.garden.example", 300},
		{"a.com A 192.0.2.1", TriggerQName, "a.com", false, ActionLocalData, "", 300},
		{"t.com TXT \"hello\"", TriggerQName, "t.com", false, ActionLocalData, "", 300},
		{"UPPER.Com CNAME .", TriggerQName, "upper.com", false, ActionNXDomain, "", 300},
		{"32.1.0.0.127.rpz-ip CNAME .", TriggerIP, "32.1.0.0.127.rpz-ip", false, ActionNXDomain, "", 300},
		{"32.1.0.0.127.rpz-nsip CNAME .", TriggerNSIP, "32.1.0.0.127.rpz-nsip", false, ActionNXDomain, "", 300},
		{"32.1.0.0.127.rpz-client-ip CNAME rpz-drop.", TriggerClientIP, "32.1.0.0.127.rpz-client-ip", false, ActionDrop, "", 300},
		{"ns.evil.rpz-nsdname CNAME .", TriggerNSDName, "ns.evil.rpz-nsdname", false, ActionNXDomain, "", 300},
		{"other.example. CNAME .", TriggerOutOfZone, "other.example", false, 0, "", 300},
	}
	for _, tc := range tests {
		recs, err := readAll(t, "$TTL 300\n"+tc.line+"\n", ZoneOptions{File: "t", Origin: "rpz.example"})
		if err != nil || len(recs) != 1 {
			t.Errorf("%s: %v, %d records", tc.line, err, len(recs))
			continue
		}
		r := recs[0]
		if r.Trigger != tc.trigger || r.Name != tc.name || r.Wildcard != tc.wildcard || r.Action != tc.action || r.Target != tc.target || r.TTL != tc.ttl || r.Line != 2 {
			t.Errorf("%s: got %+v", tc.line, r)
		}
	}
}

func TestLineNumbersAndSkippedRecords(t *testing.T) {
	f, err := os.Open("testdata/actions.zone")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := map[string]int{}
	_, err = ReadZone(f, ZoneOptions{File: "actions.zone"}, func(r Record) error {
		if _, seen := lines[r.Entry()]; !seen {
			lines[r.Entry()] = r.Line
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"evil.com": 6, "*.evil.com": 7, "ok.evil.com": 8, "local.test": 15, "txt.test": 17, "after.txt.test": 21, "*": 26, "relative": 27}
	for e, l := range want {
		if lines[e] != l {
			t.Errorf("%s: line %d, want %d", e, lines[e], l)
		}
	}
	if _, ok := lines[""]; ok {
		t.Errorf("the apex SOA/NS must not be a policy record")
	}
}

func TestZoneErrors(t *testing.T) {
	tests := []struct {
		name, text, origin, want string
	}{
		{"no origin", "evil.com CNAME .\n", "", "f.zone: no zone origin"},
		{"empty cname", "$ORIGIN rpz.\n$TTL 60\nok CNAME .\nbad CNAME\n", "", "f.zone:4: CNAME without a target"},
		{"syntax", "$ORIGIN rpz.\n$TTL 60\nok CNAME .\nbad IN IN CNAME .\n", "", "f.zone:4: "},
		{"bad type", "$ORIGIN rpz.\n$TTL 60\n\nx NOTATYPE foo\n", "", "f.zone:4: "},
		{"include refused", "$ORIGIN rpz.\n$TTL 60\n$INCLUDE /etc/passwd\n", "", "f.zone:3: "},
		{"bad origin", "x CNAME .\n", "bad..origin", "not a domain name"},
	}
	for _, tc := range tests {
		_, err := readAll(t, tc.text, ZoneOptions{File: "f.zone", Origin: tc.origin})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
}

func TestOriginFromFileAfterTTLAndComments(t *testing.T) {
	recs, err := readAll(t, "; header\n$TTL 60\n\n$ORIGIN Feed.Example.\nbad CNAME .\n", ZoneOptions{File: "f"})
	if err != nil || len(recs) != 1 || recs[0].Name != "bad" {
		t.Fatalf("got %+v, %v", recs, err)
	}
}

func TestCallbackErrorStops(t *testing.T) {
	stop := errors.New("stop")
	n, err := ReadZone(strings.NewReader("$TTL 1\na CNAME .\nb CNAME .\n"), ZoneOptions{File: "f", Origin: "rpz"}, func(Record) error { return stop })
	if !errors.Is(err, stop) || n != 0 {
		t.Fatalf("n=%d err=%v", n, err)
	}
}

func FuzzReadZone(f *testing.F) {
	seed, _ := os.ReadFile("testdata/actions.zone")
	f.Add(string(seed))
	f.Add("$ORIGIN rpz.\n$TTL 60\n*.a CNAME .\nb ( CNAME\n rpz-passthru. )\n")
	f.Add("$ORIGIN .\n$TTL 60\na\\.b CNAME .\n")
	f.Fuzz(func(t *testing.T, text string) {
		last := 0
		_, err := ReadZone(strings.NewReader(text), ZoneOptions{File: "fuzz"}, func(r Record) error {
			if r.Line < last || r.Line < 1 {
				t.Fatalf("line numbers must be positive and not go back: %d after %d", r.Line, last)
			}
			last = r.Line
			if r.Trigger == TriggerQName && (strings.HasSuffix(r.Name, ".") || r.Name != strings.ToLower(r.Name)) {
				t.Fatalf("name not normalized: %q", r.Name)
			}
			if r.Action == 0 && r.Trigger != TriggerOutOfZone {
				t.Fatalf("record without action: %+v", r)
			}
			return nil
		})
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}
