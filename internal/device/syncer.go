package device

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/fwsync"
	"github.com/rpzfw/rpzfw/internal/store"
)

// maxNameLen bounds Name: list names are "rpzfw-NAME-SLOT", and DNS
// Firewall allows 64 characters.
const maxNameLen = 40

// Name is the device's name in what fwsync makes (list names, tags, state):
// "d<ID>-<nickname>", cut to 40 characters. It is unique in the store and
// stable, since devices cannot be renamed. A device that is not stored (ID
// 0, the command line) is named by its nickname, else its rule group.
func Name(d store.Device) string {
	if d.ID == 0 {
		if d.Nickname != "" {
			return d.Nickname
		}
		return d.RuleGroupID
	}
	n := fmt.Sprintf("d%d-%s", d.ID, d.Nickname)
	if len(n) > maxNameLen {
		n = n[:maxNameLen]
	}
	return n
}

// Settings are the compile settings of d: its mode and maximum size;
// everything else takes the defaults.
func Settings(d store.Device) compile.Settings {
	return compile.Settings{MonitorOnly: d.MonitorOnly, MaxDomains: d.MaxPolicySize}
}

// SyncerConfig is what a syncer needs beyond the device and its API.
type SyncerConfig struct {
	// State keeps what fwsync remembers (required).
	State fwsync.StateStore
	// Limiter paces calls (shared by an account and region's devices);
	// nil: RateLimit, or fwsync's default.
	Limiter   fwsync.Limiter
	RateLimit float64
	// Tuner is the settle tuning shared by an account and region's
	// devices (nil: the syncer's own).
	Tuner *fwsync.SettleTuner
	// Staging is an S3 bucket for imports (nil: none).
	Staging fwsync.Staging
	// Quota is the domains quota (required: ServiceQuotas or FixedQuota).
	Quota fwsync.QuotaSource
	// Progress hears each step; nil: Log, with the device's nickname.
	Progress fwsync.Progress
	Log      *slog.Logger
	// DryRun and AllowShrink are fwsync's.
	DryRun, AllowShrink bool
	// PollInitial is fwsync's first wait for a list to settle (0: its
	// default).
	PollInitial time.Duration
}

// NewSyncer makes the syncer of d's rule group.
func NewSyncer(api fwsync.API, d store.Device, c SyncerConfig) (*fwsync.Syncer, error) {
	if c.State == nil {
		return nil, errors.New("a sync state store is required")
	}
	band := fwsync.DefaultBand
	if d.PriorityBand != "" {
		b, err := fwsync.ParseBand(d.PriorityBand)
		if err != nil {
			return nil, mark(ErrConfig, err)
		}
		band = b
	}
	progress := c.Progress
	if progress == nil {
		log := c.Log
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		progress = logProgress{log: log.With("device", d.Nickname)}
	}
	return fwsync.New(api, c.State, c.Staging, c.Quota, fwsync.Config{
		RuleGroupID: d.RuleGroupID, Device: Name(d), Band: band, RateLimit: c.RateLimit, Limiter: c.Limiter, Tuner: c.Tuner,
		DryRun: c.DryRun, AllowShrink: c.AllowShrink, Progress: progress, PollInitial: c.PollInitial,
	})
}

// logProgress logs a sync's steps at debug level (a service syncs many
// devices) and its notes at info.
type logProgress struct{ log *slog.Logger }

func (p logProgress) Step(i, n int, s fwsync.Step) {
	p.log.Debug("sync step", "step", i, "of", n, "phase", s.Phase, "do", s.Describe())
}

func (p logProgress) Note(msg string, args ...any) { p.log.Info(msg, args...) }

// LeaveOldGroup handles a device whose rule group was changed: when c's
// state says rpzfw's lists belong to another rule group, it removes
// rpzfw's rules and lists there (as unsync does) and starts the state
// afresh, so that the next sync builds the new group. It returns the old
// group's ID, or "" when there was nothing to leave. A vanished old group
// is no error: its rules went with it, and the next sync finds the lists
// by their names and tags and deletes them.
func LeaveOldGroup(ctx context.Context, api fwsync.API, d store.Device, c SyncerConfig) (string, error) {
	st, err := c.State.Load(ctx)
	if err != nil {
		return "", fmt.Errorf("reading the sync state: %w", err)
	}
	if st.RuleGroupID == "" || st.RuleGroupID == d.RuleGroupID {
		return "", nil
	}
	old := d
	old.RuleGroupID = st.RuleGroupID
	s, err := NewSyncer(api, old, c)
	if err != nil {
		return "", err
	}
	if _, err := s.Unsync(ctx); err != nil && !errors.Is(err, fwsync.ErrRuleGroupNotFound) {
		return "", fmt.Errorf("removing rpzfw's rules from %s, the device's previous rule group: %w", old.RuleGroupID, err)
	}
	if err := c.State.Save(ctx, &fwsync.State{Lists: map[string]*fwsync.ListRecord{}}); err != nil {
		return "", fmt.Errorf("starting the sync state afresh: %w", err)
	}
	return old.RuleGroupID, nil
}
