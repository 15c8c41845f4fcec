package service

import (
	"os"
	"path/filepath"
	"testing"
)

// secure_cookies reaches the config from each of its three places.
func TestSecureCookiesSetting(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(file, []byte("secure_cookies: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		set  func(*Config) error
		want bool
		bad  bool
	}{
		{"default", func(*Config) error { return nil }, false, false},
		{"file", func(c *Config) error { return c.LoadFile(file) }, true, false},
		{"environment", func(c *Config) error {
			return c.LoadEnv(func(k string) string {
				if k == "RPZFW_SECURE_COOKIES" {
					return "true"
				}
				return ""
			})
		}, true, false},
		{"flag", func(c *Config) error { return c.Set("secure_cookies", "true") }, true, false},
		{"not a boolean", func(c *Config) error { return c.Set("secure_cookies", "sometimes") }, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			err := tc.set(&c)
			if (err != nil) != tc.bad || c.SecureCookies != tc.want {
				t.Fatalf("SecureCookies %v err %v, want %v (error %v)", c.SecureCookies, err, tc.want, tc.bad)
			}
		})
	}
}
