package compile

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rpzfw/rpzfw/internal/dnsfw"
	"github.com/rpzfw/rpzfw/internal/rpz"
)

// input is one source for a test: zone text (RPZ) or list text.
type input struct {
	name  string
	kind  Kind
	allow bool
	text  string
}

func zone(text string) input { return input{kind: KindZone, text: text} }

// build compiles the inputs and builds the reference from the same records.
func build(t testing.TB, s Settings, inputs ...input) (*Plan, *Reference) {
	t.Helper()
	p, ref, err := tryBuild(s, inputs...)
	if err != nil {
		t.Fatal(err)
	}
	return p, ref
}

func tryBuild(s Settings, inputs ...input) (*Plan, *Reference, error) {
	b, ref := NewBuilder(), NewReference()
	for i, in := range inputs {
		if in.name == "" {
			in.name = fmt.Sprintf("rpz%d", i+1)
		}
		src := Source{Name: in.name, Kind: in.kind, Allow: in.allow}
		bi, err := b.AddSource(src)
		if err != nil {
			return nil, nil, err
		}
		ri, _ := ref.AddSource(src)
		add := func(r rpz.Record) error { b.Add(bi, r); ref.Add(ri, r); return nil }
		if in.kind == KindList {
			_, err = rpz.ReadList(strings.NewReader(in.text), in.name, add)
		} else {
			_, err = rpz.ReadZone(strings.NewReader(in.text), rpz.ZoneOptions{File: in.name, Origin: in.name}, add)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	p, err := b.Compile(s)
	return p, ref, err
}

// checkAgree fails for every name where the plan and the reference differ.
func checkAgree(t testing.TB, p *Plan, ref *Reference, monitor bool, names []string) {
	t.Helper()
	m := dnsfw.NewMatcher(p.Rules)
	bad := 0
	for _, q := range names {
		want := ref.Decide(q)
		wantView := want.View
		if monitor {
			wantView = want.MonitorView()
		}
		got := m.Match(q)
		if gotView := got.Outcome(true); gotView != wantView {
			bad++
			if bad <= 10 {
				t.Errorf("%s: plan gives %s (entry %q), policy gives %s (%s, source %d line %d)", q, gotView, got.Entry, wantView, want.Describe, want.Source, want.Line)
			}
		}
	}
	if bad > 10 {
		t.Errorf("... %d disagreements in all", bad)
	}
}
