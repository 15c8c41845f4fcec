package emulator

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseFault reads "OP:key=value[,key=value...]" (OP is an operation name
// or "*") into f. Keys: error_rate, error_count, throttle_count, conflict_count,
// latency, fail_import.
func ParseFault(f *Faults, s string) error {
	op, spec, ok := strings.Cut(s, ":")
	if !ok || op == "" || spec == "" {
		return fmt.Errorf("fault %q: want OP:key=value, e.g. UpdateFirewallDomains:error_rate=0.1", s)
	}
	if f.Ops == nil {
		f.Ops = map[string]OpFault{}
	}
	of := f.Ops[op]
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("fault %q: %q is not key=value", s, kv)
		}
		var err error
		switch k {
		case "error_rate":
			of.ErrorRate, err = strconv.ParseFloat(v, 64)
			if err == nil && (of.ErrorRate < 0 || of.ErrorRate > 1) {
				err = fmt.Errorf("must be between 0 and 1")
			}
		case "error_count":
			of.ErrorCount, err = strconv.Atoi(v)
		case "throttle_count":
			of.ThrottleCount, err = strconv.Atoi(v)
		case "conflict_count":
			of.ConflictCount, err = strconv.Atoi(v)
		case "latency":
			var d time.Duration
			d, err = time.ParseDuration(v)
			of.Latency = Duration(d)
		case "fail_import":
			of.FailImport, err = strconv.ParseBool(v)
		default:
			err = fmt.Errorf("unknown key (want error_rate, error_count, throttle_count, conflict_count, latency or fail_import)")
		}
		if err != nil {
			return fmt.Errorf("fault %q: %s: %v", s, k, err)
		}
	}
	f.Ops[op] = of
	return nil
}

// ParseKey reads "ACCESS_KEY_ID:SECRET[:ACCOUNT]".
func ParseKey(keys map[string]Key, s string) error {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return fmt.Errorf("key %q: want ACCESS_KEY_ID:SECRET[:ACCOUNT]", "<redacted>")
	}
	k := Key{Secret: parts[1]}
	if len(parts) == 3 {
		if len(parts[2]) != 12 || strings.Trim(parts[2], "0123456789") != "" {
			return fmt.Errorf("key %s: the account must be 12 digits", parts[0])
		}
		k.Account = parts[2]
	}
	keys[parts[0]] = k
	return nil
}
