package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const example = `# A policy: sources in precedence order, first match wins.
name: corporate
max_shrink: 40%
allow_block_all: true
allow_list:
  - intranet.example
  - "*.updates.vendor.example"
block_list:
  file: block.txt
sources:
  - name: vendor
    kind: zone-transfer
    primaries: [192.0.2.53, "192.0.2.54:5353"]
    zone: rpz.vendor.example
    tsig:
      name: vendor-key
      algorithm: hmac-sha512
      secret: c2VjcmV0
    notify_unsigned: true
  - name: urlhaus
    kind: https
    url: https://feeds.example/rpz.zone
    headers: {Authorization: "Bearer t0ken"}
    max_size: 50MB
    refresh: 30m
  - name: local
    kind: file
    path: zones/local.rpz
    origin: local.rpz
  - name: vendor-allow
    kind: https
    url: https://feeds.example/allow.txt
    format: list
    allow: true
`

func TestParseExample(t *testing.T) {
	p, err := Parse([]byte(example), "/etc/rpzfw/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "corporate" || p.MaxShrink != 0.4 || !p.AllowBlockAll || len(p.Sources) != 4 || len(p.Allow.Domains) != 2 || p.Block.File != "/etc/rpzfw/block.txt" {
		t.Fatalf("%+v", p)
	}
	v := p.Sources[0]
	if v.Kind != KindZoneTransfer || v.Primaries[0] != "192.0.2.53:53" || v.Primaries[1] != "192.0.2.54:5353" || v.TSIG.AlgorithmName() != "hmac-sha512." || !v.IXFR || !v.NotifyUnsigned {
		t.Errorf("zone transfer: %+v %+v", v, v.TSIG)
	}
	u := p.Sources[1]
	if u.MaxSize != 50<<20 || u.Refresh != 30*time.Minute || u.Headers["Authorization"] != "Bearer t0ken" {
		t.Errorf("https: %+v", u)
	}
	if p.Sources[2].Path != "/etc/rpzfw/zones/local.rpz" || !p.Sources[3].Allow || p.Sources[3].Format != "list" {
		t.Errorf("file/list: %+v %+v", p.Sources[2], p.Sources[3])
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ text, want string }{
		{"sources:\n  - name: a\n    kind: ftp\n", "p.yaml:2: sources[0].kind: \"ftp\": want file, https or zone-transfer"},
		{"sources:\n  - name: a\n    kind: file\n    path: x\n    colour: red\n", "p.yaml:5: sources[0].colour: unknown key"},
		{"nmae: x\n", "p.yaml:1: nmae: unknown key"},
		{"sources:\n  - name: a\n    kind: https\n    url: http://insecure.example/\n", "sources[0].url: \"http://insecure.example/\": want an https:// URL"},
		{"sources:\n  - name: a\n    kind: file\n    path: x\n  - name: a\n    kind: file\n    path: y\n", "p.yaml:5: sources[1].name: \"a\" is already the name of the source at line 2"},
		{"sources:\n  - name: a\n    kind: zone-transfer\n    zone: z.example\n    primaries: [not-an-ip]\n", "p.yaml:5: sources[0].primaries[0]"},
		{"sources:\n  - name: a\n    kind: zone-transfer\n    zone: z\n    primaries: [192.0.2.1]\n    tsig: {name: k, algorithm: rot13, secret: x}\n", "tsig.algorithm: \"rot13\""},
		{"sources:\n  - name: a\n    kind: zone-transfer\n    zone: z\n    primaries: [192.0.2.1]\n    tsig: {name: k}\n", "give exactly one of secret and secret_file"},
		{"sources:\n  - name: a\n    kind: https\n    url: https://x/\n    max_size: lots\n", "p.yaml:5: sources[0].max_size: \"lots\""},
		{"sources:\n  - name: a\n    kind: https\n    url: https://x/\n    max_size: 99999999999GB\n", "p.yaml:5: sources[0].max_size: \"99999999999GB\": too large"},
		{"sources:\n  - name: a\n    kind: https\n    url: https://x/\n    max_size: 65GB\n", "p.yaml:5: sources[0].max_size: \"65GB\": too large"},
		{"sources:\n  - name: a\n    kind: https\n    url: https://x/\n    max_size: 99999999999999999999\n", "sources[0].max_size: \"99999999999999999999\": too large"},
		{"sources:\n  - name: a\n    kind: https\n    url: https://x/\n    max_size: -5MB\n", "sources[0].max_size: \"-5MB\": want a size"},
		{"sources:\n  - name: a\n    kind: https\n    url: https://x/\n    max_size: 0\n", "sources[0].max_size: \"0\": want a size"},
		{"sources:\n  - name: a\n    kind: file\n    path: x\n    refresh: soon\n", "sources[0].refresh: \"soon\""},
		{"sources:\n  - name: a\n    kind: file\n    path: x\n    url: https://x/\n", "sources[0].url: not a setting of a file source"},
		{"sources:\n  - name: a\n    kind: https\n    url: https://x/\n    notify_unsigned: true\n", "sources[0].notify_unsigned: not a setting of a https source"},
		{"allow_list:\n  - good.example\n  - bad_one.example\n", "p.yaml:3: allow_list[1]: \"bad_one.example\""},
		{"max_shrink: 150%\nallow_list: [a.example]\n", "p.yaml:1: max_shrink"},
		{"allow_block_all: sure\nallow_list: [a.example]\n", "p.yaml:1: allow_block_all: \"sure\": want true or false"},
		{"name: x\n", "p.yaml: the policy has no sources and no lists"},
		{"sources: [\n", "p.yaml: "},
		{"- just\n- a list\n", "p.yaml:1: policy: want a mapping"},
		{"sources:\n  - name: 'bad name'\n    kind: file\n    path: x\n", "sources[0].name: \"bad name\""},
		{"name: ../../etc\nallow_list: [a.example]\n", "p.yaml:1: name: \"../../etc\": must start with a letter or digit"},
		{"name: a/b\nallow_list: [a.example]\n", "p.yaml:1: name: \"a/b\": \"/\" is not allowed"},
		{"name: a..b\nallow_list: [a.example]\n", "p.yaml:1: name: \"a..b\": must not contain"},
		{"name: ''\nallow_list: [a.example]\n", "p.yaml:1: name: empty"},
	}
	for _, tc := range tests {
		_, err := Parse([]byte(tc.text), "p.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %q", tc.text, err, tc.want)
		}
	}
}

func TestSecretFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "key"), []byte("c2VjcmV0\n"), 0o600)
	text := "sources:\n  - name: a\n    kind: zone-transfer\n    zone: z.example\n    primaries: [127.0.0.1]\n    tsig: {name: k, secret_file: key}\n"
	p, err := Parse([]byte(text), filepath.Join(dir, "p.yaml"))
	if err != nil || p.Sources[0].TSIG.Secret != "c2VjcmV0" {
		t.Fatalf("%v %+v", err, p)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(example)
	f.Add("sources:\n  - {name: a, kind: file, path: x}\n")
	f.Add("allow_list: {file: a}\n")
	f.Fuzz(func(t *testing.T, text string) {
		p, err := Parse([]byte(text), "fuzz.yaml")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, s := range p.Sources {
			if s.Name == "" || (s.Kind != KindFile && s.Kind != KindHTTPS && s.Kind != KindZoneTransfer) {
				t.Fatalf("accepted a bad source: %+v", s)
			}
		}
	})
}

// A name taken from the file name is always safe as a directory name.
func TestNameFromFile(t *testing.T) {
	for file, want := range map[string]string{
		"/etc/rpzfw/policy.yaml":  "policy",
		"corp prod.yaml":          "corp_prod",
		"../x/..weird..name.yaml": "weird._name",
		"/tmp/.yaml":              "policy",
		"/tmp/...":                "policy",
		"politique-é.yml":         "politique-__",
	} {
		if got := NameFromFile(file); got != want {
			t.Errorf("NameFromFile(%q) = %q, want %q", file, got, want)
		}
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	text := "sources:\n  - name: a\n    kind: zone-transfer\n    zone: z.example\n    primaries: [127.0.0.1]\n    tsig: {name: k, secret: c2VjcmV0LWtleQ==}\n" +
		"  - name: b\n    kind: https\n    url: https://feed.example/z\n    headers: {Authorization: Bearer hunter2}\n"
	p, err := Parse([]byte(text), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := fmt.Sprintf("%v %+v %#v", p, p, p)
	if strings.Contains(out, "c2VjcmV0LWtleQ==") || strings.Contains(out, "hunter2") {
		t.Fatalf("a printed policy shows its secrets: %s", out)
	}
	if p.Sources[0].TSIG.Secret.Reveal() != "c2VjcmV0LWtleQ==" || p.Sources[1].Headers["Authorization"].Reveal() != "Bearer hunter2" {
		t.Fatal("the secrets were not kept")
	}
}
