package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	t.Setenv("RPZFW_LOG_LEVEL", "error")
	code := run(args, &out, &errb)
	return out.String(), errb.String(), code
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const testZone = `$TTL 300
$ORIGIN rpz.test.
@ SOA localhost. hostmaster.invalid. 1 3600 600 86400 60
@ NS localhost.
*.Evil.Example CNAME .
ok.evil.example CNAME rpz-passthru.
garden.example 60 CNAME walled.example.net.
32.1.0.0.127.rpz-ip CNAME .
`

func TestPlanJSONShape(t *testing.T) {
	zone := writeFile(t, "z.rpz", testZone)
	out, stderr, code := runCLI(t, "plan", "--format", "json", zone)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	// Exactly the documented members, in order.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Rules", "DomainCount", "Removed", "Truncated"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("missing %s", k)
		}
	}
	if len(raw) != 4 {
		t.Errorf("want exactly 4 members, got %d: %s", len(raw), out)
	}
	if !strings.HasPrefix(out, `{"Rules":[{"Name":"rpzfw-1-allow","Priority":2599,"Action":"ALLOW","BlockResponse":null,"BlockOverrideDomain":null,"BlockOverrideDnsType":null,"BlockOverrideTtl":null,"Domains":["*.ok.evil.example"]}`) {
		t.Errorf("unexpected first rule: %s", out)
	}
	for _, want := range []string{
		`"Action":"BLOCK","BlockResponse":"OVERRIDE","BlockOverrideDomain":"walled.example.net","BlockOverrideDnsType":"CNAME","BlockOverrideTtl":60,"Domains":["garden.example"]`,
		`"Domains":["*.evil.example"]`,
		`"DomainCount":4,"Removed":{"rpz-ip":1},"Truncated":0}`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
}

func TestPlanTextAndMonitor(t *testing.T) {
	zone := writeFile(t, "z.rpz", testZone)
	allow := writeFile(t, "allow.txt", "# ours\nintranet.example\n")
	out, stderr, code := runCLI(t, "plan", "--monitor-only", "--allow-list", allow, zone)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"monitor-only", "allow-list, rpz.test", "rpz-ip", "ALERT"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "BLOCK") {
		t.Errorf("monitor-only plan blocks:\n%s", out)
	}
}

func TestExplain(t *testing.T) {
	zone := writeFile(t, "z.rpz", testZone)
	out, stderr, code := runCLI(t, "explain", "x.ok.evil.example", zone)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"closest encloser ok.evil.example has no wildcard", "no rewrite", "carve-out", "Same outcome: yes"} {
		if !strings.Contains(out, want) {
			t.Errorf("explain lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = runCLI(t, "explain", "a.evil.example", zone)
	if !strings.Contains(out, "NXDOMAIN, from rpz.test line 5") || !strings.Contains(out, "rpzfw-3-nxdomain") {
		t.Errorf("explain a.evil.example:\n%s", out)
	}
}

// Bad input ends with one line on stderr and a non-zero status.
func TestBadInput(t *testing.T) {
	noOrigin := writeFile(t, "noorigin.rpz", "evil.example CNAME .\n")
	broken := writeFile(t, "broken.rpz", "$ORIGIN rpz.\n$TTL 60\nok CNAME .\nbad IN IN CNAME .\n")
	badList := writeFile(t, "list.txt", "ok.example\nbad_name.example\n")
	zone := writeFile(t, "z.rpz", testZone)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"plan"}, 2, "give at least one zone"},
		{[]string{"plan", "/does/not/exist"}, 1, "no such file"},
		{[]string{"plan", noOrigin}, 1, "no zone origin"},
		{[]string{"plan", broken}, 1, "broken.rpz:4:"},
		{[]string{"plan", "--block-list", badList, zone}, 1, "list.txt:2:"},
		{[]string{"plan", "--format", "xml", zone}, 2, "--format must be text, json or entries"},
		{[]string{"plan", "--max-domains", "0", zone}, 2, "--max-domains"},
		{[]string{"plan", "--nope", zone}, 2, "flag provided but not defined"},
		{[]string{"plan", "=" + zone}, 2, "want FILE or ORIGIN=FILE"},
		{[]string{"explain"}, 2, "give the query NAME"},
		{[]string{"frobnicate"}, 2, "unknown command"},
	}
	for _, tc := range tests {
		_, stderr, code := runCLI(t, tc.args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != tc.code || !strings.Contains(lines[0], tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
		if len(lines) != 1 && tc.args[0] != "frobnicate" {
			t.Errorf("%v: want one line of reason, got:\n%s", tc.args, stderr)
		}
		if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
			t.Errorf("%v: panic trace on bad input:\n%s", tc.args, stderr)
		}
	}
}

