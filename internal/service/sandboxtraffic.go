package service

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/rpzfw/rpzfw/internal/awsclient"
	"github.com/rpzfw/rpzfw/internal/store"
	"github.com/rpzfw/rpzfw/internal/traffic"
)

// Sandbox traffic: a burst of a few queries every few seconds, about one
// in six aimed at names the sandbox's rule group holds, from several
// client addresses, so its reports show hits by feed, rule and client. At
// about 1.5 queries a second it is a trickle, not a load.
const (
	trafficEvery    = 10 * time.Second
	trafficMinBurst = 5
	trafficMaxBurst = 25
	trafficHitShare = 0.15
	// trafficWaitSync is how often the rule group is read until it holds
	// names (the first sync is running).
	trafficWaitSync = time.Second
)

// startSandboxTraffic sends the sandbox's traffic until ctx ends.
func (s *Service) startSandboxTraffic(ctx context.Context, org store.Org) {
	if s.sandbox == nil || !s.cfg.SandboxTraffic {
		return
	}
	go s.sandboxTraffic(ctx, org)
}

// sandboxSynced says whether the sandbox device has been synced: before
// that its lines could not be attributed to it (nor hit anything).
func (s *Service) sandboxSynced(ctx context.Context, org store.Org) bool {
	d, err := s.store.GetDevice(ctx, org.ID, sandboxDevice)
	if err != nil {
		return false
	}
	st, err := s.store.GetStatus(ctx, d.ID)
	return err == nil && st.PlanHash != "" && len(st.VPCs) > 0
}

func (s *Service) sandboxTraffic(ctx context.Context, org store.Org) {
	log := s.log.With("part", "sandbox-traffic")
	opts := localOptions(s.sandbox.APIURL)
	cfg, err := awsclient.Config(ctx, opts)
	if err != nil {
		log.Warn("no sandbox traffic: cannot read the rule group", "err", err)
		return
	}
	api := awsclient.Resolver(cfg, opts)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	wait, sent := time.Duration(0), 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if sent == 0 && !s.sandboxSynced(ctx, org) {
			wait = trafficWaitSync
			continue
		}
		// Read again each time: a policy edit changes what can be hit.
		hits, err := traffic.HitsFromAPI(ctx, api, 500)
		if err != nil || len(hits) == 0 {
			if err != nil && ctx.Err() == nil {
				log.Debug("reading the sandbox's rule group", "err", err)
			}
			wait = trafficWaitSync
			continue
		}
		n, share := trafficMinBurst+rng.IntN(trafficMaxBurst-trafficMinBurst+1), trafficHitShare
		if sent == 0 {
			// The first burst surely hits, so a newcomer's reports fill
			// at the first log object.
			n, share = trafficMaxBurst, 2*trafficHitShare
		}
		res, err := traffic.Run(ctx, traffic.Config{Server: s.sandbox.Data.Addr(), Queries: n, Rate: 50, HitShare: share,
			Hits: hits, Sources: 6, Seed: rng.Uint64()})
		if err != nil && ctx.Err() == nil {
			log.Warn("sending sandbox traffic failed", "err", err)
		}
		if sent == 0 {
			log.Info("sending a trickle of DNS queries through the sandbox, so its reports have hits (serve --sandbox-traffic=false stops it)",
				"first_burst", res.Sent)
		}
		sent += res.Sent
		wait = trafficEvery/2 + time.Duration(rng.Int64N(int64(trafficEvery)))
	}
}
