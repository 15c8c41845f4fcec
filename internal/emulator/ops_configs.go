package emulator

// Firewall configs of VPCs (fail open).

import (
	"strings"
)

type configOut struct {
	ID               string `json:"Id"`
	ResourceID       string `json:"ResourceId"`
	OwnerID          string `json:"OwnerId"`
	FirewallFailOpen string `json:"FirewallFailOpen"`
}

func (e *Emulator) config(a *account, vpc string) *firewallConfig {
	c, ok := a.Configs[vpc]
	if !ok {
		c = &firewallConfig{ID: newID("rslvr-fc-"), VPCID: vpc, FailOpen: "DISABLED"}
		a.Configs[vpc] = c
	}
	return c
}

func configView(a *account, c *firewallConfig) configOut {
	return configOut{ID: c.ID, ResourceID: c.VPCID, OwnerID: a.ID, FirewallFailOpen: c.FailOpen}
}

func (e *Emulator) getFirewallConfig(a *account, in struct {
	ResourceID string `json:"ResourceId"`
}) (any, *apiError) {
	if !strings.HasPrefix(in.ResourceID, "vpc-") {
		return nil, notFound("VPC", in.ResourceID)
	}
	return map[string]any{"FirewallConfig": configView(a, e.config(a, in.ResourceID))}, nil
}

func (e *Emulator) updateFirewallConfig(a *account, in struct {
	ResourceID       string `json:"ResourceId"`
	FirewallFailOpen string
}) (any, *apiError) {
	if !strings.HasPrefix(in.ResourceID, "vpc-") {
		return nil, notFound("VPC", in.ResourceID)
	}
	c := e.config(a, in.ResourceID)
	c.FailOpen = in.FirewallFailOpen
	return map[string]any{"FirewallConfig": configView(a, c)}, nil
}

func (e *Emulator) listFirewallConfigs(a *account, in struct {
	MaxResults int
	NextToken  string
}) (any, *apiError) {
	e.config(a, e.vpc) // the emulated VPC always has one
	var all []configOut
	for _, c := range sortedByCreation(a.Configs, func(c *firewallConfig) (string, string) { return c.VPCID, c.ID }) {
		all = append(all, configView(a, c))
	}
	items, next, err := page(all, in.NextToken, in.MaxResults, 10)
	if err != nil {
		return nil, err
	}
	return map[string]any{"FirewallConfigs": items, "NextToken": omitEmpty(next)}, nil
}
