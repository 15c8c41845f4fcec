package feed

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/rpzfw/rpzfw/internal/policy"
)

// Which NOTIFY messages start a refresh: signed with the source's key from
// a primary; unsigned from a primary only when the source allows it.
func TestNotifyAcceptance(t *testing.T) {
	const key, secret = "xfr-key.", "9x0M3j6yO2c0cXbW3yTq7v0WJ9w2mN8cY3rVq6p1tQ4="
	for _, tc := range []struct {
		name           string
		primary        string
		notifyUnsigned bool
		sign           string // secret to sign with, "" unsigned
		want           int
	}{
		{"signed from a primary", "127.0.0.1:53", false, secret, dns.RcodeSuccess},
		{"unsigned, not allowed", "127.0.0.1:53", false, "", dns.RcodeRefused},
		{"unsigned, allowed, from a primary", "127.0.0.1:53", true, "", dns.RcodeSuccess},
		{"unsigned, allowed, from another address", "192.0.2.53:53", true, "", dns.RcodeRefused},
		{"badly signed, unsigned allowed", "127.0.0.1:53", true, "d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldCEhISEhISE=", dns.RcodeRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			src := policy.SourceSpec{Name: "vendor", Kind: policy.KindZoneTransfer, Format: "rpz", Zone: "rpz.test", Primaries: []string{tc.primary},
				TSIG: &policy.TSIG{Name: key, Algorithm: "hmac-sha256", Secret: secret}, NotifyUnsigned: tc.notifyUnsigned}
			m, err := NewManager(t.TempDir(), policy.Policy{Sources: []policy.SourceSpec{src}, MaxShrink: 0.5})
			if err != nil {
				t.Fatal(err)
			}
			m.Log = quiet()
			addr, err := m.ListenNotify(ctx, "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			msg := new(dns.Msg)
			msg.SetNotify("rpz.test.")
			c := &dns.Client{Timeout: 5 * time.Second}
			if tc.sign != "" {
				msg.SetTsig(key, dns.HmacSHA256, 300, time.Now().Unix())
				c.TsigSecret = map[string]string{key: tc.sign}
			}
			r, _, err := c.Exchange(msg, addr)
			if err != nil && tc.sign == secret {
				t.Fatal(err)
			}
			if r == nil || r.Rcode != tc.want {
				t.Fatalf("answer %v (%v), want %s", r, err, dns.RcodeToString[tc.want])
			}
			select {
			case name := <-m.trigger:
				if tc.want != dns.RcodeSuccess || name != "vendor" {
					t.Errorf("refresh of %q triggered", name)
				}
			default:
				if tc.want == dns.RcodeSuccess {
					t.Error("an accepted NOTIFY triggered no refresh")
				}
			}
		})
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
