package main

import (
	"context"
	"fmt"
	"io"

	"github.com/rpzfw/rpzfw/internal/compile"
)

func runPlan(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("plan", "[flags] ZONE...\n\nZONE is FILE (origin from its $ORIGIN) or ORIGIN=FILE; the first zone wins.")
	var pf policyFlags
	var prio priorityFlags
	pf.register(fs)
	prio.register(fs)
	format := fs.String("format", "text", "output `format`: text (a summary for people), json (the full plan), or entries (one line per domain: rule, domain, source, line)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	prio.parsed(fs)
	log := quietUnlessAsked(logger(ctx))
	if *format != "text" && *format != "json" && *format != "entries" {
		return fmt.Errorf("%w: --format must be text, json or entries, not %q", errUsage, *format)
	}
	s, pol, err := pf.resolve(pos)
	if err != nil {
		return err
	}
	opener, err := pf.opener(ctx, pol, log)
	if err != nil {
		return err
	}
	b := compile.NewBuilder()
	if err := pol.LoadWith(ctx, b, opener, log); err != nil {
		return err
	}
	p, err := b.Compile(s)
	if err != nil {
		return err
	}
	note, err := prio.number(p)
	if err != nil {
		return err
	}
	if p.BlockAll != nil {
		log.Warn(p.BlockAll.String() + "; sync refuses it without --allow-block-all")
	}
	switch *format {
	case "json":
		return p.WriteJSON(stdout)
	case "entries":
		return p.WriteEntries(stdout)
	}
	if err := p.WriteSummary(stdout); err != nil {
		return err
	}
	_, err = fmt.Fprint(stdout, "\n"+note)
	return err
}