func TestOriginArgument(t *testing.T) {
	zone := writeFile(t, "z.rpz", "$TTL 60\nbad.example CNAME .\n")
	out, stderr, code := runCLI(t, "plan", "--format", "json", "feed.example="+zone)
	if code != 0 || !strings.Contains(out, `"Domains":["bad.example"]`) {
		t.Fatalf("exit %d, %s %s", code, out, stderr)
	}
}

// TestDemo runs the README's first command end to end, from a folder that
// holds nothing: the sample policy is built in.
func TestDemo(t *testing.T) {
	t.Chdir(t.TempDir())
	out, stderr, code := runCLI(t, "demo", "--settle", "20ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"malware.example           NXDOMAIN",
		"tracker.example           NODATA",
		"login.phish.example       CNAME warning.corp.example",
		"carves it out",
		"ads.unwanted.example      NXDOMAIN",
		"example.com               192.0.2.1",
		"threats.rpz.example line 28 says DROP, removed: DNS Firewall cannot drop a query",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

func TestPlanWithPolicyFile(t *testing.T) {
	dir := t.TempDir()
	zone := writeFile(t, "z.rpz", testZone)
	policyFile := filepath.Join(dir, "policy.yaml")
	os.WriteFile(policyFile, []byte("name: test\nallow_list: [ok.evil.example]\nsources:\n  - name: local\n    kind: file\n    path: "+zone+"\n"), 0o644)
	out, stderr, code := runCLI(t, "plan", "--policy", policyFile, "--cache-dir", filepath.Join(dir, "cache"), "--format", "json")
	if code != 0 || !strings.Contains(out, `"Domains":["ok.evil.example"]`) {
		t.Fatalf("exit %d: %s %s", code, out, stderr)
	}
	out, _, code = runCLI(t, "feeds", "status", "--policy", policyFile, "--cache-dir", filepath.Join(dir, "cache"))
	if code != 0 || !strings.Contains(out, "local") || !strings.Contains(out, "ok") {
		t.Fatalf("feeds status: %s", out)
	}
	// Zones and --policy do not mix.
	if _, stderr, code := runCLI(t, "plan", "--policy", policyFile, zone); code != 2 || !strings.Contains(stderr, "--policy takes its sources") {
		t.Fatalf("mixing: %d %s", code, stderr)
	}
	os.WriteFile(policyFile, []byte("sources:\n  - name: x\n    kind: ftp\n"), 0o644)
	if _, stderr, code := runCLI(t, "plan", "--policy", policyFile); code != 1 || !strings.Contains(stderr, "policy.yaml:2: sources[0].kind") {
		t.Fatalf("bad policy: %d %s", code, stderr)
	}
}

func TestPlanEntries(t *testing.T) {
	zone := writeFile(t, "z.rpz", testZone)
	out, _, code := runCLI(t, "plan", "--format", "entries", zone)
	for _, want := range []string{"RULE\tDOMAIN\tSOURCE\tLINE", "rpzfw-1-allow\t*.ok.evil.example\tcarve-out\t0", "rpzfw-3-nxdomain\t*.evil.example\trpz.test\t5"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("entries lack %q:\n%s", want, out)
		}
	}
}

// Two policy files with one name in different folders keep separate feed
// caches: neither compiles the other's copy, nor holds its own smaller feed
// as a shrink.
func TestPoliciesWithOneNameKeepSeparateCaches(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	root := t.TempDir()
	policies := map[string]int{"big": 6, "small": 1}
	for dir, n := range policies {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o700); err != nil {
			t.Fatal(err)
		}
		var zone strings.Builder
		zone.WriteString("$ORIGIN feed.rpz.\n@ SOA localhost. h.invalid. 1 1 1 1 1\n")
		for i := range n {
			fmt.Fprintf(&zone, "%s%d.example CNAME .\n", dir, i)
		}
		os.WriteFile(filepath.Join(root, dir, "feed.rpz"), []byte(zone.String()), 0o644)
		os.WriteFile(filepath.Join(root, dir, "policy.yaml"), []byte("sources:\n  - name: feed\n    kind: file\n    path: feed.rpz\n"), 0o644)
	}
	for _, dir := range []string{"big", "small"} {
		out, stderr, code := runCLI(t, "feeds", "refresh", "--policy", filepath.Join(root, dir, "policy.yaml"))
		if code != 0 {
			t.Fatalf("%s: exit %d: %s %s", dir, code, out, stderr)
		}
		if want := fmt.Sprintf("feed    file  %d ", policies[dir]); !strings.Contains(out, want) || strings.Contains(out, "held") {
			t.Errorf("%s: feeds refresh says\n%s\nwant %q and nothing held", dir, out, want)
		}
	}
	// plan (and sync) compile each policy's own feed.
	for _, dir := range []string{"big", "small", "big"} {
		out, stderr, code := runCLI(t, "plan", "--format", "json", "--policy", filepath.Join(root, dir, "policy.yaml"))
		if want := fmt.Sprintf(`"DomainCount":%d,`, policies[dir]); code != 0 || !strings.Contains(out, want) {
			t.Errorf("%s: plan exit %d, %s %s; want %s", dir, code, out, stderr, want)
		}
	}
}

