package compile

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// randomNames makes n names that share long suffixes and prefixes, with
// duplicates, dots next to the 8-byte boundaries of the keys and, when raw
// is set, bytes that compare like a dot (0) or above it.
func randomNames(rng *rand.Rand, n int, raw bool) []string {
	suffixes := []string{"", "com", "example.com", "a-very-long-shared-suffix.example.org", strings.Repeat("x.", 20) + "net"}
	parts := []string{"a", "b", "ab", "0", "-", "abcdefgh", "abcdefg", "abcdefghi", "www"}
	if raw {
		parts = append(parts, "\x00", "a\x00b", "\xff", ".")
	}
	names := make([]string, n)
	for i := range names {
		var labels []string
		for range rng.IntN(4) {
			labels = append(labels, parts[rng.IntN(len(parts))])
		}
		if s := suffixes[rng.IntN(len(suffixes))]; s != "" {
			labels = append(labels, s)
		}
		names[i] = strings.Join(labels, ".")
	}
	return names
}

func TestSortTrigsAgreesWithComparisonSort(t *testing.T) {
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 5))
		var arena nameArena
		var list trigList
		n := []int{0, 1, 47, 48, 49, 500, 5000}[seed%7]
		for _, name := range randomNames(rng, n, seed%2 == 1) {
			off, _ := arena.add(name)
			list.add(trig{off: off, nlen: uint8(len(name)), line: uint32(rng.IntN(5)), src: uint8(rng.IntN(3)), wild: rng.IntN(2) == 0})
		}
		v := arena.view()
		got := sortTrigs(list.n, list.at, v)
		want := make([]trig, list.n)
		for i := range want {
			want[i] = list.at(i)
		}
		cmp := func(a, b trig) int { return compareTrigs(a, b, v) }
		slices.SortStableFunc(want, cmp)
		if len(got) != len(want) {
			t.Fatalf("seed %d: %d records, want %d", seed, len(got), len(want))
		}
		for i := range got {
			// Equal under compareTrigs may differ in order ("a.b" and
			// "a\x00b"), never in what the comparator sees.
			if cmp(got[i], want[i]) != 0 {
				t.Fatalf("seed %d: record %d is %q (src %d line %d), want %q", seed, i, got[i].name(v), got[i].src, got[i].line, want[i].name(v))
			}
		}
	}
}

func TestSortDomainsAgreesWithComparisonSort(t *testing.T) {
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 6))
		n := []int{0, 1, 30, 200, 3000}[seed%5]
		domains := randomNames(rng, n, seed%2 == 1)
		for i := range domains {
			if rng.IntN(3) == 0 {
				domains[i] = "*." + domains[i]
			}
		}
		origins := make([]Origin, len(domains))
		for i := range origins {
			origins[i] = Origin{Source: i}
		}
		before := slices.Clone(domains)
		sortDomains(domains, origins)
		if !slices.IsSorted(domains) {
			t.Fatalf("seed %d: not sorted: %q", seed, domains)
		}
		for i, o := range origins {
			if before[o.Source] != domains[i] {
				t.Fatalf("seed %d: domain %q carries the origin of %q", seed, domains[i], before[o.Source])
			}
		}
		slices.Sort(before)
		if !slices.Equal(before, domains) {
			t.Fatalf("seed %d: not a permutation", seed)
		}
	}
}

func TestRadixPairsIsAStableSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{1, 2, 100, 10000} {
		keys := make([]uint64, n)
		for i := range keys {
			// Few distinct values, spread over all eight bytes or one.
			keys[i] = uint64(rng.IntN(7)) << (8 * uint(rng.IntN(8)))
		}
		idx := make([]int32, n)
		for i := range idx {
			idx[i] = int32(i)
		}
		want := slices.Clone(idx)
		orig := slices.Clone(keys)
		slices.SortStableFunc(want, func(a, b int32) int {
			switch {
			case orig[a] < orig[b]:
				return -1
			case orig[a] > orig[b]:
				return 1
			}
			return 0
		})
		radixPairs(keys, idx, make([]uint64, n), make([]int32, n))
		if !slices.Equal(idx, want) {
			t.Fatalf("n=%d: order differs from a stable sort", n)
		}
		for i, x := range idx {
			if keys[i] != orig[x] {
				t.Fatalf("n=%d: keys did not move with their items", n)
			}
		}
	}
}

func TestNameKeyFastPathMatchesBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, name := range randomNames(rng, 2000, true) {
		for d := 0; d <= len(name); d++ {
			var want uint64
			for i := range 8 {
				want <<= 8
				if p := len(name) - 1 - d - i; p >= 0 && name[p] != '.' {
					want |= uint64(name[p])
				}
			}
			if got := nameKey(name, d); got != want {
				t.Fatalf("nameKey(%q, %d) = %x, want %x", name, d, got, want)
			}
		}
	}
}
