package fwsync

import (
	"errors"

	"github.com/aws/aws-sdk-go-v2/service/route53resolver/types"
	"github.com/aws/smithy-go"
)

// Errors a caller may tell apart with errors.Is. Each marks an error whose
// message says what happened and what to do; the mark adds no text. None
// of them goes away by retrying: something must change first (the band,
// the rule group, the quota, the policy, or --allow-shrink). Each comes
// wrapped in a *HardError.
var (
	// ErrForeignRule: a rule rpzfw does not own sits inside its band.
	ErrForeignRule = errors.New("a rule of another owner is in rpzfw's priority band")
	// ErrBand: rpzfw's rules do not fit the band, or sit outside it.
	ErrBand = errors.New("the priority band does not fit")
	// ErrShrink: the plan would remove more than half of what is deployed.
	ErrShrink = errors.New("the plan shrinks the firewall sharply")
	// ErrQuota: the domains quota leaves no room for the plan.
	ErrQuota = errors.New("the domains quota is used up")
	// ErrRuleGroupNotFound: the rule group does not exist in the account
	// and region.
	ErrRuleGroupNotFound = errors.New("the rule group does not exist")
)

// Kind says what a failed sync waits for.
type Kind int

const (
	// Unknown: nothing in the error says; callers choose (the service
	// retries, since a needless retry costs less than a needless wait).
	Unknown Kind = iota
	// Soft errors may pass by themselves (throttling, a server error, a
	// conflict with another writer): retry with backoff.
	Soft
	// Hard errors need a person (permissions, credentials, a missing
	// resource, a quota, a request the service refuses, one of the
	// sentinels above): a retry meets the same error.
	Hard
)

func (k Kind) String() string {
	switch k {
	case Soft:
		return "soft"
	case Hard:
		return "hard"
	}
	return "unknown"
}

// SoftError is an error that may go away by retrying. Its message is
// Err's.
type SoftError struct{ Err error }

func (e *SoftError) Error() string { return e.Err.Error() }
func (e *SoftError) Unwrap() error { return e.Err }

// HardError is an error a retry cannot fix. Its message is Err's; Mark,
// when set, is the sentinel it also matches with errors.Is.
type HardError struct {
	Err  error
	Mark error
}

func (e *HardError) Error() string { return e.Err.Error() }

func (e *HardError) Unwrap() []error {
	if e.Mark == nil {
		return []error{e.Err}
	}
	return []error{e.Err, e.Mark}
}

// mark makes err a hard error that matches sentinel too, keeping its
// message.
func mark(sentinel, err error) error { return &HardError{Err: err, Mark: sentinel} }

// KindOf says whether err is soft or hard: by a *HardError or *SoftError
// in its chain, else by the Route 53 Resolver exception it carries (the
// SDK's typed errors), else by an API error's code where no typed error
// exists (credentials and signing, answered before the service; S3).
func KindOf(err error) Kind {
	if err == nil {
		return Unknown
	}
	var hard *HardError
	if errors.As(err, &hard) {
		return Hard
	}
	var soft *SoftError
	if errors.As(err, &soft) {
		return Soft
	}
	for _, c := range typedKinds {
		if c.is(err) {
			return c.kind
		}
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return Unknown
	}
	if k, ok := codeKinds[ae.ErrorCode()]; ok {
		return k
	}
	if ae.ErrorFault() == smithy.FaultServer {
		return Soft
	}
	return Unknown
}

// Classify wraps err in a *HardError or *SoftError by KindOf, and returns
// it as it is when it is already typed, nil, or of unknown kind.
func Classify(err error) error {
	var hard *HardError
	var soft *SoftError
	if errors.As(err, &hard) || errors.As(err, &soft) {
		return err
	}
	switch KindOf(err) {
	case Hard:
		return &HardError{Err: err}
	case Soft:
		return &SoftError{Err: err}
	}
	return err
}

// isA reports whether err's chain holds an error of type T.
func isA[T error](err error) bool {
	var t T
	return errors.As(err, &t)
}

// typedKinds classifies the service's own exceptions.
var typedKinds = []struct {
	is   func(error) bool
	kind Kind
}{
	{isA[*types.ThrottlingException], Soft},
	{isA[*types.InternalServiceErrorException], Soft},
	{isA[*types.ConflictException], Soft},
	{isA[*types.ResourceUnavailableException], Soft},
	{isA[*types.AccessDeniedException], Hard},
	{isA[*types.ResourceNotFoundException], Hard},
	{isA[*types.LimitExceededException], Hard},
	{isA[*types.ServiceQuotaExceededException], Hard},
	{isA[*types.ValidationException], Hard},
	{isA[*types.InvalidParameterException], Hard},
	{isA[*types.InvalidRequestException], Hard},
}

// codeKinds classifies errors that have no typed exception in the
// service's package: those of signing and credentials (answered before
// the service), of STS, of S3 (the staging bucket), and other services'
// exceptions of the same names as Route 53 Resolver's (Service Quotas,
// the service's other calls).
var codeKinds = map[string]Kind{
	"AccessDeniedException": Hard, "ResourceNotFoundException": Hard, "LimitExceededException": Hard,
	"ValidationException": Hard, "InvalidParameterException": Hard, "InvalidRequestException": Hard,
	"ThrottlingException": Soft, "InternalServiceErrorException": Soft, "ServiceUnavailableException": Soft,
	"UnrecognizedClientException": Hard, "InvalidClientTokenId": Hard, "InvalidSignatureException": Hard,
	"SignatureDoesNotMatch": Hard, "MissingAuthenticationTokenException": Hard, "AccessDenied": Hard,
	"UnauthorizedOperation": Hard, "NoSuchBucket": Hard,
	"Throttling": Soft, "RequestLimitExceeded": Soft, "TooManyRequestsException": Soft, "SlowDown": Soft,
}
