package device

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"

	"github.com/rpzfw/rpzfw/internal/fwsync"
	"github.com/rpzfw/rpzfw/internal/store"
)

// Defaults and bounds of device settings.
const (
	DefaultMaxPolicySize = 100_000
	// MaxPolicySizeLimit is far above any quota AWS grants; it only stops
	// a typo from asking for an absurd plan.
	MaxPolicySizeLimit = 10_000_000
	MaxNoteLen         = 1024
	// ProviderAWS is the only provider today: Route 53 Resolver DNS
	// Firewall.
	ProviderAWS = "aws-dns-firewall"
	// SandboxRegion is the built-in emulator's region in the embedded
	// default.
	SandboxRegion = "sandbox"
)

var (
	nicknameRe    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	regionRe      = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	ruleGroupRe   = regexp.MustCompile(`^rslvr-frg-[0-9a-z]{1,64}$`)
	accessKeyRe   = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
	roleARNRe     = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$`)
	externalIDRe  = regexp.MustCompile(`^[A-Za-z0-9+=,.@:/_-]+$`)
	queuePathRe   = regexp.MustCompile(`^/[0-9]{12}/[A-Za-z0-9_-]{1,80}(\.fifo)?$`)
	secretKeyChar = regexp.MustCompile(`^[\x21-\x7e]{16,256}$`)
)

// FieldError is a problem with one field of a device; Field is the JSON
// field name the API uses.
type FieldError struct {
	Field, Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Rules are the operator's choices that bound what a device may be.
type Rules struct {
	// AllowAmbient lets devices use the server's own AWS credential chain.
	AllowAmbient bool
	// SandboxEndpoint is the built-in emulator's URL (empty: no sandbox).
	SandboxEndpoint string
}

// Defaults fills the settings a new device may leave out.
func Defaults(d *store.Device) {
	if d.Provider == "" {
		d.Provider = ProviderAWS
	}
	if d.MaxPolicySize == 0 {
		d.MaxPolicySize = DefaultMaxPolicySize
	}
	if d.PriorityBand == "" {
		d.PriorityBand = fwsync.DefaultBand.String()
	}
}

// Validate checks every field of d. secretGiven says whether a secret key
// is set (sealed secrets are not visible here). The first problem is
// returned as a *FieldError.
func Validate(d store.Device, secretGiven bool, r Rules) error {
	if !nicknameRe.MatchString(d.Nickname) {
		return fieldErr("nickname", "%q: want 1-64 letters, digits, '_' or '-'", d.Nickname)
	}
	if d.Provider != ProviderAWS {
		return fieldErr("provider", "%q: the only provider is %s", d.Provider, ProviderAWS)
	}
	if d.Policy == "" {
		return fieldErr("policy", "required: the name of a policy")
	}
	if len(d.Note) > MaxNoteLen {
		return fieldErr("note", "at most %d characters", MaxNoteLen)
	}
	if strings.IndexFunc(d.Note, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) >= 0 {
		return fieldErr("note", "control characters are not allowed")
	}
	if err := validateEndpoint(d, r); err != nil {
		return err
	}
	if !ruleGroupRe.MatchString(d.RuleGroupID) {
		return fieldErr("rule_group_id", "%q: want a DNS Firewall rule group ID (rslvr-frg-...)", d.RuleGroupID)
	}
	if _, err := fwsync.ParseBand(d.PriorityBand); err != nil {
		return fieldErr("priority_band", "%v", err)
	}
	if d.MaxPolicySize < 1 || d.MaxPolicySize > MaxPolicySizeLimit {
		return fieldErr("max_policy_size", "%d: want 1 to %d domains", d.MaxPolicySize, MaxPolicySizeLimit)
	}
	if err := validateCredentials(d, secretGiven, r); err != nil {
		return err
	}
	return validateLogs(d)
}

func validateEndpoint(d store.Device, r Rules) error {
	if d.Region == SandboxRegion {
		if r.SandboxEndpoint == "" {
			return fieldErr("region", "the sandbox region is only there when the server runs its built-in emulator")
		}
		if d.EndpointURL != "" && d.EndpointURL != r.SandboxEndpoint {
			return fieldErr("endpoint_url", "a sandbox device uses the built-in emulator; leave endpoint_url empty")
		}
		return nil
	}
	if !regionRe.MatchString(d.Region) {
		return fieldErr("region", "%q: want an AWS region such as us-east-1", d.Region)
	}
	if d.EndpointURL == "" {
		return nil
	}
	u, err := url.Parse(d.EndpointURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || len(d.EndpointURL) > 512 {
		return fieldErr("endpoint_url", "%q: want an http(s)://host[:port] URL without credentials or query", d.EndpointURL)
	}
	return nil
}

func validateCredentials(d store.Device, secretGiven bool, r Rules) error {
	if d.Region == SandboxRegion && d.CredKind == "" {
		return nil
	}
	switch d.CredKind {
	case store.CredAccessKey:
		if !accessKeyRe.MatchString(d.AccessKeyID) {
			return fieldErr("credentials.access_key_id", "want an AWS access key ID (16-128 capital letters and digits)")
		}
		if !secretGiven {
			return fieldErr("credentials.secret_access_key", "required with an access key ID")
		}
	case store.CredRole:
		if len(d.RoleARN) > 2048 || !roleARNRe.MatchString(d.RoleARN) {
			return fieldErr("credentials.role_arn", "%q: want arn:aws:iam::ACCOUNT:role/NAME", d.RoleARN)
		}
		if d.ExternalID != "" && (len(d.ExternalID) < 2 || len(d.ExternalID) > 1224 || !externalIDRe.MatchString(d.ExternalID)) {
			return fieldErr("credentials.external_id", "want 2-1224 letters, digits or +=,.@:/_-")
		}
	case store.CredAmbient:
		if !r.AllowAmbient {
			return fieldErr("credentials.type", "this server does not lend its own AWS credentials to devices (serve --allow-ambient-credentials)")
		}
	case "":
		return fieldErr("credentials.type", "required: access_key, role or ambient")
	default:
		return fieldErr("credentials.type", "%q: want access_key, role or ambient", d.CredKind)
	}
	return nil
}

// ValidateSecretKey checks a secret access key as given (before sealing).
func ValidateSecretKey(s string) error {
	if !secretKeyChar.MatchString(s) {
		return fieldErr("credentials.secret_access_key", "want 16-256 printable characters without spaces")
	}
	return nil
}

func validateLogs(d store.Device) error {
	if !d.LogEnabled {
		if d.LogQueueURL != "" {
			return validateQueueURL(d.LogQueueURL)
		}
		return nil
	}
	if d.LogQueueURL == "" {
		return fieldErr("log_upload.sqs_queue_url", "required when log upload is enabled")
	}
	return validateQueueURL(d.LogQueueURL)
}

func validateQueueURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || !queuePathRe.MatchString(u.Path) || len(s) > 512 {
		return fieldErr("log_upload.sqs_queue_url", "%q: want an SQS queue URL such as https://sqs.us-east-1.amazonaws.com/111122223333/rpzfw-logs", s)
	}
	return nil
}
