package emulator

import (
	"cmp"
	"slices"
)

// sortedByCreation returns map values in a stable order for listing.
func sortedByCreation[T any](m map[string]T, key func(T) (string, string)) []T {
	out := make([]T, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b T) int {
		a1, a2 := key(a)
		b1, b2 := key(b)
		if c := cmp.Compare(a1, b1); c != 0 {
			return c
		}
		return cmp.Compare(a2, b2)
	})
	return out
}

func sortTags(t []tag) { slices.SortFunc(t, func(a, b tag) int { return cmp.Compare(a.Key, b.Key) }) }

// omitEmpty turns "" into nil; the response writer drops nil members, as
// the service omits absent ones.
func omitEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nonNil makes an empty result a JSON [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
