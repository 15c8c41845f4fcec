package querylog

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

// awsExample is the record of the AWS documentation (DESIGN.md).
const awsExample = `{"version":"1.100000","account_id":"111122223333","region":"us-east-1","vpc_id":"vpc-7example",` +
	`"query_timestamp":"2021-02-04T17:51:55Z","query_name":"15.3.4.32.in-addr.arpa.","query_type":"PTR",` +
	`"query_class":"IN","rcode":"NOERROR","answers":[{"Rdata":"203.0.113.9","Type":"PTR","Class":"IN"}],` +
	`"srcaddr":"4.5.64.102","srcport":"56067","transport":"UDP","srcids":{"instance":"i-0d15cd0d3example"},` +
	`"firewall_rule_group_id":"rslvr-frg-01234567890abcdef","firewall_rule_action":"BLOCK",` +
	`"firewall_domain_list_id":"rslvr-fdl-01234567890abcdef"}`

type flat struct {
	time                                                           time.Time
	account, region, vpc, name, qtype, rcode, src, srcID, rg, a, l string
}

func flatten(r *Record) flat {
	return flat{r.Time(), string(r.AccountID), string(r.Region), string(r.VPCID), string(r.QueryName), string(r.QueryType),
		string(r.Rcode), string(r.SrcAddr), string(r.SrcID), string(r.RuleGroupID), string(r.Action), string(r.ListID)}
}

func TestParseLine(t *testing.T) {
	ts := time.Date(2021, 2, 4, 17, 51, 55, 0, time.UTC)
	cases := []struct {
		name, line string
		want       flat
	}{
		{"the AWS example", awsExample, flat{ts, "111122223333", "us-east-1", "vpc-7example", "15.3.4.32.in-addr.arpa.", "PTR", "NOERROR", "4.5.64.102",
			"i-0d15cd0d3example", "rslvr-frg-01234567890abcdef", "BLOCK", "rslvr-fdl-01234567890abcdef"}},
		{"through a Resolver endpoint, srcport a number, no answers",
			`{"version":"1.100000","vpc_id":"vpc-1","query_timestamp":"2021-02-04T17:51:55Z","query_name":"a.example.","query_type":"A","rcode":"NXDOMAIN","answers":[],"srcaddr":"10.0.0.5","srcport":53,"srcids":{"resolver_endpoint":"rslvr-in-1","resolver_network_interface":"rni-2"}}`,
			flat{time: ts, vpc: "vpc-1", name: "a.example.", qtype: "A", rcode: "NXDOMAIN", src: "10.0.0.5", srcID: "rslvr-in-1"}},
		{"srcids empty, fields unknown and out of order, spaces",
			` { "future" : {"x":[1, 2.5e3, true, null, {"y":"\"}"}]}, "query_name" : "b.example." , "srcids":{}, "query_timestamp":"2021-02-04T17:51:55.25Z" } `,
			flat{time: ts.Add(250 * time.Millisecond), name: "b.example."}},
		{"escapes", `{"query_name":"caf\u00e9.\"q\".example.","query_timestamp":"2021-02-04T17:51:55Z","srcaddr":"10.0.0.\u0031"}`,
			flat{time: ts, name: `café."q".example.`, src: "10.0.0.1"}},
		{"a timestamp with an offset", `{"query_name":"c.","query_timestamp":"2021-02-04T18:51:55+01:00"}`, flat{time: ts, name: "c."}},
		{"null where a string goes", `{"query_name":"c.","query_timestamp":"2021-02-04T17:51:55Z","vpc_id":null,"srcids":null}`, flat{time: ts, name: "c."}},
	}
	var p LineParser
	for _, c := range cases {
		var r Record
		if err := p.Parse([]byte(c.line), &r); err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got := flatten(&r); got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, got, c.want)
		}
	}
}

