package emulator

import "fmt"

// apiError is an error the API returns: its __type, HTTP status and
// message, plus ResourceType for limit and not-found errors.
type apiError struct {
	Status       int
	Type         string
	Message      string
	ResourceType string
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

func validationErr(format string, args ...any) *apiError {
	return &apiError{Status: 400, Type: "ValidationException", Message: fmt.Sprintf(format, args...)}
}

func notFound(resource, id string) *apiError {
	return &apiError{Status: 400, Type: "ResourceNotFoundException", ResourceType: resource,
		Message: fmt.Sprintf("[Trace id: emulator] Can't find the resource with ID '%s'.", id)}
}

func conflict(format string, args ...any) *apiError {
	return &apiError{Status: 400, Type: "ConflictException", Message: fmt.Sprintf(format, args...)}
}

func limitExceeded(resource, format string, args ...any) *apiError {
	return &apiError{Status: 400, Type: "LimitExceededException", ResourceType: resource, Message: fmt.Sprintf(format, args...)}
}

func throttled() *apiError {
	return &apiError{Status: 400, Type: "ThrottlingException", Message: "Rate exceeded"}
}

func internalErr(msg string) *apiError {
	return &apiError{Status: 500, Type: "InternalServiceErrorException", Message: msg}
}
