package main

import (
	"context"
	"fmt"
	"io"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/dnsfw"
	"github.com/rpzfw/rpzfw/internal/policy"
)

func runExplain(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("explain", "[flags] NAME ZONE...")
	var pf policyFlags
	var prio priorityFlags
	pf.register(fs)
	prio.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	prio.parsed(fs)
	log := quietUnlessAsked(logger(ctx))
	if len(pos) < 1 {
		return fmt.Errorf("%w: give the query NAME to explain, then the zones", errUsage)
	}
	name := dnsfw.NormalizeDomain(pos[0])
	if err := dnsfw.ValidateDomain(name); err != nil && name != "" {
		// Query names may hold characters entries cannot (an underscore);
		// only reject what is not a name at all.
		if len(name) > 253 {
			return fmt.Errorf("%w: %q is not a query name: %v", errUsage, pos[0], err)
		}
	}
	s, pol, err := pf.resolve(pos[1:])
	if err != nil {
		return err
	}
	opener, err := pf.opener(ctx, pol, log)
	if err != nil {
		return err
	}
	b, ref := compile.NewBuilder(), compile.NewReference()
	if err := pol.LoadWith(ctx, policy.Tee(b, ref), opener, log); err != nil {
		return err
	}
	p, err := b.Compile(s)
	if err != nil {
		return err
	}
	if _, err := prio.number(p); err != nil {
		return err
	}
	return compile.Explain(ref, p, name).Write(stdout, p.Sources)
}
