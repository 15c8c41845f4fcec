package compile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"

	"github.com/rpzfw/rpzfw/internal/dnsfw"
)

// WriteJSON writes exactly what json.NewEncoder(w).Encode(p) writes, but
// streams the domains instead of building the whole document in memory
// first: a million domains are about 20 MB of JSON, and encoding/json
// grows its buffer to that size and more before writing a byte. The rest
// (rules without their domains, counts) still goes through encoding/json.
func (p *Plan) WriteJSON(w io.Writer) error {
	rest := *p
	rest.Rules = nil
	tail, err := json.Marshal(&rest)
	if err != nil {
		return err
	}
	const rulesNull = `{"Rules":null`
	if p.Rules == nil || !bytes.HasPrefix(tail, []byte(rulesNull)) {
		return json.NewEncoder(w).Encode(p)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(`{"Rules":[`)
	for i, r := range p.Rules {
		if i > 0 {
			bw.WriteByte(',')
		}
		if err := writeRuleJSON(bw, r); err != nil {
			return err
		}
	}
	bw.WriteByte(']')
	bw.Write(tail[len(rulesNull):])
	bw.WriteByte('\n')
	return bw.Flush()
}

// writeRuleJSON writes r as encoding/json does, its domains one by one.
func writeRuleJSON(bw *bufio.Writer, r dnsfw.Rule) error {
	domains := r.Domains
	r.Domains = nil
	head, err := json.Marshal(r)
	if err != nil {
		return err
	}
	const domainsNull = `"Domains":null}`
	if domains == nil || !bytes.HasSuffix(head, []byte(domainsNull)) {
		r.Domains = domains
		head, err = json.Marshal(r)
		bw.Write(head)
		return err
	}
	bw.Write(head[:len(head)-len("null}")])
	bw.WriteByte('[')
	for i, d := range domains {
		if i > 0 {
			bw.WriteByte(',')
		}
		writeJSONString(bw, d)
	}
	bw.WriteString("]}")
	return nil
}

// writeJSONString writes s as a JSON string the way encoding/json does:
// plain when it needs no escape, as every valid domain list entry does,
// and through encoding/json otherwise.
func writeJSONString(bw *bufio.Writer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always encodes
			bw.Write(b)
			return
		}
	}
	bw.WriteByte('"')
	bw.WriteString(s)
	bw.WriteByte('"')
}
