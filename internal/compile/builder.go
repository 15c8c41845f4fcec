package compile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rpzfw/rpzfw/internal/rpz"
)

// trig is one policy record kept for compiling, packed small: a feed of a
// million records is a million of these.
type trig struct {
	name string // query space, "" is the root
	line uint32
	out  Outcome
	src  uint8
	wild bool
}

// Builder collects the records of a policy's sources, in any order of
// arrival, and compiles them. The zero value is not usable; use NewBuilder.
type Builder struct {
	sources  []Source
	trigs    []trig
	outcomes outcomeTable
	// removed counts records removed before compiling, by source and reason.
	removed []map[string]int
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
	// Clone: the parser's strings carry the zone origin and more.
	b.trigs = append(b.trigs, trig{name: strings.Clone(r.Name), line: uint32(r.Line), out: out, src: uint8(src), wild: r.Wildcard})
}

// Len is the number of records kept so far.
func (b *Builder) Len() int { return len(b.trigs) }

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
		return int(ca) - int(cb)
	}
	return i - j
}

func compareTrigs(a, b trig) int {
	if c := compareNames(a.name, b.name); c != 0 {
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

// prepare sorts the records, rejects what BIND would refuse to load (a
// CNAME beside other data, two different CNAMEs on one name), folds
// duplicates, and drops records that take no part in the policy.
func (b *Builder) prepare() error {
	slices.SortFunc(b.trigs, compareTrigs)
	out := b.trigs[:0]
	for i := 0; i < len(b.trigs); {
		j := i + 1
		for j < len(b.trigs) && b.trigs[j].name == b.trigs[i].name && b.trigs[j].src == b.trigs[i].src && b.trigs[j].wild == b.trigs[i].wild {
			j++
		}
		first := b.trigs[i]
		for _, t := range b.trigs[i+1 : j] {
			if t.out == first.out {
				continue // the same record twice, or A beside AAAA
			}
			src := b.sources[first.src]
			owner := rpz.Record{Name: first.name, Wildcard: first.wild}.Entry()
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
	clear(b.trigs[len(out):])
	b.trigs = out
	return nil
}
