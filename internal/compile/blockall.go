package compile

import (
	"errors"
	"fmt"

	"github.com/rpzfw/rpzfw/internal/dnsfw"
)

// BlockAll says which rule blocks every name, and where its "*" came from.
type BlockAll struct {
	Rule string
	// Source names the policy source of the entry; Line is its line.
	Source string
	Line   int
}

// String says it for people.
func (b *BlockAll) String() string {
	return fmt.Sprintf("rule %s blocks every name: its entry \"*\" comes from %s line %d (a list holding \"*\", or \"*.<origin>\" in a zone)", b.Rule, b.Source, b.Line)
}

// ErrBlockAll marks a plan refused because it blocks every name.
var ErrBlockAll = errors.New("the plan blocks every name")

// CheckBlockAll refuses a plan that blocks every name unless allowed is
// set: a list holding just "*" (or "*.origin" in a zone), often a mistake,
// would take every name a VPC resolves offline. Whatever deploys a plan
// calls it; plan and explain only report Plan.BlockAll.
func (p *Plan) CheckBlockAll(allowed bool) error {
	if p.BlockAll == nil || allowed {
		return nil
	}
	return fmt.Errorf("%w: %s; if that is intended, allow it with --allow-block-all or, in a policy file, allow_block_all: true", ErrBlockAll, p.BlockAll)
}

// findBlockAll finds a BLOCK rule holding "*". Domains are sorted and "*"
// sorts before every letter, digit and '-', so only first entries need a
// look.
func (p *Plan) findBlockAll() *BlockAll {
	for i, r := range p.Rules {
		if r.Action != dnsfw.ActionBlock || len(r.Domains) == 0 || r.Domains[0] != "*" {
			continue
		}
		b := &BlockAll{Rule: r.Name, Source: "a carve-out"}
		if o := p.Origins[i][0]; o.Source >= 0 {
			b.Source, b.Line = p.Sources[o.Source], o.Line
		}
		return b
	}
	return nil
}