// A command that failed exits non-zero, whatever it printed before.
func TestFailuresExitNonZero(t *testing.T) {
	// A resolver address where nothing answers.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := pc.LocalAddr().String()
	pc.Close()
	dir := t.TempDir()
	policyFile := filepath.Join(dir, "policy.yaml")
	os.WriteFile(policyFile, []byte("sources:\n  - name: gone\n    kind: file\n    path: missing.rpz\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"feeds", "refresh", "--policy", policyFile, "--cache-dir", filepath.Join(dir, "cache")}, "1 of 1 sources could not be refreshed"},
		{[]string{"emulator", "traffic", "--api", "", "--dns", dead, "--queries", "3", "--rate", "0"}, "3 of 3 queries got no answer"},
	} {
		out, stderr, code := runCLI(t, tc.args...)
		if code != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want exit 1 and %q", tc.args, code, stderr, out, tc.want)
		}
	}
}

// A plan that blocks every name is reported by plan, and demo (which
// deploys) refuses it unless the policy allows it.
func TestBlockAllIsReportedAndRefused(t *testing.T) {
	block := writeFile(t, "block.txt", "*\n")
	out, stderr, code := runCLI(t, "plan", "--block-list", block)
	if code != 0 || !strings.Contains(out, "WARNING: rule rpzfw-1-nxdomain blocks every name") {
		t.Errorf("plan: exit %d, %s %s", code, out, stderr)
	}
	_, stderr, code = runCLI(t, "demo", "--settle", "1ms", "--names", "a.example", "--block-list", block)
	if code != 1 || !strings.Contains(stderr, "blocks every name") || !strings.Contains(stderr, "--allow-block-all") {
		t.Errorf("demo: exit %d, %s", code, stderr)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "block.txt"), []byte("*\n"), 0o644)
	policyFile := filepath.Join(dir, "policy.yaml")
	os.WriteFile(policyFile, []byte("allow_block_all: true\nblock_list: {file: block.txt}\n"), 0o644)
	out, stderr, code = runCLI(t, "demo", "--settle", "1ms", "--names", "a.example", "--policy", policyFile, "--cache-dir", filepath.Join(dir, "cache"))
	if code != 0 || !strings.Contains(out, "a.example  NXDOMAIN") {
		t.Errorf("demo with allow_block_all: exit %d, %s %s", code, out, stderr)
	}
}

// plan and explain print no INFO lines unless RPZFW_LOG_LEVEL asks for
// them; warnings still show.
func TestPlanIsQuietByDefault(t *testing.T) {
	zone := writeFile(t, "z.rpz", testZone)
	block := writeFile(t, "block.txt", "*\n")
	for _, tc := range []struct {
		level      string
		args       []string
		want, lack string
	}{
		{"", []string{"plan", zone}, "", "INFO"},
		{"", []string{"explain", "evil.example", zone}, "", "INFO"},
		{"", []string{"plan", "--block-list", block}, "WARN", "INFO"},
		{"info", []string{"plan", zone}, "level=INFO msg=\"read source\"", ""},
		{"info", []string{"explain", "evil.example", zone}, "level=INFO", ""},
	} {
		t.Setenv("RPZFW_LOG_LEVEL", tc.level)
		var out, errb bytes.Buffer
		if code := run(tc.args, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, errb.String())
		}
		if tc.want != "" && !strings.Contains(errb.String(), tc.want) || tc.lack != "" && strings.Contains(errb.String(), tc.lack) {
			t.Errorf("RPZFW_LOG_LEVEL=%q %v: stderr %q, want %q and no %q", tc.level, tc.args, errb.String(), tc.want, tc.lack)
		}
	}
}

// A zone argument or list file larger than --max-file-size is refused.
func TestMaxFileSize(t *testing.T) {
	zone := writeFile(t, "z.rpz", testZone)
	if _, stderr, code := runCLI(t, "plan", "--max-file-size", "100B", zone); code != 1 || !strings.Contains(stderr, "larger than 100 bytes") {
		t.Errorf("zone: exit %d, %s", code, stderr)
	}
	list := writeFile(t, "l.txt", strings.Repeat("a.example\n", 20))
	if _, stderr, code := runCLI(t, "plan", "--max-file-size", "1KB", "--block-list", list); code != 0 {
		t.Errorf("list under the cap: exit %d, %s", code, stderr)
	}
	if _, stderr, code := runCLI(t, "plan", "--max-file-size", "10B", "--block-list", list); code != 1 || !strings.Contains(stderr, "larger than 10 bytes") {
		t.Errorf("list: exit %d, %s", code, stderr)
	}
	if out, stderr, code := runCLI(t, "plan", zone); code != 0 {
		t.Errorf("default cap: exit %d, %s %s", code, out, stderr)
	}
}
