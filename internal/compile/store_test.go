package compile

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/rpzfw/rpzfw/internal/rpz"
)

// Enough records to fill several record chunks and name blocks: every one
// must read back.
func TestStoreAcrossBlocks(t *testing.T) {
	var arena nameArena
	var list trigList
	var want []string
	for i := range 3<<trigChunkBits + 5 {
		name := fmt.Sprintf("name-%d-%s.example", i, "padding-to-cross-name-blocks"[:i%29])
		off, ok := arena.add(name)
		if !ok {
			t.Fatal("arena full")
		}
		list.add(trig{off: off, nlen: uint8(len(name)), line: uint32(i)})
		want = append(want, name)
	}
	if len(arena.blocks) < 2 || len(list.chunks) < 4 {
		t.Fatalf("%d name blocks, %d record chunks: the test does not cross blocks", len(arena.blocks), len(list.chunks))
	}
	v := arena.view()
	for i, name := range want {
		if tr := list.at(i); tr.name(v) != name || tr.line != uint32(i) {
			t.Fatalf("record %d reads back as %q line %d, want %q", i, tr.name(v), tr.line, name)
		}
	}
}

// Compile may run again, and records may come after it: the result is
// that of one builder given everything at once.
func TestAddAfterCompile(t *testing.T) {
	recs := benchRecords(70000)
	whole, parts := NewBuilder(), NewBuilder()
	for _, b := range []*Builder{whole, parts} {
		if _, err := b.AddSource(Source{Name: "feed", Kind: KindZone}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range recs {
		whole.Add(0, r)
	}
	for _, r := range recs[:40000] {
		parts.Add(0, r)
	}
	if _, err := parts.Compile(Settings{}); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[40000:] {
		parts.Add(0, r)
	}
	parts.Add(0, rpz.Record{Name: recs[0].Name, Action: recs[0].Action, Wildcard: recs[0].Wildcard, Line: recs[0].Line}) // a duplicate
	for _, s := range []Settings{{}, {MaxDomains: 1000}, {MaxDomains: 1 << 20}} {
		want, err := whole.Compile(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parts.Compile(s)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("settings %+v: plans differ", s)
		}
	}
}
