package rpz

import (
	"strings"
	"testing"
)

func TestReadList(t *testing.T) {
	text := "# user block list\nEvil.com.\n*.bad.org # all of bad.org\n\n  *  \nwww.example.net\n"
	var got []string
	n, err := ReadList(strings.NewReader(text), "block.txt", func(r Record) error {
		got = append(got, r.Entry()+"@"+string(rune('0'+r.Line)))
		return nil
	})
	if err != nil || n != 4 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	want := "evil.com@2 *.bad.org@3 *@5 www.example.net@6"
	if strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
}

func TestReadListErrors(t *testing.T) {
	tests := []struct{ text, want string }{
		{"ok.com\n_dmarc.example.com\n", "block.txt:2: \"_dmarc.example.com\""},
		{"a.com b.com\n", "block.txt:1: \"a.com b.com\": one domain per line"},
		{"a.*.com\n", "block.txt:1:"},
		{"ok\n" + strings.Repeat("x", 5000) + "\n", "block.txt:2: line longer"},
		{"0.0.0.0 ads.example\n", "one domain per line"},
	}
	for _, tc := range tests {
		_, err := ReadList(strings.NewReader(tc.text), "block.txt", func(Record) error { return nil })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.text, err, tc.want)
		}
	}
}

func FuzzReadList(f *testing.F) {
	f.Add("a.com\n*.b.org\n# c\n")
	f.Add("*\n")
	f.Fuzz(func(t *testing.T, text string) {
		_, err := ReadList(strings.NewReader(text), "fuzz", func(r Record) error {
			if r.Name != strings.ToLower(r.Name) || strings.HasSuffix(r.Name, ".") {
				t.Fatalf("entry not normalized: %+v", r)
			}
			return nil
		})
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz:") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}
