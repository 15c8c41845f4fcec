package device

import "encoding/json"

// Check is one permission preflight tried.
type Check struct {
	// Permission is the IAM action, such as route53resolver:ListFirewallRules.
	Permission string `json:"permission"`
	OK         bool   `json:"ok"`
	// Error says why it failed (access denied, not found, ...).
	Error string `json:"error,omitempty"`
	// For says what needs it: "sync" or "logs".
	For string `json:"for"`
}

// PreflightReport is what "test connection" found.
type PreflightReport struct {
	OK      bool    `json:"ok"`
	Account string  `json:"account,omitempty"`
	Checks  []Check `json:"checks"`
	// Missing lists the permissions that failed.
	Missing []string `json:"missing"`
	// IAMPolicy is the least-privilege policy for this device.
	IAMPolicy json.RawMessage `json:"iam_policy"`
}
