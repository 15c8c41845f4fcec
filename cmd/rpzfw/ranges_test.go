package main

import (
	"strings"
	"testing"
)

// Numbers out of range are usage errors (exit 2) that name the flag,
// before anything is started or sent.
func TestFlagRanges(t *testing.T) {
	zone := writeFile(t, "z.rpz", testZone)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"emulator", "--settle", "-1s"}, "--settle: want at least 0s"},
		{[]string{"emulator", "--quota-domains", "-5"}, "--quota-domains: want at least 1"},
		{[]string{"emulator", "--quota-rules", "0"}, "--quota-rules: want at least 1"},
		{[]string{"emulator", "--throttle-rps", "-1"}, "--throttle-rps"},
		{[]string{"emulator", "--throttle-rps", "NaN"}, "--throttle-rps"},
		{[]string{"emulator", "--log-flush", "0s"}, "--log-flush: want at least 1s"},
		{[]string{"emulator", "traffic", "--queries", "-5"}, "--queries: want 1 to"},
		{[]string{"emulator", "traffic", "--rate", "-1"}, "--rate"},
		{[]string{"emulator", "traffic", "--rate", "+Inf"}, "--rate"},
		{[]string{"emulator", "traffic", "--hit-share", "1.5"}, "--hit-share: want a share from 0 to 1"},
		{[]string{"emulator", "traffic", "--sources", "0"}, "--sources: want 1 to 250"},
		{[]string{"emulator", "traffic", "--sources", "300"}, "--sources: want 1 to 250"},
		{[]string{"demo", "--settle", "-1s", zone}, "--settle"},
		{[]string{"feeds", "status", "--policy", "p.yaml", "--fetch-timeout", "0s"}, "--fetch-timeout: want at least 1s"},
		{[]string{"sync", "--region", "eu-west-1", "--rule-group-id", "rslvr-frg-0123", "--rate", "0", zone}, "--rate: want a number of calls per second above 0"},
		{[]string{"sync", "--region", "eu-west-1", "--rule-group-id", "rslvr-frg-0123", "--rate", "-1", zone}, "--rate"},
		{[]string{"sync", "--region", "eu-west-1", "--rule-group-id", "rslvr-frg-0123", "--rate", "NaN", zone}, "--rate"},
		{[]string{"sync", "--region", "eu-west-1", "--rule-group-id", "rslvr-frg-0123", "--quota", "-5", zone}, "--quota: want at least 0, got -5"},
		{[]string{"sync", "--region", "eu-west-1", "--rule-group-id", "rslvr-frg-0123", "--first-priority", "3000000000", zone}, "--first-priority: want 1 to 2147483647"},
		{[]string{"plan", "--priority-step", "2147483648", zone}, "--priority-step: want 1 to 2147483647"},
		{[]string{"plan", "--fetch-timeout", "0s", zone}, "--fetch-timeout: want at least 1s"},
		{[]string{"plan", "--max-file-size", "99999999999GB", zone}, "--max-file-size \"99999999999GB\": too large"},
		{[]string{"plan", "--max-file-size", "0", zone}, "--max-file-size \"0\": want a size"},
		{[]string{"sync", "--region", "eu-west-1", "--rule-group-id", "rslvr-frg-0123", "--device", "../../etc", zone}, "--device: \"../../etc\": must start with a letter or digit"},
		{[]string{"sync", "--region", "eu-west-1", "--rule-group-id", "rslvr-frg-0123", "--device", "a/b", zone}, "--device: \"a/b\": \"/\" is not allowed"},
		{[]string{"sync", "--region", "eu-west-1", "--rule-group-id", "../x", zone}, "--rule-group-id: \"../x\""},
		{[]string{"unsync", "--region", "eu-west-1", "--rule-group-id", "rslvr-frg-0123", "--device", ".."}, "--device: \"..\""},
	} {
		_, stderr, code := runCLI(t, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", tc.args, code, stderr, tc.want)
		}
	}
}