func TestParseBadLines(t *testing.T) {
	var p LineParser
	for _, line := range []string{
		``,
		`[]`,
		`{"query_name":"a."`,
		`{"query_name":"a.","query_timestamp":"2021-02-04T17:51:55Z"} x`,
		`{"query_timestamp":"2021-02-04T17:51:55Z"}`,
		`{"query_name":"a."}`,
		`{"query_name":"a.","query_timestamp":"yesterday"}`,
		`{"query_name":"a.","query_timestamp":"2021-02-30T17:51:55Z"}`,
		`{"query_name":"a.","query_timestamp":"2021-02-04T17:51:55Z","x":"\q"}`,
		`{"query_name":"a` + "\x01" + `","query_timestamp":"2021-02-04T17:51:55Z"}`,
		`{"query_name":"` + "\xff" + `.","query_timestamp":"2021-02-04T17:51:55Z"}`,
		`{"query_name":"a.","query_timestamp":"2021-02-04T17:51:55Z","x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
		`{"query_name":"a.","query_timestamp":"2021-02-04T17:51:55Z",}`,
		`{"query_name":"a.","query_timestamp":"2021-02-04T17:51:55Z","x":}`,
	} {
		var r Record
		if err := p.Parse([]byte(line), &r); err == nil {
			t.Errorf("%q parsed: %+v", line, flatten(&r))
		}
	}
}

func TestParseLineAllocs(t *testing.T) {
	var p LineParser
	var r Record
	line := []byte(awsExample)
	if n := testing.AllocsPerRun(100, func() { _ = p.Parse(line, &r) }); n != 0 {
		t.Errorf("Parse allocates %v times a line", n)
	}
}

// FuzzParseLine holds the parser to encoding/json: whatever it accepts,
// encoding/json must read the same fields from, and it must never panic.
func FuzzParseLine(f *testing.F) {
	f.Add(awsExample)
	f.Add(`{"query_name":"a.example.","query_timestamp":"2021-02-04T17:51:55Z","srcids":{"resolver_endpoint":"rslvr-in-1"},"srcport":53}`)
	f.Add(`{"query_name":"caf\u00e9\ud83d\ude00.","query_timestamp":"2021-02-04T17:51:55.5+02:00","answers":[]}`)
	f.Fuzz(func(t *testing.T, line string) {
		var p LineParser
		var r Record
		if err := p.Parse([]byte(line), &r); err != nil {
			return
		}
		var generic map[string]any
		if err := json.Unmarshal([]byte(line), &generic); err != nil {
			t.Fatalf("accepted a line encoding/json refuses (%v): %q", err, line)
		}
		str := func(k string) string { v, _ := generic[k].(string); return v }
		if str("query_name") != string(r.QueryName) || str("srcaddr") != string(r.SrcAddr) {
			t.Fatalf("%q: parser read %+v, encoding/json %v", line, flatten(&r), generic)
		}
		for k, v := range map[string][]byte{"firewall_rule_action": r.Action, "vpc_id": r.VPCID, "query_type": r.QueryType} {
			if utf8.Valid(v) && str(k) != string(v) {
				t.Fatalf("%q: %s: parser read %q, encoding/json %q", line, k, v, str(k))
			}
		}
	})
}

// BenchmarkParseLine parses the two kinds of line of a real object: a
// resolution with an answer, and a BLOCK hit.
func BenchmarkParseLine(b *testing.B) {
	lines := [][]byte{
		[]byte(`{"version":"1.100000","account_id":"111122223333","region":"us-east-1","vpc_id":"vpc-0a1b2c3d4e5f67890","query_timestamp":"2030-05-04T10:00:00Z","query_name":"host1234.example.com.","query_type":"A","query_class":"IN","rcode":"NOERROR","answers":[{"Rdata":"203.0.113.7","Type":"A","Class":"IN"}],"srcaddr":"10.1.2.7","srcport":"53211","transport":"UDP","srcids":{"instance":"i-0d15cd0d3e0123"}}`),
		[]byte(`{"version":"1.100000","account_id":"111122223333","region":"us-east-1","vpc_id":"vpc-0a1b2c3d4e5f67890","query_timestamp":"2030-05-04T10:00:00Z","query_name":"h3.bad17.example.","query_type":"A","query_class":"IN","rcode":"NXDOMAIN","answers":[],"srcaddr":"10.1.2.7","srcport":"53211","transport":"UDP","srcids":{"instance":"i-0d15cd0d3e0123"},"firewall_rule_group_id":"rslvr-frg-0123456789abcdef","firewall_rule_action":"BLOCK","firewall_domain_list_id":"rslvr-fdl-0123456789abcdef"}`),
	}
	var p LineParser
	var r Record
	b.SetBytes(int64(len(lines[0])+len(lines[1])) / 2)
	cpu := processCPU()
	n := 0
	for ; b.Loop(); n++ {
		if err := p.Parse(lines[n%2], &r); err != nil {
			b.Fatal(err)
		}
	}
	// CPU time per line: on a shared machine, ns/op also counts the waits.
	b.ReportMetric(float64(processCPU()-cpu)/float64(n), "cpu-ns/op")
}

// processCPU is the CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// FuzzSpecial: the word-at-a-time search finds what a byte-at-a-time one
// finds, wherever the byte is in its word.
func FuzzSpecial(f *testing.F) {
	for _, s := range []string{"", "abc", `abcdefgh"`, "abcdefg\\h", "abcdefghijklmno\x1f", "\x7f\x80\xff\xdf\"", `é"`, "\x20\x21\x22", "aaaaaaaaaaaaaaaa"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := -1
		for i := 0; i < len(s); i++ {
			if c := s[i]; c == '"' || c == '\\' || c < 0x20 {
				want = i
				break
			}
		}
		if got := special([]byte(s)); got != want {
			t.Fatalf("special(%q) = %d, want %d", s, got, want)
		}
	})
}
