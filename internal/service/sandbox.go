package service

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"

	"github.com/rpzfw/rpzfw/internal/awsclient"
	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/emulator"
	"github.com/rpzfw/rpzfw/internal/store"
)

const (
	sandboxGroupName = "rpzfw-sandbox"
	sandboxDevice    = "sandbox"
	sandboxPolicy    = "sample"
)

// startSandbox runs the built-in emulator, keeping its state in the data
// directory so the sandbox rule group outlives a restart; and, unless
// turned off, its log path: the local S3 and SQS its query logs go to.
func (s *Service) startSandbox(ctx context.Context) error {
	sc := emulator.ServeConfig{
		Config:  emulator.Config{Settle: s.cfg.SandboxSettle, StatePath: filepath.Join(s.cfg.DataDir, "sandbox", "emulator.json"), Log: s.log.With("part", "sandbox")},
		APIAddr: s.cfg.SandboxAPI, DNSAddr: s.cfg.SandboxDNS,
	}
	if s.cfg.SandboxLogs {
		if err := s.startSandboxAWS(ctx); err != nil {
			return err
		}
		sc.Objects = s.sbx.objects
		sc.Logs = emulator.LogConfig{Bucket: sandboxBucket, Flush: s.cfg.SandboxLogFlush}
		// Stopped after the emulator's last flush, whatever happens next.
		go s.stopSandboxAWS(ctx)
	}
	emu, err := emulator.Serve(ctx, sc)
	if err != nil {
		return fmt.Errorf("starting the sandbox (the built-in DNS Firewall emulator; serve --sandbox=false turns it off): %w", err)
	}
	s.sandbox = emu
	return nil
}

// sandboxRuleGroup finds or creates the sandbox's rule group, associated
// with the emulator's VPC, as a user would in the AWS console.
func (s *Service) sandboxRuleGroup(ctx context.Context) (string, error) {
	opts := awsclient.Options{Region: "us-east-1", Endpoint: s.sandbox.APIURL}
	cfg, err := awsclient.Config(ctx, opts)
	if err != nil {
		return "", err
	}
	api := awsclient.Resolver(cfg, opts)
	list, err := api.ListFirewallRuleGroups(ctx, &r53r.ListFirewallRuleGroupsInput{})
	if err != nil {
		return "", fmt.Errorf("listing the sandbox's rule groups: %w", err)
	}
	for _, g := range list.FirewallRuleGroups {
		if aws.ToString(g.Name) == sandboxGroupName {
			return aws.ToString(g.Id), nil
		}
	}
	g, err := api.CreateFirewallRuleGroup(ctx, &r53r.CreateFirewallRuleGroupInput{CreatorRequestId: aws.String(sandboxGroupName), Name: aws.String(sandboxGroupName)})
	if err != nil {
		return "", fmt.Errorf("creating the sandbox's rule group: %w", err)
	}
	if _, err := api.AssociateFirewallRuleGroup(ctx, &r53r.AssociateFirewallRuleGroupInput{CreatorRequestId: aws.String(sandboxGroupName),
		FirewallRuleGroupId: g.FirewallRuleGroup.Id, VpcId: aws.String(s.sandbox.VPCID()), Priority: aws.Int32(101), Name: aws.String(sandboxGroupName)}); err != nil {
		return "", fmt.Errorf("associating the sandbox's rule group: %w", err)
	}
	return aws.ToString(g.FirewallRuleGroup.Id), nil
}

// ensureSandboxDevice creates the sandbox device on first start, and points
// it at the sandbox's rule group if that had to be made again.
func (s *Service) ensureSandboxDevice(ctx context.Context, org store.Org) error {
	group, err := s.sandboxRuleGroup(ctx)
	if err != nil {
		return err
	}
	d, err := s.store.GetDevice(ctx, org.ID, sandboxDevice)
	switch {
	case errors.Is(err, store.ErrNotFound):
		d = store.Device{OrgID: org.ID, Nickname: sandboxDevice, Policy: sandboxPolicy, Region: device.SandboxRegion, RuleGroupID: group,
			Note: "The built-in emulator: try the API and the portal without an AWS account."}
		s.sandboxDeviceLogs(&d)
		device.Defaults(&d)
		if err := device.Validate(d, false, s.deviceRules()); err != nil {
			return fmt.Errorf("the sandbox device: %w", err)
		}
		if _, err := s.store.CreateDevice(ctx, d); err != nil && !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("creating the sandbox device: %w", err)
		}
		s.log.Info("created the sandbox device", "nickname", sandboxDevice, "policy", sandboxPolicy, "rule_group_id", group)
	case err != nil:
		return fmt.Errorf("reading the sandbox device: %w", err)
	case d.Region == device.SandboxRegion:
		changed := d.RuleGroupID != group
		d.RuleGroupID = group
		if s.sandboxDeviceLogs(&d) || changed {
			if _, err := s.store.UpdateDevice(ctx, d); err != nil {
				return fmt.Errorf("updating the sandbox device: %w", err)
			}
		}
	}
	return nil
}
