package rpz

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/rpzfw/rpzfw/internal/dnsfw"
)

// maxListLine bounds one line of a domain list; a domain is at most 255
// characters, so anything longer is not a list.
const maxListLine = 4096

// ReadList streams a plain domain list: one name per line, "*.name" for
// strict subdomains (or a lone "*"), "#" starts a comment, blank lines are
// ignored, and a trailing dot is optional. Every entry must be installable
// in a DNS Firewall domain list; anything else is an error naming the file
// and line, since a user list is the user's own words and silently dropping
// one would hide a mistake. fn receives each entry as a Record with Action
// unset: the list's role (allow or block) decides the action.
func ReadList(r io.Reader, file string, fn func(Record) error) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1024), maxListLine)
	line, n := 0, 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		if strings.ContainsAny(text, " \t") {
			return n, fmt.Errorf("%s:%d: %q: one domain per line", file, line, text)
		}
		d := dnsfw.NormalizeDomain(text)
		if err := dnsfw.ValidateDomain(d); err != nil {
			return n, fmt.Errorf("%s:%d: %q: %v", file, line, text, err)
		}
		name, wild := dnsfw.ParseEntry(d)
		if err := fn(Record{Trigger: TriggerQName, Name: name, Wildcard: wild, Line: line}); err != nil {
			return n, err
		}
		n++
	}
	if err := sc.Err(); err != nil {
		if err == bufio.ErrTooLong {
			return n, fmt.Errorf("%s:%d: line longer than %d bytes: not a domain list", file, line+1, maxListLine)
		}
		return n, fmt.Errorf("%s: reading domain list: %w", file, err)
	}
	return n, nil
}
