package compile

import (
	"fmt"
	"strings"

	"github.com/rpzfw/rpzfw/internal/dnsfw"
)

// fillRules adds a rule per layer to p: its domains in lexicographic order,
// with their origins.
func (t *tree) fillRules(p *Plan, lay layering, outcomes *outcomeTable) {
	s := p.Settings
	sizes := make([]int, len(lay.colors))
	for n := range t.nodes {
		if l := lay.exactLayer[n]; l >= 0 {
			sizes[l]++
		}
		if l := lay.wildLayer[n]; l >= 0 {
			sizes[l]++
		}
	}
	p.Rules = make([]dnsfw.Rule, len(lay.colors))
	p.Origins = make([][]Origin, len(lay.colors))
	for i, color := range lay.colors {
		r := outcomes.rule(color, s.MonitorOnly)
		r.Name = fmt.Sprintf("%s-%d-%s", s.Prefix, i+1, ruleSuffix(color))
		r.Priority = s.FirstPriority + i*s.PriorityStep
		r.Domains = make([]string, 0, sizes[i])
		p.Rules[i] = r
		p.Origins[i] = make([]Origin, 0, sizes[i])
		p.DomainCount += sizes[i]
	}
	for n := range t.nodes {
		nd := &t.nodes[n]
		if l := lay.exactLayer[n]; l >= 0 {
			p.Rules[l].Domains = append(p.Rules[l].Domains, t.entry(int32(n), false))
			p.Origins[l] = append(p.Origins[l], t.origin(nd.exactProv))
		}
		if l := lay.wildLayer[n]; l >= 0 {
			p.Rules[l].Domains = append(p.Rules[l].Domains, t.entry(int32(n), true))
			p.Origins[l] = append(p.Origins[l], t.origin(nd.wildProv))
		}
	}
	for i := range p.Rules {
		sortDomains(p.Rules[i].Domains, p.Origins[i])
	}
}

// origin says where the entry decided by record prov came from.
func (t *tree) origin(prov int32) Origin {
	if prov < 0 {
		return Origin{Source: -1}
	}
	tr := t.trigs[prov]
	return Origin{Source: int(tr.src), Line: int(tr.line)}
}

// forwardKey is bytes [d, d+8) of s, for radixSorter.
func forwardKey(s string, d int) uint64 {
	if len(s) >= d+8 {
		s = s[d : d+8]
		return uint64(s[0])<<56 | uint64(s[1])<<48 | uint64(s[2])<<40 | uint64(s[3])<<32 |
			uint64(s[4])<<24 | uint64(s[5])<<16 | uint64(s[6])<<8 | uint64(s[7])
	}
	var k uint64
	for i := d; i < d+8; i++ {
		k <<= 8
		if i < len(s) {
			k |= uint64(s[i])
		}
	}
	return k
}

// sortDomains sorts domains in byte order and origins alike.
func sortDomains(domains []string, origins []Origin) {
	idx := make([]int32, len(domains))
	for i := range idx {
		idx[i] = int32(i)
	}
	rs := radixSorter{
		key:    func(x int32, d int) uint64 { return forwardKey(domains[x], d) },
		length: func(x int32) int { return len(domains[x]) },
		cmp:    func(a, b int32) int { return strings.Compare(domains[a], domains[b]) },
	}
	rs.sort(idx)
	// Apply the permutation in place, one cycle at a time: position j
	// takes the element at idx[j].
	for i := range idx {
		if idx[i] < 0 || int(idx[i]) == i {
			continue
		}
		d, o := domains[i], origins[i]
		for j := i; ; {
			k := int(idx[j])
			idx[j] = -1
			if k == i {
				domains[j], origins[j] = d, o
				break
			}
			domains[j], origins[j] = domains[k], origins[k]
			j = k
		}
	}
}
