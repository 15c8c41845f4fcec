package emulator

import (
	"bufio"
	"bytes"
	"fmt"

	"github.com/rpzfw/rpzfw/internal/dnsfw"
)

// MaxImportDomains is the most domains one import file may hold.
const MaxImportDomains = 250000

// parseImport reads an import file: one domain per line. It returns the set
// or the reason the import fails.
func parseImport(body []byte) (map[string]struct{}, string) {
	out := map[string]struct{}{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	line := 0
	for sc.Scan() {
		line++
		d := dnsfw.NormalizeDomain(string(bytes.TrimSpace(sc.Bytes())))
		if d == "" {
			continue
		}
		if err := dnsfw.ValidateDomain(d); err != nil {
			return nil, fmt.Sprintf("Invalid domain at line %d: %v", line, err)
		}
		out[d] = struct{}{}
		if len(out) > MaxImportDomains {
			return nil, fmt.Sprintf("The file has more than %d domains", MaxImportDomains)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Sprintf("Reading the file: %v", err)
	}
	return out, ""
}
