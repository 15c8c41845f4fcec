package fsutil

import (
	"fmt"
	"strings"
)

// MaxNameLen bounds a name used as a file or directory name.
const MaxNameLen = 128

// CheckName checks a name that becomes one file or directory name (a
// device, a rule group ID, a policy name), so that it cannot reach outside
// the directory it is joined to: 1-128 letters, digits, '_', '-' or '.',
// starting with a letter or digit, without "..".
func CheckName(name string) error {
	if name == "" {
		return fmt.Errorf("empty: want 1-%d letters, digits, '_', '-' or '.'", MaxNameLen)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("%q is longer than %d characters", name, MaxNameLen)
	}
	if !isAlnum(name[0]) {
		return fmt.Errorf("%q: must start with a letter or digit", name)
	}
	if strings.Contains(name, "..") {
		return fmt.Errorf("%q: must not contain \"..\"", name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isAlnum(c) && c != '_' && c != '-' && c != '.' {
			return fmt.Errorf("%q: %q is not allowed: want letters, digits, '_', '-' or '.'", name, string(rune(c)))
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
