package compile

import "strings"

// The builder's storage grows in blocks, so that reading a million records
// never copies what it already holds: an appended slice grows by a quarter
// at a time and leaves behind four times its final size in garbage. The
// first block grows as a slice does, so small policies stay small.

const (
	nameBlockBits = 20 // names: blocks of 1 MiB
	nameBlockMask = 1<<nameBlockBits - 1
	trigChunkBits = 16 // records: chunks of 65,536
	trigChunkMask = 1<<trigChunkBits - 1
)

// nameArena stores names back to back. A name's offset is its block in the
// top bits and its place in the block in the low nameBlockBits bits.
type nameArena struct {
	blocks []*strings.Builder
}

// add stores s and returns its offset; ok is false when the arena is full
// (4 GiB).
func (a *nameArena) add(s string) (off uint32, ok bool) {
	if n := len(a.blocks); n == 0 || a.blocks[n-1].Len()+len(s) > 1<<nameBlockBits {
		if n == 1<<(32-nameBlockBits) {
			return 0, false
		}
		b := new(strings.Builder)
		if n > 0 {
			b.Grow(1 << nameBlockBits)
		}
		a.blocks = append(a.blocks, b)
	}
	b := a.blocks[len(a.blocks)-1]
	off = uint32(len(a.blocks)-1)<<nameBlockBits | uint32(b.Len())
	b.WriteString(s)
	return off, true
}

// view returns the blocks as strings, for nameAt; a later add does not
// change what a view holds.
func (a *nameArena) view() names {
	v := make(names, len(a.blocks))
	for i, b := range a.blocks {
		v[i] = b.String()
	}
	return v
}

// names is a view of a nameArena.
type names []string

// at returns the name of n bytes at off.
func (v names) at(off uint32, n uint8) string {
	if n == 0 {
		return "" // the root, also in a policy without names
	}
	return v[off>>nameBlockBits][off&nameBlockMask:][:n]
}

// trigList is an append-only list of records in chunks.
type trigList struct {
	chunks [][]trig
	n      int
}

func (l *trigList) add(t trig) {
	if c := len(l.chunks); c == 0 || len(l.chunks[c-1]) == 1<<trigChunkBits {
		var chunk []trig
		if c > 0 {
			chunk = make([]trig, 0, 1<<trigChunkBits)
		}
		l.chunks = append(l.chunks, chunk)
	}
	c := len(l.chunks) - 1
	l.chunks[c] = append(l.chunks[c], t)
	l.n++
}

func (l *trigList) at(i int) trig { return l.chunks[i>>trigChunkBits][i&trigChunkMask] }
