package awsclient

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// Error classes of ErrorClass: few and fixed, so they can label metrics.
const (
	ClassThrottled    = "throttled"
	ClassAccessDenied = "access_denied"
	ClassOther        = "other"
)

// ErrorClass sorts a failed attempt: throttled (the SDK's own test, so it
// matches what its retryer backs off on), access denied, or other.
func ErrorClass(err error) string {
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary {
		return ClassThrottled
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && strings.Contains(ae.ErrorCode(), "AccessDenied") {
		return ClassAccessDenied
	}
	return ClassOther
}

// observeAttempts calls f after every attempt of every call, retries
// included: the retryer hides throttles that later succeed, and those are
// what an operator watching the 5 requests/s budget needs to see. It sits
// at the end of the Finalize step, which the retry middleware runs once
// per attempt.
func observeAttempts(f func(ctx context.Context, op string, err error)) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("rpzfwObserveAttempt",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleFinalize(ctx, in)
				f(ctx, awsmiddleware.GetOperationName(ctx), err)
				return out, md, err
			}), middleware.After)
	}
}
