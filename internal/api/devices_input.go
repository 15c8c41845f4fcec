package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/policydoc"
	"github.com/rpzfw/rpzfw/internal/secret"
	"github.com/rpzfw/rpzfw/internal/store"
)

// deviceInput is the body of POST and PATCH /api/v1/devices. Every field
// is optional: POST fills defaults, PATCH changes only the fields given (a
// null is the same as leaving the field out; "" clears a text field). The
// read-only fields of DeviceView may be sent back as read and are ignored.
type deviceInput struct {
	Nickname      *string           `json:"nickname"`
	Provider      *string           `json:"provider"`
	Policy        *string           `json:"policy"`
	Note          *string           `json:"note"`
	Region        *string           `json:"region"`
	RuleGroupID   *string           `json:"rule_group_id"`
	EndpointURL   *string           `json:"endpoint_url"`
	PriorityBand  *string           `json:"priority_band"`
	Credentials   *credentialsInput `json:"credentials"`
	MaxPolicySize *int              `json:"max_policy_size"`
	MonitorOnly   *bool             `json:"monitor_only"`
	LogUpload     *logUploadInput   `json:"log_upload"`
	Paused        *bool             `json:"paused"`

	AccountID any `json:"account_id" doc:"read-only, ignored"`
	Status    any `json:"status" doc:"read-only, ignored"`
	CreatedAt any `json:"created_at" doc:"read-only, ignored"`
	UpdatedAt any `json:"updated_at" doc:"read-only, ignored"`
}

// credentialsInput sets a device's credentials. Changing type clears the
// fields of the old type. The secret is kept unless a new one is given.
type credentialsInput struct {
	Type            *string        `json:"type" doc:"access_key, role or ambient (when the server allows it)."`
	AccessKeyID     *string        `json:"access_key_id"`
	SecretAccessKey *secret.String `json:"secret_access_key" doc:"Write-only: stored encrypted, never shown. Required with a new access key ID."`
	RoleARN         *string        `json:"role_arn"`
	ExternalID      *string        `json:"external_id"`
	SecretSet       any            `json:"secret_set" doc:"read-only, ignored"`
}

type logUploadInput struct {
	Enabled     *bool   `json:"enabled"`
	SQSQueueURL *string `json:"sqs_queue_url"`
}

func readDeviceInput(w http.ResponseWriter, r *http.Request) (deviceInput, error) {
	var in deviceInput
	raw, err := readBody(w, r)
	if err != nil {
		return in, err
	}
	return in, decodeJSON(raw, &in)
}

// applyDevice puts in onto d (a new device when create), checks the
// result and that its policy exists, and seals a new secret. d is changed
// only when it all succeeds.
func (s *Server) applyDevice(r *http.Request, d *store.Device, in deviceInput, create bool) error {
	next := *d
	if create {
		// Before the input, so that a value given (even 0 or "") is
		// checked rather than replaced.
		device.Defaults(&next)
	}
	in.apply(&next)
	newSecret, err := in.Credentials.apply(&next, d)
	if err != nil {
		return err
	}
	if newSecret != "" {
		if err := device.ValidateSecretKey(newSecret.Reveal()); err != nil {
			return err
		}
	}
	if err := device.Validate(next, newSecret != "" || len(next.SecretKey) > 0, s.cfg.DeviceRules); err != nil {
		return err
	}
	if _, err := s.cfg.Store.GetPolicy(r.Context(), next.OrgID, next.Policy); errors.Is(err, store.ErrNotFound) {
		return noPolicy(next.Policy)
	} else if err != nil {
		return fmt.Errorf("reading policy %q: %w", next.Policy, err)
	}
	if newSecret != "" {
		sealed, err := s.cfg.Keyring.Seal([]byte(newSecret.Reveal()), store.PurposeDeviceSecret)
		if err != nil {
			return fmt.Errorf("sealing the secret of device %q: %w", next.Nickname, err)
		}
		next.SecretKey = sealed
	}
	if next.CredKind != d.CredKind || next.AccessKeyID != d.AccessKeyID || next.RoleARN != d.RoleARN ||
		next.Region != d.Region || next.EndpointURL != d.EndpointURL {
		// The account is learned again from the new credentials.
		next.AccountID = ""
	}
	*d = next
	return nil
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// apply puts every field but credentials onto d.
func (in deviceInput) apply(d *store.Device) {
	set(&d.Nickname, in.Nickname)
	set(&d.Provider, in.Provider)
	set(&d.Policy, in.Policy)
	set(&d.Note, in.Note)
	set(&d.Region, in.Region)
	set(&d.RuleGroupID, in.RuleGroupID)
	set(&d.EndpointURL, in.EndpointURL)
	set(&d.PriorityBand, in.PriorityBand)
	set(&d.MaxPolicySize, in.MaxPolicySize)
	set(&d.MonitorOnly, in.MonitorOnly)
	set(&d.Paused, in.Paused)
	if in.LogUpload != nil {
		set(&d.LogEnabled, in.LogUpload.Enabled)
		set(&d.LogQueueURL, in.LogUpload.SQSQueueURL)
	}
}

// apply puts c onto d (old is d as stored) and returns a new secret
// access key, if one was given. A field of another credential type than
// the resulting one is refused rather than silently dropped.
func (c *credentialsInput) apply(d *store.Device, old *store.Device) (secret.String, error) {
	if c == nil {
		return "", nil
	}
	if c.Type != nil && *c.Type != d.CredKind {
		d.CredKind = *c.Type
		d.AccessKeyID, d.SecretKey, d.RoleARN, d.ExternalID = "", nil, "", ""
	}
	set(&d.AccessKeyID, c.AccessKeyID)
	set(&d.RoleARN, c.RoleARN)
	set(&d.ExternalID, c.ExternalID)
	var newSecret secret.String
	if c.SecretAccessKey != nil && *c.SecretAccessKey != policydoc.Redacted {
		newSecret = *c.SecretAccessKey
	}
	switch d.CredKind {
	case store.CredAccessKey, store.CredRole, store.CredAmbient:
	default:
		return newSecret, nil // device.Validate names the type's problem
	}
	if d.CredKind != store.CredAccessKey {
		switch {
		case d.AccessKeyID != "":
			return "", credTypeErr("access_key_id", store.CredAccessKey, d.CredKind)
		case newSecret != "":
			return "", credTypeErr("secret_access_key", store.CredAccessKey, d.CredKind)
		}
	}
	if d.CredKind != store.CredRole {
		switch {
		case d.RoleARN != "":
			return "", credTypeErr("role_arn", store.CredRole, d.CredKind)
		case d.ExternalID != "":
			return "", credTypeErr("external_id", store.CredRole, d.CredKind)
		}
	}
	if d.CredKind == store.CredAccessKey && d.AccessKeyID != old.AccessKeyID && len(d.SecretKey) > 0 && newSecret == "" {
		return "", &device.FieldError{Field: "credentials.secret_access_key", Message: "a new access key ID needs its secret access key"}
	}
	return newSecret, nil
}

func credTypeErr(field, wantType, gotType string) error {
	if gotType == "" {
		gotType = "none"
	}
	return &device.FieldError{Field: "credentials." + field, Message: fmt.Sprintf("only with credentials of type %s (these are of type %s)", wantType, gotType)}
}
