package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/fwsync"
)

// priorityFlags say how plan and explain number the rules: as sync
// deploys them, within --priority-band, unless --first-priority or
// --priority-step ask for numbers of their own.
type priorityFlags struct {
	band     string
	staging  string // sync's --staging-bucket: a first sync fills large rules as fewer lists with one
	explicit bool   // --first-priority or --priority-step was given
}

func (f *priorityFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.band, "priority-band", fwsync.DefaultBand.String(), "`LO-HI` rule priorities sync may use (as sync's flag): rules are shown with the priorities sync gives them there")
	fs.StringVar(&f.staging, "staging-bucket", "", "S3 `bucket` sync will import through, if any (as sync's flag): it changes how many rules a large rule becomes, and so the priorities")
}

// parsed notes which numbering flags were given; call it after parsing.
func (f *priorityFlags) parsed(fs *flag.FlagSet) {
	fs.Visit(func(fl *flag.Flag) {
		if fl.Name == "first-priority" || fl.Name == "priority-step" {
			f.explicit = true
		}
	})
}

// number gives the plan's rules the priorities a first sync deploys them
// with (fwsync.FirstSyncPriorities), unless --first-priority or
// --priority-step were given, and returns a note that says which numbers
// these are. A plan rule deployed as several rules (its domains need
// several lists) shows the first one's priority; the note lists the rest.
func (f *priorityFlags) number(p *compile.Plan) (string, error) {
	if f.explicit {
		return "Priorities: from --first-priority and --priority-step, for deploying the plan by\n" +
			"other means; rpzfw sync does not use them: it numbers rules within --priority-band.\n", nil
	}
	band, err := fwsync.ParseBand(f.band)
	if err != nil {
		return "", fmt.Errorf("%w: %v", errUsage, err)
	}
	prios, err := fwsync.FirstSyncPriorities(p.Rules, band, f.staging != "")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Priorities: as rpzfw sync first deploys these rules, spread over --priority-band %s.\n"+
		"Once they are deployed, sync keeps their priorities and places new rules between\n"+
		"them: 'rpzfw sync --dry-run' shows the numbers it will use.\n", band)
	for i := range p.Rules {
		p.Rules[i].Priority = prios[i][0]
		n := len(prios[i])
		switch {
		case n > 1 && f.staging == "" && len(p.Rules[i].Domains) > fwsync.DefaultFillPart:
			fmt.Fprintf(&b, "%s is large: without --staging-bucket a first sync fills it as %d lists side by side,\nso it deploys it as %d rules with the same action, at priorities %s.\n",
				p.Rules[i].Name, n, n, strings.Trim(fmt.Sprint(prios[i]), "[]"))
		case n > 1:
			fmt.Fprintf(&b, "%s holds more domains than one list may (%d): sync deploys it as %d rules\nwith the same action, at priorities %s.\n",
				p.Rules[i].Name, fwsync.MaxListSize, n, strings.Trim(fmt.Sprint(prios[i]), "[]"))
		}
	}
	return b.String(), nil
}
