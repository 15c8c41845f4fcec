package compile

import (
	"fmt"
	"math"
	"slices"

	"github.com/rpzfw/rpzfw/internal/rpz"
)

// trig is one policy record kept for compiling, packed small and holding
// no pointers: a feed of a million records is a million of these, which
// the garbage collector never needs to look into.
type trig struct {
	off  uint32 // the name, in query space ("" is the root), is names.at(off, nlen)
	line uint32
	out  Outcome
	nlen uint8 // a kept name is a valid domain list entry: at most 255 bytes
	src  uint8
	wild bool
}

// Builder collects the records of a policy's sources, in any order of
// arrival, and compiles them. The zero value is not usable; use NewBuilder.
type Builder struct {
	sources []Source
	// trigs are the records as of the last prepare, sorted; pending are
	// those added since.
	trigs   []trig
	pending trigList
	// arena holds the records' names (a few large allocations instead of
	// one per record); names is its view as of the last prepare.
	arena    nameArena
	names    names
	outcomes outcomeTable
	// removed counts records removed before compiling, by source and reason.
	removed []map[string]int
	err     error
}

// NewBuilder returns an empty builder.
func NewBuilder() *Builder { return &Builder{} }

// AddSource appends a source in precedence order and returns its index for
// Add.
func (b *Builder) AddSource(s Source) (int, error) {
	if len(b.sources) >= MaxSources {
		return 0, fmt.Errorf("policy has more than %d sources", MaxSources)
	}
	if s.Name == "" {
		return 0, fmt.Errorf("source %d has no name", len(b.sources)+1)
	}
	b.sources = append(b.sources, s)
	b.removed = append(b.removed, map[string]int{})
	return len(b.sources) - 1, nil
}

// Sources returns the sources in precedence order.
func (b *Builder) Sources() []Source { return b.sources }

// Add records one policy record of source src. Records DNS Firewall cannot
// express are counted by reason; conflicts are reported by Compile.
func (b *Builder) Add(src int, r rpz.Record) {
	out, reason := b.outcomes.outcomeOf(b.sources[src], r)
	if reason != "" {
		b.removed[src][reason]++
	}
	if out == noEntry {
		return
	}
	off, ok := b.arena.add(r.Name)
	if !ok {
		b.err = fmt.Errorf("the policy's names take more than %d bytes", uint64(math.MaxUint32))
		return
	}
	b.pending.add(trig{off: off, nlen: uint8(len(r.Name)), line: uint32(r.Line), out: out, src: uint8(src), wild: r.Wildcard})
}

// Len is the number of records kept so far.
func (b *Builder) Len() int { return len(b.trigs) + b.pending.n }

// name returns the name of t.
func (t trig) name(v names) string { return v.at(t.off, t.nlen) }

// compareNames orders names so that a name comes right before its whole
// subtree: labels compared from the right, "." below every other byte.
func compareNames(a, b string) int {
	i, j := len(a)-1, len(b)-1
	for ; i >= 0 && j >= 0; i, j = i-1, j-1 {
		ca, cb := a[i], b[j]
		if ca == cb {
			continue
		}
		if ca == '.' {
			ca = 0
		}
		if cb == '.' {
			cb = 0
		}
		if ca != cb {
			return int(ca) - int(cb)
		}
	}
	return i - j
}

// nameKey is bytes [d, d+8) of name in compareNames order (read from the
// right, '.' as zero), for radixSorter.
func nameKey(name string, d int) uint64 {
	if e := len(name) - d; e >= 8 {
		s := name[e-8 : e]
		k := uint64(s[7])<<56 | uint64(s[6])<<48 | uint64(s[5])<<40 | uint64(s[4])<<32 |
			uint64(s[3])<<24 | uint64(s[2])<<16 | uint64(s[1])<<8 | uint64(s[0])
		// Zero the bytes that are '.': t has 0x80 in each byte of v that is
		// zero, and nowhere else.
		const low7 = 0x7f7f7f7f7f7f7f7f
		v := k ^ 0x2e2e2e2e2e2e2e2e
		t := ^((v&low7 + low7) | v | low7)
		return k &^ (t >> 7 * 0xff)
	}
	var k uint64
	for i := len(name) - 1 - d; i > len(name)-9-d; i-- {
		k <<= 8
		if i >= 0 && name[i] != '.' {
			k |= uint64(name[i])
		}
	}
	return k
}

func compareTrigs(a, b trig, names names) int {
	if c := compareNames(a.name(names), b.name(names)); c != 0 {
		return c
	}
	if a.src != b.src {
		return int(a.src) - int(b.src)
	}
	if a.wild != b.wild {
		if a.wild {
			return 1
		}
		return -1
	}
	return int(a.line) - int(b.line)
}

// sortTrigs returns the n records at(0), ..., at(n-1) sorted by
// compareTrigs.
func sortTrigs(n int, at func(int) trig, names names) []trig {
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	rs := radixSorter{
		key:    func(x int32, d int) uint64 { return nameKey(at(int(x)).name(names), d) },
		length: func(x int32) int { return int(at(int(x)).nlen) },
		cmp:    func(a, b int32) int { return compareTrigs(at(int(a)), at(int(b)), names) },
	}
	rs.sort(idx)
	sorted := make([]trig, n)
	for i, x := range idx {
		sorted[i] = at(int(x))
	}
	return sorted
}

// prepare sorts the records, rejects what BIND would refuse to load (a
// CNAME beside other data, two different CNAMEs on one name), folds
// duplicates, and drops records that take no part in the policy.
func (b *Builder) prepare() error {
	if b.err != nil {
		return b.err
	}
	names := b.arena.view()
	b.names = names
	kept := b.trigs
	at := func(i int) trig {
		if i < len(kept) {
			return kept[i]
		}
		return b.pending.at(i - len(kept))
	}
	b.trigs = sortTrigs(len(kept)+b.pending.n, at, names)
	b.pending = trigList{}
	out := b.trigs[:0]
	for i := 0; i < len(b.trigs); {
		first := b.trigs[i]
		name := first.name(names)
		j := i + 1
		for j < len(b.trigs) && b.trigs[j].src == first.src && b.trigs[j].wild == first.wild && b.trigs[j].name(names) == name {
			j++
		}
		for _, t := range b.trigs[i+1 : j] {
			if t.out == first.out {
				continue // the same record twice, or A beside AAAA
			}
			src := b.sources[first.src]
			owner := rpz.Record{Name: name, Wildcard: first.wild}.Entry()
			if src.Kind == KindList {
				continue
			}
			if first.out == removedLocalData || t.out == removedLocalData {
				return fmt.Errorf("%s:%d: %s has a CNAME and other data (also line %d)", src.file(), t.line, owner, first.line)
			}
			return fmt.Errorf("%s:%d: %s has more than one CNAME (also line %d)", src.file(), t.line, owner, first.line)
		}
		if !first.out.removed() {
			out = append(out, first)
		}
		i = j
	}
	b.trigs = slices.Clip(out)
	b.relayNames()
	return nil
}

// relayNames copies the names into a new arena in the records' (sorted)
// order, one copy for records of the same name. Every later pass reads
// names in that order: from the old arena, in order of arrival, each read
// was a cache miss.
func (b *Builder) relayNames() {
	var arena nameArena
	prev := ""
	for i := range b.trigs {
		t := &b.trigs[i]
		name := t.name(b.names)
		if i > 0 && name == prev {
			t.off = b.trigs[i-1].off
			continue
		}
		prev = name
		t.off, _ = arena.add(name) // never more than the old arena held
	}
	b.arena, b.names = arena, arena.view()
}
