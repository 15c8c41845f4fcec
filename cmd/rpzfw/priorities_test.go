package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/dnsfw"
	"github.com/rpzfw/rpzfw/internal/fwsync"
)

// A plan rule too large for one list shows its first part's priority, and
// the note gives every part's.
func TestNumberSplitRule(t *testing.T) {
	big := make([]string, fwsync.MaxListSize+1)
	for i := range big {
		big[i] = fmt.Sprintf("d%07d.example", i)
	}
	nx := "NXDOMAIN"
	p := &compile.Plan{Rules: []dnsfw.Rule{
		{Name: "r-1-allow", Action: "ALLOW", Domains: []string{"ok.example"}},
		{Name: "r-2-nxdomain", Action: "BLOCK", BlockResponse: &nx, Domains: big},
	}}
	f := priorityFlags{band: "1000-9000", staging: "bucket"}
	note, err := f.number(p)
	if err != nil {
		t.Fatal(err)
	}
	if p.Rules[0].Priority != 2999 || p.Rules[1].Priority != 4999 || !strings.Contains(note, "r-2-nxdomain holds more domains than one list may (250000): sync deploys it as 2 rules\nwith the same action, at priorities 4999 6999.") {
		t.Errorf("priorities %d, %d; note:\n%s", p.Rules[0].Priority, p.Rules[1].Priority, note)
	}
	// Without a staging bucket, sync fills the big rule as eight lists.
	f = priorityFlags{band: "1000-9000"}
	if note, err = f.number(p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(note, "without --staging-bucket a first sync fills it as 8 lists side by side") {
		t.Errorf("without a staging bucket, the note:\n%s", note)
	}
}
