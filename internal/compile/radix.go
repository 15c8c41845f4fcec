package compile

import "slices"

// radixSorter sorts item indexes by byte strings, eight bytes at a time:
// an LSD radix sort of 64-bit keys, then the same on each run of equal
// keys with the next eight bytes, and a comparison sort for short runs and
// for runs whose strings are all used up. On a million names it is several
// times faster than a comparison sort, whose every comparison reads two
// names from far apart in memory.
type radixSorter struct {
	// key returns bytes [d, d+8) of item x's string as a big-endian number,
	// zero past the string's end; length is the string's length. A key
	// must never order two items against cmp: a string that ends sorts
	// before every longer string that starts with it, so zero padding
	// keeps that, and bytes that compare as zero (as '.' in names) are
	// told apart by cmp in their run.
	key    func(x int32, d int) uint64
	length func(x int32) int
	cmp    func(a, b int32) int

	keys, tmpKeys []uint64
	tmpIdx        []int32
}

// radixCutoff is the run length below which a comparison sort is faster.
const radixCutoff = 48

// sort sorts idx.
func (s *radixSorter) sort(idx []int32) {
	if len(idx) <= radixCutoff {
		slices.SortFunc(idx, s.cmp)
		return
	}
	s.keys = make([]uint64, len(idx))
	s.tmpKeys = make([]uint64, len(idx))
	s.tmpIdx = make([]int32, len(idx))
	s.sortFrom(idx, 0, len(idx), 0)
	s.keys, s.tmpKeys, s.tmpIdx = nil, nil, nil
}

// sortFrom sorts idx[lo:hi], whose strings agree on their first d bytes.
func (s *radixSorter) sortFrom(idx []int32, lo, hi, d int) {
	keys := s.keys[lo:hi]
	for i, x := range idx[lo:hi] {
		keys[i] = s.key(x, d)
	}
	radixPairs(keys, idx[lo:hi], s.tmpKeys[lo:hi], s.tmpIdx[lo:hi])
	for i := lo; i < hi; {
		j := i + 1
		for j < hi && s.keys[j] == s.keys[i] {
			j++
		}
		if j-i > 1 {
			s.sortRun(idx, i, j, d+8)
		}
		i = j
	}
}

// sortRun sorts idx[lo:hi], a run whose strings agree on their first d
// bytes.
func (s *radixSorter) sortRun(idx []int32, lo, hi, d int) {
	longest := 0
	for _, x := range idx[lo:hi] {
		longest = max(longest, s.length(x))
	}
	if hi-lo <= radixCutoff || longest <= d {
		slices.SortFunc(idx[lo:hi], s.cmp)
		return
	}
	s.sortFrom(idx, lo, hi, d)
}

// radixPairs sorts keys and idx alike by keys, stably, with tk and ti as
// scratch space of the same length. Bytes on which every key agrees take
// no pass.
func radixPairs(keys []uint64, idx []int32, tk []uint64, ti []int32) {
	var counts [8][256]int
	for _, k := range keys {
		for b := range 8 {
			counts[b][byte(k>>(8*b))]++
		}
	}
	srcK, srcI, dstK, dstI := keys, idx, tk, ti
	for b := range 8 {
		c := &counts[b]
		shift := 8 * b
		if c[byte(srcK[0]>>shift)] == len(srcK) {
			continue
		}
		var next [256]int
		sum := 0
		for v, n := range c {
			next[v] = sum
			sum += n
		}
		for i, k := range srcK {
			v := byte(k >> shift)
			dstK[next[v]], dstI[next[v]] = k, srcI[i]
			next[v]++
		}
		srcK, srcI, dstK, dstI = dstK, dstI, srcK, srcI
	}
	if &srcK[0] != &keys[0] {
		copy(keys, srcK)
		copy(idx, srcI)
	}
}
