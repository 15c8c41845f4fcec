package paging

import (
	"errors"
	"slices"
	"strconv"
	"testing"
)

func TestAll(t *testing.T) {
	pages := [][]int{{1, 2}, {3}, {}, {4, 5}}
	var tokens []string
	got, err := All(func(token *string) ([]int, *string, error) {
		i := 0
		if token != nil {
			tokens = append(tokens, *token)
			i, _ = strconv.Atoi(*token)
		}
		var next *string
		if i+1 < len(pages) {
			n := strconv.Itoa(i + 1)
			next = &n
		}
		return pages[i], next, nil
	})
	if err != nil || !slices.Equal(got, []int{1, 2, 3, 4, 5}) || !slices.Equal(tokens, []string{"1", "2", "3"}) {
		t.Fatalf("got %v, %v after tokens %v", got, err, tokens)
	}
	// An empty token ends it too, as none would.
	empty := ""
	calls := 0
	if got, err := All(func(*string) ([]int, *string, error) { calls++; return []int{7}, &empty, nil }); err != nil || calls != 1 || !slices.Equal(got, []int{7}) {
		t.Fatalf("empty next token: %v %v after %d calls", got, err, calls)
	}
	// An error stops it, and nothing is returned.
	boom := errors.New("boom")
	n := "1"
	got, err = All(func(token *string) ([]int, *string, error) {
		if token != nil {
			return nil, nil, boom
		}
		return []int{1}, &n, nil
	})
	if !errors.Is(err, boom) || got != nil {
		t.Fatalf("got %v, %v; want the error and no items", got, err)
	}
}
