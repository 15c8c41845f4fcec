package emulator

// The API's operations live in one file per resource (ops_*.go), each with
// its request and response members, named as in the API model. This file
// holds what they share.

import (
	"encoding/base64"
	"strconv"
)

// page cuts items for a List call; the token is the offset, opaque to
// callers as on AWS.
func page[T any](items []T, token string, maxResults, defaultMax int) ([]T, string, *apiError) {
	start := 0
	if token != "" {
		raw, err := base64.RawURLEncoding.DecodeString(token)
		n, convErr := strconv.Atoi(string(raw))
		if err != nil || convErr != nil || n < 0 || n > len(items) {
			return nil, "", validationErr("Invalid NextToken: %s", token)
		}
		start = n
	}
	if maxResults == 0 {
		maxResults = defaultMax
	}
	end := min(start+maxResults, len(items))
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	return items[start:end], next, nil
}
