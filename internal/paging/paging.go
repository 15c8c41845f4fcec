// Package paging reads every page of a paged AWS List* call, so callers
// write what one page is and not the loop around it.
package paging

// All calls page with each page's token in turn, nil for the first, and
// collects the items until a page comes back without a next token (nil
// or empty). The first error stops it and is returned as page gave it.
//
// page makes one call: wrap it in whatever paces, counts or retries calls.
func All[T any](page func(token *string) (items []T, next *string, err error)) ([]T, error) {
	var all []T
	var token *string
	for {
		items, next, err := page(token)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next == nil || *next == "" {
			return all, nil
		}
		token = next
	}
}
