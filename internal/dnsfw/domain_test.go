package dnsfw

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateDomain(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"example.com", nil},
		{"*.example.com", nil},
		{"*", nil},
		{"xn--bcher-kva.example", nil},
		{"a-b.c", nil},
		{"com", nil},
		{"", ErrEmptyDomain},
		{"_dmarc.example.com", ErrDomainChars},
		{"a b.com", ErrDomainChars},
		{"a*.com", ErrDomainWildcard},
		{"a.*.com", ErrDomainWildcard},
		{"*.*.com", ErrDomainWildcard},
		{"a..com", ErrDomainLabel},
		{".com", ErrDomainLabel},
		{"*.", ErrDomainLabel},
		{strings.Repeat("a", 64) + ".com", ErrDomainLabel},
		{strings.Repeat("a.", 128), ErrDomainTooLong},
	}
	for _, tc := range tests {
		err := ValidateDomain(tc.in)
		if !errors.Is(err, tc.want) {
			t.Errorf("ValidateDomain(%q) = %v, want %v", tc.in, err, tc.want)
		}
	}
}

func TestNormalizeAndEntry(t *testing.T) {
	if got := NormalizeDomain("WWW.Example.COM."); got != "www.example.com" {
		t.Errorf("NormalizeDomain = %q", got)
	}
	for _, tc := range []struct {
		entry string
		name  string
		wild  bool
	}{{"*", "", true}, {"*.a.b", "a.b", true}, {"a.b", "a.b", false}} {
		name, wild := ParseEntry(tc.entry)
		if name != tc.name || wild != tc.wild {
			t.Errorf("ParseEntry(%q) = %q,%v", tc.entry, name, wild)
		}
		if back := Entry(name, wild); back != tc.entry {
			t.Errorf("Entry(%q,%v) = %q, want %q", name, wild, back, tc.entry)
		}
	}
}
