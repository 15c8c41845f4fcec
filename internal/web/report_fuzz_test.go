package web

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzReportFilter: any query parses without panicking; a filter that
// parsed clean survives its own link (Query) unchanged, and its API query
// always bounds the range.
func FuzzReportFilter(f *testing.F) {
	for _, s := range []string{"", "range=1h&device=edge", "range=custom&from=2030-01-02T15:04&to=2030-01-03T00:00",
		"range=custom&from=2030-01-02T15:04:05Z", "from=x", "range=7d&name=*.ex.com&client=10.0.0.1&feed=f&rule=r&action=alert&before=1.2",
		"range=%zz", "action=PASS", "range=custom"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		flt, errs := parseReportFilter(q)
		if _, ok := rangeFrom(flt.Range); !ok {
			t.Fatalf("range %q kept after parsing %q", flt.Range, raw)
		}
		if len(errs) > 0 {
			return
		}
		if flt.api().Get("from") == "" {
			t.Fatalf("no from in the API query of %q", raw)
		}
		q2, err := url.ParseQuery(string(flt.Query()))
		if err != nil {
			t.Fatal(err)
		}
		again, errs2 := parseReportFilter(q2)
		if len(errs2) > 0 || again != flt {
			t.Fatalf("%q: %+v came back from its link as %+v %v", raw, flt, again, errs2)
		}
	})
}

// FuzzListEntries: every entry is a trimmed, non-empty line of the text,
// found at the line number given for it.
func FuzzListEntries(f *testing.F) {
	for _, s := range []string{"", "a.example", "a.example\r\n\r\n *.b.example \n", "\n\n\nx"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		entries, lines := listEntries(text)
		if len(entries) != len(lines) {
			t.Fatalf("%d entries, %d lines", len(entries), len(lines))
		}
		all := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
		for i, e := range entries {
			if e == "" || e != strings.TrimSpace(e) || lines[i] < 1 || lines[i] > len(all) || strings.TrimSpace(all[lines[i]-1]) != e {
				t.Fatalf("entry %d %q at line %d of %q", i, e, lines[i], text)
			}
		}
	})
}
